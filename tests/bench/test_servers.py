"""The bench's servers run the image's flags and settings the service reads (no database needed)."""

from pathlib import Path

from bench.fixtures import RunContext
from bench.scenarios import SERVERS
from bench.servers import Server, production_options, service_env
from tests.container.dockerfile_parser import option_value, parse_dockerfile
from tests.support.uvicorn_server import REPO, SERVICE_SETTINGS


def context(tmp_path: Path) -> RunContext:
    return RunContext(tmp_path, database="bench_x", key_prefix="bench-x", jwt_secret="s" * 48)


def test_servers_get_the_images_http_protocol_and_keep_alive() -> None:
    image = parse_dockerfile(REPO / "Dockerfile")[-1]
    keep_alive = image.env["UVICORN_TIMEOUT_KEEP_ALIVE"]
    options = production_options()
    assert option_value(options, "--http") == option_value(image.command, "--http"), options
    assert option_value(options, "--timeout-keep-alive") == keep_alive, options


def test_a_protocol_variant_replaces_only_the_http_option() -> None:
    options = production_options(("--http", "h11", "--h11-max-incomplete-event-size", "65536"))
    assert options.count("--http") == 1 and option_value(options, "--http") == "h11", options
    assert option_value(options, "--loop") == "uvloop", options


def test_every_setting_a_service_process_gets_is_one_the_service_reads(tmp_path: Path) -> None:
    """A renamed setting would be ignored, and the run would measure its default."""
    for limiter in ("redis", "memory", "off"):
        env = service_env(context(tmp_path), limiter)
        unread = set(env) - SERVICE_SETTINGS - {"PYTHONUNBUFFERED"}
        assert not unread, f"{limiter}: the service reads no {sorted(unread)}"


def test_the_baseline_gets_no_service_settings(tmp_path: Path) -> None:
    baseline = Server("baseline", SERVERS["baseline"], context(tmp_path))
    assert not set(baseline.env) & SERVICE_SETTINGS, sorted(set(baseline.env) & SERVICE_SETTINGS)


def test_a_service_process_uses_the_runs_database_and_key_prefix(tmp_path: Path) -> None:
    service = Server("service", SERVERS["service"], context(tmp_path))
    assert service.env["DATABASE_URL"].endswith("/bench_x"), service.env["DATABASE_URL"]
    assert service.env["RATE_LIMIT_KEY_PREFIX"] == "bench-x", service.env
