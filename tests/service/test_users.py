"""Registration, login and the current user, on both databases."""

from datetime import timedelta

import jwt
import pytest

from service import security
from service.config import DEV_JWT_SECRET


async def test_register_returns_public_user_without_password(client):
    response = await client.post(
        "/users", json={"email": "New@Example.com", "password": "long enough"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "new@example.com"
    assert body["is_admin"] is False
    assert "password" not in response.text and "hashed" not in response.text


async def test_duplicate_email_is_409_case_insensitively(client, alice):
    response = await client.post(
        "/users", json={"email": "ALICE@example.com", "password": "another password"}
    )
    assert response.status_code == 409, response.text
    assert response.json() == {"detail": "A user with this email already exists"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": "long enough"}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": "x" * 129}, "password"),
        ({"password": "long enough"}, "email"),
        ({"email": "a@example.com"}, "password"),
        ({"email": "a@example.com", "password": "long enough", "is_admin": True}, "is_admin"),
    ],
)
async def test_invalid_registration_is_422_naming_the_field(client, payload, field):
    response = await client.post("/users", json=payload)
    assert response.status_code == 422, response.text
    locations = [error["loc"][-1] for error in response.json()["detail"]]
    assert field in locations, f"expected an error on {field}, got {locations}"


async def test_login_returns_bearer_token_with_sub_and_exp(client, alice):
    response = await client.post(
        "/auth/token", data={"username": alice.email, "password": alice.password}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    claims = jwt.decode(body["access_token"], DEV_JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == str(alice.id)
    assert claims["exp"] > claims["iat"]


async def test_wrong_password_and_unknown_user_answer_identically(client, alice):
    wrong = await client.post(
        "/auth/token", data={"username": alice.email, "password": "wrong password"}
    )
    unknown = await client.post(
        "/auth/token", data={"username": "nobody@example.com", "password": "wrong password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "Incorrect email or password"}


def test_unknown_user_still_verifies_a_hash(monkeypatch):
    """Timing equality: the unknown-user path does the same Argon2 work as a wrong password."""
    calls = []
    original = security._password_hash.verify
    monkeypatch.setattr(
        security._password_hash,
        "verify",
        lambda password, hashed: calls.append(hashed) or original(password, hashed),
    )
    assert security.verify_password("whatever", None) is False
    assert calls == [security._DUMMY_HASH]


async def test_me_returns_the_caller(client, alice):
    response = await client.get("/users/me", headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["email"] == alice.email


async def test_me_without_token_is_401(client):
    response = await client.get("/users/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_expired_token_is_401(client, alice):
    token = security.create_access_token(
        str(alice.id), secret=DEV_JWT_SECRET, algorithm="HS256", expires_in=timedelta(seconds=-1)
    )
    response = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_forged_token_is_401(client, alice):
    token = security.create_access_token(
        str(alice.id),
        secret="someone-elses-secret-0123456789abcdef",
        algorithm="HS256",
        expires_in=timedelta(minutes=5),
    )
    response = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_unsigned_token_is_401(client, alice):
    token = jwt.encode({"sub": str(alice.id), "exp": 4102444800}, key=None, algorithm="none")
    response = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_token_of_deleted_user_is_401(client, app):
    from service.users.models import User

    handle = await client.post(
        "/users", json={"email": "gone@example.com", "password": "long enough"}
    )
    token = security.create_access_token(
        str(handle.json()["id"]),
        secret=DEV_JWT_SECRET,
        algorithm="HS256",
        expires_in=timedelta(minutes=5),
    )
    async with app.state.sessionmaker() as session:
        await session.delete(await session.get(User, handle.json()["id"]))
        await session.commit()
    response = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_garbage_token_is_401(client):
    response = await client.get("/users/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "subject", [str(2**31), str(2**63), "99999999999999999999", "0", "-1", "1_0", " 7", "٣"]
)
async def test_token_whose_subject_is_no_possible_user_id_is_401(client, subject):
    """int4 ids: a signed `sub` past 2**31 - 1 used to reach the database and answer 500."""
    token = security.create_access_token(
        subject, secret=DEV_JWT_SECRET, algorithm="HS256", expires_in=timedelta(minutes=5)
    )
    for path in ("/users/me", "/items"):
        response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (path, response.status_code, response.text)


# NIST SP 800-63B: the attack run's accepted passwords, the email and its local part, any case.
WEAK_PASSWORDS = [
    "password",
    "12345678",
    "PassWord",
    "  iloveyou  ",
    " " * 8,
    "\x00" * 8,
    "\t\n\r \u00a0\u2003  ",
    "weak.user@example.com",
    "WEAK.USER@EXAMPLE.COM",
    "weak.user",
    "Weak.User",
]


@pytest.mark.parametrize("password", WEAK_PASSWORDS, ids=repr)
async def test_weak_password_is_422_naming_the_password(client, password):
    response = await client.post(
        "/users", json={"email": "weak.user@example.com", "password": password}
    )
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [error["loc"] for error in errors] == [["body", "password"]], errors


async def test_passphrase_that_merely_contains_common_words_is_accepted(client):
    response = await client.post(
        "/users", json={"email": "phrase@example.com", "password": "password is my password"}
    )
    assert response.status_code == 201, response.text


def test_bundled_common_password_list_is_loaded_without_its_comments():
    from service.users.schemas import common_passwords

    passwords = common_passwords()
    assert {"password", "12345678", "iloveyou"} <= passwords
    assert len(passwords) > 10_000
    assert not any(entry.startswith("#") or len(entry) < 8 for entry in passwords)
