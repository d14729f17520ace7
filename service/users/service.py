"""User accounts and authentication. Functions take a session and plain arguments."""

import asyncio
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service import security
from service.users.exceptions import EmailAlreadyRegistered, IncorrectPassword, UserNotFound
from service.users.models import User


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def create_user(
    session: AsyncSession, *, email: str, password: str, is_admin: bool = False
) -> User:
    # Argon2 is deliberately slow (~0.1-0.3 s of CPU): off the event loop, so other requests
    # (and the rate limiter's Redis deadline) are not stalled behind it.
    hashed_password = await asyncio.to_thread(security.hash_password, password)
    user = User(email=normalise_email(email), hashed_password=hashed_password, is_admin=is_admin)
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise EmailAlreadyRegistered from exc
    return user


async def get_user(session: AsyncSession, *, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_email(session: AsyncSession, *, email: str) -> User | None:
    if "\x00" in email:  # no stored email holds NUL, and PostgreSQL refuses it in a query
        return None
    result = await session.execute(select(User).where(User.email == normalise_email(email)))
    return result.scalar_one_or_none()


async def set_admin(session: AsyncSession, *, email: str, is_admin: bool) -> User:
    user = await _existing(session, email=email)
    user.is_admin = is_admin
    await session.commit()
    return user


async def deactivate(session: AsyncSession, *, email: str) -> User:
    """From now on the user's tokens are refused (every authenticated path checks is_active) and
    logins fail."""
    user = await _existing(session, email=email)
    user.is_active = False
    await session.commit()
    return user


async def _existing(session: AsyncSession, *, email: str) -> User:
    user = await get_user_by_email(session, email=email)
    if user is None:
        raise UserNotFound(normalise_email(email))
    return user


async def authenticate(session: AsyncSession, *, email: str, password: str) -> User:
    """Same error and same work (one hash verification) for unknown email and wrong password."""
    user = await get_user_by_email(session, email=email)
    valid = await asyncio.to_thread(
        security.verify_password, password, user.hashed_password if user else None
    )
    if user is None or not valid or not user.is_active:
        raise IncorrectPassword
    return user


def issue_token(user: User, *, secret: str, algorithm: str, expires_in: timedelta) -> str:
    return security.create_access_token(
        str(user.id), secret=secret, algorithm=algorithm, expires_in=expires_in
    )
