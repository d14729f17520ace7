"""DB_SSL=verify-full: the server's certificate must chain to DB_SSL_ROOT_CERT and name DB_HOST.

A private cluster serves a certificate issued by a throwaway CA (made with the openssl CLI) for
the IP address 127.0.0.1 only, as RDS serves one for its endpoint name issued by the RDS CA.
"""

import ssl
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from service.config import ConfigError, Settings
from service.db import create_engine, ssl_mode
from tests.support.throwaway_postgres import SUPERUSER, ThrowawayPostgres

OPENSSL_TIMEOUT = 60


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=OPENSSL_TIMEOUT
    )


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    return cert, key


def make_server_cert(directory: Path, ca: tuple[Path, Path], san: str) -> tuple[Path, Path]:
    key, csr, cert = (directory / f"server.{ext}" for ext in ("key", "csr", "crt"))
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", "/CN=postgres-under-test",
        cwd=directory,
    )  # fmt: skip
    extensions = directory / "server.ext"
    extensions.write_text(
        f"subjectAltName={san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
    )
    openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(extensions),
        cwd=directory,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("pki")
    ca = make_ca(directory, "test-root-ca")
    other_ca = make_ca(directory, "unrelated-ca")
    cert, key = make_server_cert(directory, ca, "IP:127.0.0.1")
    return {"ca": ca[0], "other_ca": other_ca[0], "cert": cert, "key": key}


@pytest.fixture(scope="module")
def tls_cluster(pki):
    with ThrowawayPostgres(tls=(pki["cert"], pki["key"])) as cluster:
        yield cluster


def settings_for(cluster: ThrowawayPostgres, host: str, **env: str) -> Settings:
    return Settings(
        DB_HOST=host, DB_PORT=cluster.port, DB_NAME="postgres", DB_USER=SUPERUSER, **env
    )


async def ssl_in_use(settings: Settings) -> bool:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            query = text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            return (await connection.execute(query)).scalar_one()
    finally:
        await engine.dispose()


async def test_verify_full_accepts_a_certificate_naming_the_host_from_the_configured_ca(
    tls_cluster, pki
):
    settings = settings_for(
        tls_cluster, "127.0.0.1", DB_SSL="verify-full", DB_SSL_ROOT_CERT=str(pki["ca"])
    )
    assert await ssl_in_use(settings) is True


async def test_verify_full_refuses_a_certificate_for_another_host(tls_cluster, pki):
    # "localhost" resolves to 127.0.0.1, the same server, but the certificate names only the IP.
    settings = settings_for(
        tls_cluster, "localhost", DB_SSL="verify-full", DB_SSL_ROOT_CERT=str(pki["ca"])
    )
    with pytest.raises(ssl.SSLCertVerificationError, match="match"):
        await ssl_in_use(settings)


async def test_verify_full_refuses_a_certificate_from_another_ca(tls_cluster, pki):
    settings = settings_for(
        tls_cluster, "127.0.0.1", DB_SSL="verify-full", DB_SSL_ROOT_CERT=str(pki["other_ca"])
    )
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        await ssl_in_use(settings)


async def test_require_encrypts_without_verifying_locally(tls_cluster):
    settings = settings_for(tls_cluster, "localhost", DB_SSL="require")
    assert await ssl_in_use(settings) is True


def test_verify_full_context_requires_a_chain_and_the_hostname(pki):
    settings = Settings(DB_SSL="verify-full", DB_SSL_ROOT_CERT=str(pki["ca"]))
    context = ssl_mode(settings)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


AWS = {"ENVIRONMENT": "prod", "JWT_SECRET": "r" * 48, "DB_HOST": "db.internal"}


@pytest.mark.parametrize("mode", [None, "disable", "prefer", "require", "verify-ca"])
def test_postgres_outside_local_refuses_anything_but_verify_full(mode):
    env = {**AWS, **({"DB_SSL": mode} if mode else {})}
    with pytest.raises(ConfigError, match="DB_SSL=verify-full"):
        Settings(**env)


def test_postgres_outside_local_accepts_verify_full():
    assert Settings(**AWS, DB_SSL="verify-full").db_ssl == "verify-full"


def test_sqlite_outside_local_needs_no_tls():
    settings = Settings(ENVIRONMENT="prod", JWT_SECRET="r" * 48, DATABASE_URL="sqlite+aiosqlite://")
    assert settings.db_ssl is None


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_postgres_on_this_host_needs_no_tls_outside_local(host):
    """Loopback traffic never crosses a network (the benchmark runs ENVIRONMENT=dev so)."""
    assert Settings(**{**AWS, "DB_HOST": host}).db_ssl is None
