"""The RDS-managed password rotates: the service re-reads it after PostgreSQL rejects the old one.

A private cluster with scram-sha-256 authentication stands in for RDS (the shared server trusts
every connection, so it could not reject a stale password); a dict stands in for Secrets Manager.
"""

import json

import boto3
import pytest
from botocore.stub import Stubber
from sqlalchemy import Integer, literal, select, text

from service import db as db_module
from service.config import Settings
from service.db import create_engine
from service.db_credentials import RotatingPassword, secrets_manager_fetcher
from service.db_reads import Reader
from tests.support.sql import run_sql
from tests.support.throwaway_postgres import ThrowawayPostgres

SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0123-abcdef"


@pytest.fixture(scope="module")
def password_cluster():
    with ThrowawayPostgres(auth="scram-sha-256") as cluster:
        yield cluster


async def _admin_execute(cluster: ThrowawayPostgres, statement: str) -> None:
    await run_sql(cluster.admin_url, statement, autocommit=True)


async def _select_one_orm_path(engine) -> int:
    async with engine.connect() as connection:
        return (await connection.execute(text("SELECT 1"))).scalar_one()


async def _select_one_reader_path(engine) -> int:
    reader = Reader(engine, size=1, wait_seconds=1, recycle_seconds=60)
    try:
        row = await reader.one(select(literal(1, Integer).label("one")))
    finally:
        await reader.aclose()
    assert row is not None
    return row["one"]


# Both ways the service opens connections: sessions (engine.connect) and service/db_reads.py.
# One role each: the test rotates its password.
@pytest.mark.parametrize(
    ("role", "_select_one"),
    [("app_engine", _select_one_orm_path), ("app_reader", _select_one_reader_path)],
)
async def test_new_connections_use_the_rotated_password(
    password_cluster, monkeypatch, role, _select_one
):
    secret_store = {"password": "password-before-rotation"}
    await _admin_execute(
        password_cluster, f"CREATE ROLE {role} LOGIN PASSWORD 'password-before-rotation'"
    )

    async def fetch_from_store() -> str:
        return secret_store["password"]

    monkeypatch.setattr(db_module, "secrets_manager_fetcher", lambda arn: fetch_from_store)
    settings = Settings(
        DB_HOST="127.0.0.1",
        DB_PORT=password_cluster.port,
        DB_NAME="postgres",
        DB_USER=role,
        DB_PASSWORD="password-before-rotation",
        DB_PASSWORD_SECRET_ARN=SECRET_ARN,
    )
    engine = create_engine(settings)
    try:
        assert await _select_one(engine) == 1
        await _admin_execute(
            password_cluster, f"ALTER ROLE {role} PASSWORD 'password-after-rotation'"
        )
        secret_store["password"] = "password-after-rotation"
        await engine.dispose()  # drop pooled connections: the next one must authenticate anew

        with pytest.raises(Exception) as refused:
            await _select_one(engine)
        assert "password authentication failed" in repr(refused.value.__cause__ or refused.value)
        assert await _select_one(engine) == 1, "the re-read password should be accepted"
    finally:
        await engine.dispose()


async def test_rotating_password_serves_initial_value_without_fetching():
    calls = []

    async def fetch() -> str:
        calls.append(1)
        return "fetched"

    password = RotatingPassword(fetch, initial="from-ecs-secret")
    assert await password() == "from-ecs-secret"
    assert calls == []
    password.invalidate()
    assert await password() == "fetched"
    assert calls == [1]


async def test_rotating_password_does_not_refetch_in_a_tight_loop():
    calls = []

    async def fetch() -> str:
        calls.append(1)
        return "still-wrong"

    password = RotatingPassword(fetch, min_refresh_interval=60)
    await password()
    for _ in range(10):
        password.invalidate()
        await password()
    assert len(calls) == 1


async def test_secrets_manager_fetcher_reads_the_password_key(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    stubber = Stubber(client)
    stubber.add_response(
        "get_secret_value",
        {"SecretString": json.dumps({"username": "app", "password": "s3cret"})},
        {"SecretId": SECRET_ARN},
    )
    monkeypatch.setattr(boto3, "client", lambda *args, **kwargs: client)
    with stubber:
        fetch = secrets_manager_fetcher(SECRET_ARN)
        assert await fetch() == "s3cret"
