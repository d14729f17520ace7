from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.security import OAuth2PasswordRequestForm

from service.dependencies import SessionDep, SettingsDep
from service.errors_http import RATE_LIMIT_ERRORS
from service.ratelimit import limit
from service.users import service
from service.users.dependencies import CurrentUser, token_lifetime
from service.users.login_guard import DEVICE_COOKIE, guard_login, set_device_cookie
from service.users.schemas import Token, UserCreate, UserPublic

router = APIRouter(tags=["users"])


@router.post(
    "/users",
    status_code=201,
    responses={409: {"description": "Email already used"}},
    dependencies=[Depends(limit("users:create"))],
)
async def register(body: UserCreate, session: SessionDep) -> UserPublic:
    user = await service.create_user(session, email=body.email, password=body.password)
    return UserPublic.model_validate(user)


@router.post(
    "/auth/token",
    responses={
        200: {
            "description": "The token, and a fresh device cookie for this username",
            "headers": {
                "Set-Cookie": {
                    "description": f"`{DEVICE_COOKIE}=…; Max-Age=…; Path=/auth/token; HttpOnly; "
                    "SameSite=strict` (and Secure outside local). Send it back with later logins "
                    "as this user: they then count against this device's own budget, so others "
                    "guessing at the username do not lock it out.",
                    "schema": {"type": "string"},
                }
            },
        },
        401: {"description": "Incorrect email or password"},
        429: {
            **RATE_LIMIT_ERRORS["429"],
            "description": "Too many attempts: from this address, for this username from "
            "clients without its device cookie, or from this device",
        },
    },
    # Per address; then per device for a client with this user's device cookie, else per
    # username whatever the address (brute force spread over many IPs): users/login_guard.py.
    dependencies=[Depends(limit("auth:token")), Depends(guard_login)],
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> Token:
    user = await service.authenticate(session, email=form.username, password=form.password)
    set_device_cookie(response, settings, username=form.username)
    lifetime = token_lifetime(settings)
    token = service.issue_token(
        user,
        secret=settings.jwt_secret.get_secret_value(),
        algorithm=settings.jwt_algorithm,
        expires_in=lifetime,
    )
    return Token(access_token=token, expires_in=int(lifetime.total_seconds()))


@router.get(
    "/users/me",
    responses={401: {"description": "Missing or invalid token"}},
    dependencies=[Depends(limit("users:read"))],
)
async def read_me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)
