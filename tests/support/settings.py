"""The app's settings as tests build them."""

from service.config import Settings


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for tests: nothing is read from the developer's environment by accident."""
    values: dict[str, object] = {"DATABASE_URL": database_url, "REDIS_URL": None}
    # API tests fire many requests from one address; tests/ratelimit enables the limiter itself.
    values["RATE_LIMIT_ENABLED"] = False
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
