from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from service import security
from service.config import Settings
from service.dependencies import SessionDep, state_of
from service.users import service
from service.users.exceptions import InvalidToken
from service.users.models import User

# Ids are int4 (SERIAL) on PostgreSQL: a larger `sub` would fail in the driver (a 500), not match.
MAX_USER_ID = 2**31 - 1


class BearerUserId(OAuth2PasswordBearer):
    """The user id a valid, unexpired bearer token names; no database access. Whoever uses it
    must still refuse a user that is gone or deactivated: get_current_user does, and so do the
    hot reads' statements, which check it in the same round trip (items/queries.py).

    One dependency rather than a function depending on OAuth2PasswordBearer: FastAPI resolves
    each dependency on every request, and this one is on every authenticated request. OpenAPI
    still documents it as the OAuth2 password flow (it is one)."""

    async def __call__(self, request: Request) -> int:  # type: ignore[override]
        token = await super().__call__(request)  # 401 "Not authenticated" when missing
        settings = state_of(request.app).settings
        try:
            subject = security.decode_access_token(
                token or "",
                secret=settings.jwt_secret.get_secret_value(),
                algorithm=settings.jwt_algorithm,
            )
        except security.InvalidTokenError:
            raise InvalidToken from None
        # Only what create_access_token writes: plain ASCII digits ("1_0", " 7" and "٣" are ints to
        # int()), naming an id a row can have.
        if not (subject.isascii() and subject.isdigit()) or not 0 < int(subject) <= MAX_USER_ID:
            raise InvalidToken
        return int(subject)


# The scheme keeps the name clients and generated SDKs already know.
TokenUserId = Annotated[
    int, Depends(BearerUserId(tokenUrl="/auth/token", scheme_name="OAuth2PasswordBearer"))
]


async def get_current_user(user_id: TokenUserId, session: SessionDep) -> User:
    user = await service.get_user(session, user_id=user_id)
    if user is None or not user.is_active:
        raise InvalidToken
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def token_lifetime(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.access_token_expire_minutes)
