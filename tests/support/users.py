"""Users as tests see them: registered through the API and logged in, with their bearer headers."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx


@dataclass
class UserHandle:
    id: int
    email: str
    password: str
    headers: dict[str, str]


UserFactory = Callable[..., Awaitable[UserHandle]]


async def register_and_login(
    http: httpx.AsyncClient, email: str, password: str = "correct horse battery"
) -> UserHandle:
    created = await http.post("/users", json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    token = await http.post("/auth/token", data={"username": email, "password": password})
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return UserHandle(created.json()["id"], email, password, headers)
