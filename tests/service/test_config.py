"""Settings: the dev JWT secret is refused outside local; the database URL is assembled."""

import pytest

from service.config import DEV_JWT_SECRET, ConfigError, Settings


def test_dev_secret_is_accepted_locally():
    assert Settings(ENVIRONMENT="local").jwt_secret.get_secret_value() == DEV_JWT_SECRET


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_dev_secret_is_refused_outside_local(environment):
    with pytest.raises(ConfigError, match="JWT_SECRET") as error:
        Settings(ENVIRONMENT=environment)
    assert environment in str(error.value)


def test_short_secret_is_refused_outside_local():
    with pytest.raises(ConfigError, match="at least 32"):
        Settings(ENVIRONMENT="prod", JWT_SECRET="short")


def test_real_secret_is_accepted_outside_local():
    settings = Settings(ENVIRONMENT="prod", JWT_SECRET="r" * 48)
    assert settings.environment == "prod"


def test_startup_refuses_dev_secret_from_environment(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "staging")
    monkeypatch.delenv("JWT_SECRET", raising=False)
    from service.main import create_app

    with pytest.raises(ConfigError, match="JWT_SECRET"):
        create_app()


def test_database_url_defaults_to_local_sqlite(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DB_HOST", raising=False)
    assert Settings().database_url.render_as_string() == "sqlite+aiosqlite:///./local.db"


def test_database_url_is_assembled_from_db_parts_without_leaking_the_password():
    settings = Settings(
        DB_HOST="db.internal", DB_PORT=5433, DB_NAME="app", DB_USER="svc", DB_PASSWORD="p@ss/w:rd"
    )
    url = settings.database_url
    assert (url.drivername, url.host, url.port, url.database) == (
        "postgresql+asyncpg",
        "db.internal",
        5433,
        "app",
    )
    assert url.password == "p@ss/w:rd"
    assert "p@ss" not in str(url) and "p@ss" not in repr(settings)


def test_explicit_database_url_wins_over_parts():
    settings = Settings(DATABASE_URL="sqlite+aiosqlite:///x.db", DB_HOST="db.internal")
    assert settings.database_url.database == "x.db"


def test_secrets_are_not_in_settings_repr():
    settings = Settings(JWT_SECRET="s" * 40, REDIS_URL="rediss://:tok3n@cache:6379/0")
    assert "sss" not in repr(settings) and "tok3n" not in repr(settings)


def test_forwarded_allow_ips_default_is_uvicorns(monkeypatch):
    """Unset, uvicorn trusts 127.0.0.1 and ::1: the app's own pass must trust the same peers, or
    a request through a local proxy on ::1 is keyed differently under uvicorn and elsewhere."""
    from uvicorn.config import Config

    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    assert Settings().forwarded_allow_ips == Config("service.main:app").forwarded_allow_ips


def test_api_docs_default_on_only_locally():
    assert Settings(ENVIRONMENT="local").docs_enabled is True
    assert Settings(ENVIRONMENT="prod", JWT_SECRET="r" * 48).docs_enabled is False
