"""Runtime settings, read from the environment (no prefix) by pydantic-settings."""

import ipaddress
import re
from functools import cached_property
from typing import Annotated, Literal

from limits import parse as parse_rate_limit
from pydantic import AfterValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

# Only ever valid on a developer's machine: create_app refuses it anywhere else.
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"  # noqa: S105
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./local.db"


def _valid_rate_limit(value: str) -> str:
    try:
        parse_rate_limit(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a rate limit; write e.g. '1/second', '5/minute', '20 per hour'"
        ) from None
    return value


# A `limits` rate string: "<amount>/<second|minute|hour|day>" or "<amount> per <n> <unit>".
RateLimitSpec = Annotated[str, AfterValidator(_valid_rate_limit)]

# CloudWatch namespace rules (its concepts guide; length and the leading ':' from the API model):
# 1-255 of A-Z a-z 0-9 . - _ / # : and space, not blank; `AWS/` is reserved for AWS services.
_NAMESPACE = re.compile(r"[0-9A-Za-z._/#: -]{1,255}")


def _valid_metrics_namespace(value: str) -> str:
    if not _NAMESPACE.fullmatch(value) or not value.strip() or value.startswith(":"):
        raise ValueError(
            f"{value!r} is not a CloudWatch namespace: 1-255 characters of letters, digits and "
            ". - _ / # : or space, not starting with ':' (e.g. 'service/prod')"
        )
    if value.startswith("AWS/"):
        raise ValueError(f"{value!r}: namespaces starting with 'AWS/' are reserved for AWS")
    return value


MetricsNamespace = Annotated[str, AfterValidator(_valid_metrics_namespace)]


class ConfigError(Exception):
    """A setting is missing or unsafe; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    environment: str = "local"

    # Either DATABASE_URL, or DB_HOST/DB_PORT/DB_NAME + DB_USER/DB_PASSWORD (how ECS passes them).
    database_url_override: str | None = Field(default=None, alias="DATABASE_URL")
    db_host: str | None = None
    db_port: int = 5432
    db_name: str = "app"
    db_user: str | None = None
    db_password: SecretStr | None = None
    # ARN of the RDS-managed master secret: the password is re-read from it after a rotation.
    db_password_secret_arn: str | None = None
    # TLS to PostgreSQL. verify-full: the server's certificate must chain to DB_SSL_ROOT_CERT (the
    # RDS CA bundle in the image) and name DB_HOST; the only mode accepted outside local.
    # require/prefer encrypt without verifying anything: local experiments only.
    db_ssl: Literal["disable", "prefer", "require", "verify-ca", "verify-full"] | None = None
    # CA bundle (PEM) for verify-ca/verify-full; unset: the system trust store.
    db_ssl_root_cert: str | None = None
    # A fixed pool: under steady load an overflow connection is closed as soon as a burst
    # returns it, then reopened (a TLS handshake) by the next; measured, that churn cost more
    # than the queries (bench/README.md). Ten connections per process outlast what one process
    # can serve; a request waits DB_POOL_TIMEOUT at most for one.
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    # The hot reads' own connections (service/db_reads.py), besides the pool above.
    db_read_pool_size: int = Field(default=5, ge=1)
    db_pool_timeout: float = Field(default=5.0, gt=0)
    # A ping before every checkout costs three round trips per request (BEGIN; ;ROLLBACK); off,
    # a dead connection is found on use instead: reads retry once on a fresh connection
    # (service/db_reads.py), a write answers 503 once and the pool is renewed.
    db_pool_pre_ping: bool = False
    db_pool_recycle_seconds: int = 1800
    # Bounds every statement so a stalled database answers 503 instead of hanging requests.
    db_command_timeout: float = Field(default=10.0, gt=0)

    redis_url: SecretStr | None = None

    # Rate limits (service/ratelimit/): limit("items:create") reads rate_limit_items_create.
    rate_limit_enabled: bool = True
    # Redis unreachable: let requests through (true) or answer 503 (false).
    rate_limit_fail_open: bool = True
    rate_limit_key_prefix: str = Field(default="ratelimit", min_length=1)
    # Bounds each check against Redis (pool wait, connect, reply); no retries.
    rate_limit_redis_timeout: float = Field(default=0.1, gt=0, le=1.0)
    rate_limit_redis_max_connections: int = Field(default=50, ge=1)
    # After a Redis failure, apply the failure policy without trying Redis for this long.
    rate_limit_redis_backoff: float = Field(default=1.0, ge=0, le=60)
    rate_limit_failure_log_interval: float = Field(default=60.0, ge=0)
    rate_limit_items_create: RateLimitSpec = "1/second"
    rate_limit_items_read: RateLimitSpec = "100/second"
    rate_limit_items_write: RateLimitSpec = "10/second"
    rate_limit_users_create: RateLimitSpec = "3/minute"
    rate_limit_users_read: RateLimitSpec = "100/second"
    rate_limit_auth_token: RateLimitSpec = "5/minute"  # noqa: S105 (a rate, not a secret)
    rate_limit_auth_token_username: RateLimitSpec = "20/hour"  # noqa: S105
    rate_limit_automations_create: RateLimitSpec = "10/minute"
    rate_limit_automations_read: RateLimitSpec = "100/second"
    rate_limit_automations_write: RateLimitSpec = "10/second"
    # Run-now and redeliver send a webhook (one attempt each, in the request): far below other
    # writes.
    rate_limit_automations_run: RateLimitSpec = "6/minute"

    # Login defence (service/users/login_guard.py, docs/security.md finding 4). A successful
    # login sets a signed device cookie valid this many days; a client presenting it for the same
    # username is counted per device (RATE_LIMIT_AUTH_TOKEN_DEVICE) instead of per username
    # (RATE_LIMIT_AUTH_TOKEN_USERNAME), so guesses at a username never lock its known devices out.
    login_device_cookie_days: int = Field(default=30, ge=1, le=400)
    rate_limit_auth_token_device: RateLimitSpec = "20/hour"  # noqa: S105 (a rate, not a secret)

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    access_token_expire_minutes: int = Field(default=30, ge=1)

    # uvicorn's own default when FORWARDED_ALLOW_IPS is unset (uvicorn/config.py): the app and the
    # server then resolve the same client address under any server.
    forwarded_allow_ips: str = "127.0.0.1,::1"
    # /docs, /redoc and /openapi.json; unset: served only when ENVIRONMENT=local.
    api_docs_enabled: bool | None = None
    # Request bodies over this size are answered 413 (FastAPI's max_body_size): a Content-Length
    # over it is refused before the body is read; a chunked body is cut off once it passes it.
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    log_level: str = "INFO"
    log_json: bool = False
    # The app's own metrics (service/metrics.py, docs/metrics.md): EMF lines on stdout, written
    # only when LOG_JSON is true, under this CloudWatch namespace (on AWS `<project>/<stack>`).
    metrics_namespace: MetricsNamespace = "service/local"

    # Automations: webhook delivery and the worker (service/automations, service/worker.py).
    # Lets a webhook reach 127.0.0.1/::1 (test receivers only); refused outside local.
    webhook_allow_loopback: bool = False
    # One attempt = one request, bounded by this as a whole (connect, send, first byte).
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # A failed attempt is retried by the worker after webhook_backoff_seconds * 2**(n-1), capped
    # at webhook_backoff_max_seconds, each delay drawn between half and all of it (jitter); a
    # delivery still failing webhook_retry_horizon_seconds after it was queued is marked dead.
    webhook_backoff_seconds: float = Field(default=30.0, ge=0, le=3600)
    webhook_backoff_max_seconds: float = Field(default=3600.0, ge=0, le=86_400)
    webhook_retry_horizon_seconds: float = Field(default=86_400.0, ge=0, le=7 * 86_400)
    # Deliveries one worker pass has in flight at once (a slow target holds one of them).
    webhook_concurrency: int = Field(default=10, ge=1, le=100)
    worker_poll_interval_seconds: float = Field(default=30.0, gt=0, le=3600)
    worker_batch_size: int = Field(default=100, ge=1, le=10_000)
    # A pass stops claiming work after this long; deliveries in flight finish (one timeout more).
    worker_pass_budget_seconds: float = Field(default=50.0, gt=0, le=3600)
    # Automations one user may own (each event runs every matching one).
    automations_max_per_user: int = Field(default=50, ge=1, le=10_000)

    @model_validator(mode="after")
    def _refuse_dev_secret_outside_local(self) -> "Settings":
        if self.environment != "local" and self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
            raise ConfigError(
                "JWT_SECRET is the built-in development value but "
                f"ENVIRONMENT={self.environment!r}; set JWT_SECRET to a random secret "
                "(on AWS it comes from Secrets Manager)."
            )
        if self.environment != "local" and len(self.jwt_secret.get_secret_value()) < 32:
            raise ConfigError("JWT_SECRET must be at least 32 characters outside local.")
        if (
            self.environment != "local"
            and not self.is_sqlite
            and not self.database_on_this_host
            and self.db_ssl != "verify-full"
        ):
            raise ConfigError(
                f"DB_SSL={self.db_ssl or '(unset)'} leaves PostgreSQL traffic unverified but "
                f"ENVIRONMENT={self.environment!r}; set DB_SSL=verify-full (and "
                "DB_SSL_ROOT_CERT to the CA bundle). require/prefer/disable are for local only."
            )
        if self.environment != "local" and self.webhook_allow_loopback:
            raise ConfigError(
                f"WEBHOOK_ALLOW_LOOPBACK is only for tests and local development but "
                f"ENVIRONMENT={self.environment!r}; unset it."
            )
        return self

    @property
    def docs_enabled(self) -> bool:
        if self.api_docs_enabled is not None:
            return self.api_docs_enabled
        return self.environment == "local"

    @property
    def database_on_this_host(self) -> bool:
        """PostgreSQL over loopback or a Unix socket: the traffic never crosses a network, so an
        unverified connection exposes nothing (benchmarks and tests run ENVIRONMENT=dev so)."""
        host = self.database_url.host
        if not host or host == "localhost" or host.startswith("/"):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @cached_property
    def database_url(self) -> URL:
        if self.database_url_override:
            return make_url(self.database_url_override)
        if self.db_host:
            return URL.create(
                "postgresql+asyncpg",
                username=self.db_user,
                password=self.db_password.get_secret_value() if self.db_password else None,
                host=self.db_host,
                port=self.db_port,
                database=self.db_name,
            )
        return make_url(DEFAULT_DATABASE_URL)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.get_backend_name() == "sqlite"
