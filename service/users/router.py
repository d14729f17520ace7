from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from service.db import SessionDep
from service.ratelimit import limit, limit_login_username
from service.users import service
from service.users.dependencies import CurrentUser, SettingsDep, token_lifetime
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
    responses={401: {"description": "Incorrect email or password"}},
    # Per address, and per username whatever the address (brute force spread over many IPs).
    dependencies=[
        Depends(limit("auth:token")),
        Depends(limit_login_username("auth:token:username")),
    ],
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    user = await service.authenticate(session, email=form.username, password=form.password)
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
