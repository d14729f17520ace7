"""`python -m service.admin`, run as a subprocess against both databases, as an operator would."""

import os
import subprocess
import sys

import pytest

PASSWORD = "correct horse battery"


def admin(
    database_url: str, *args: str, password: str | None = None
) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    env |= {"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "service.admin", *args],
        input=None if password is None else password + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


async def login(client, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return await client.post("/auth/token", data={"username": email, "password": password})


async def test_create_user_reads_the_password_from_stdin_and_can_make_an_admin(
    client, database_url
):
    created = admin(
        database_url, "create-user", "--email", "Root@Example.com", "--admin", password=PASSWORD
    )
    assert created.returncode == 0, created.stderr
    assert "root@example.com (admin)" in created.stdout
    assert PASSWORD not in created.stdout + created.stderr
    token = await login(client, "root@example.com")
    assert token.status_code == 200, token.text
    me = await client.get(
        "/users/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert me.json()["is_admin"] is True


async def test_an_existing_email_or_a_short_password_is_refused(client, database_url):
    assert (
        admin(database_url, "create-user", "--email", "a@example.com", password=PASSWORD).returncode
        == 0
    )
    again = admin(database_url, "create-user", "--email", "a@example.com", password=PASSWORD)
    assert again.returncode == 1 and "already exists" in again.stderr
    short = admin(database_url, "create-user", "--email", "b@example.com", password="short")
    assert short.returncode == 1 and "password" in short.stderr


def test_a_password_on_the_command_line_is_a_usage_error(database_url):
    refused = admin(database_url, "create-user", "--email", "c@example.com", "--password", "x" * 12)
    assert refused.returncode == 2
    assert "unrecognized arguments" in refused.stderr


async def test_set_admin_and_revoke(client, user_factory, database_url):
    user = await user_factory("d@example.com")
    granted = admin(database_url, "set-admin", "--email", user.email)
    assert granted.returncode == 0 and "(admin)" in granted.stdout
    assert (await client.get("/users/me", headers=user.headers)).json()["is_admin"] is True
    revoked = admin(database_url, "set-admin", "--email", user.email, "--revoke")
    assert revoked.returncode == 0
    assert (await client.get("/users/me", headers=user.headers)).json()["is_admin"] is False


async def test_deactivate_refuses_the_users_tokens_and_logins(client, user_factory, database_url):
    user = await user_factory("e@example.com")
    done = admin(database_url, "deactivate", "--email", user.email)
    assert done.returncode == 0 and "(inactive)" in done.stdout
    assert (await client.get("/items", headers=user.headers)).status_code == 401
    assert (await login(client, user.email, user.password)).status_code == 401


@pytest.mark.parametrize("command", ["set-admin", "deactivate"])
def test_an_unknown_email_is_refused(database_url, command):
    missing = admin(database_url, command, "--email", "nobody@example.com")
    assert missing.returncode == 1 and "No user with email nobody@example.com" in missing.stderr


def test_a_common_password_or_the_email_is_refused(database_url):
    for password in ("12345678", "operator@example.com", "operator"):
        refused = admin(
            database_url, "create-user", "--email", "operator@example.com", password=password
        )
        assert refused.returncode == 1, (password, refused.stdout, refused.stderr)
        assert "refused: password" in refused.stderr, refused.stderr
