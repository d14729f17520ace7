"""The Dockerfile's CMD, run verbatim (listen address aside) from a virtualenv installed from wheels
exactly as the image's is: it serves, keeps idle connections past the ALB's timeout, and on SIGTERM
finishes the request in flight, then exits 0 within its graceful-shutdown timeout."""

import json
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from service.server import MAX_HEAD_BYTES
from tests.container.conftest import ImageVenv, RunningServer
from tests.container.dockerfile_parser import option_value

# The session fixture builds wheels and a virtualenv before the first of these tests.
pytestmark = pytest.mark.timeout(600)

Serve = Callable[[], RunningServer]
UVICORN_DEFAULT_KEEP_ALIVE_SECONDS = 5


def test_image_command_serves_health_and_ready(serve_image_command: Serve) -> None:
    server = serve_image_command()

    health = httpx.get(f"{server.base_url}/health", timeout=5)
    ready = httpx.get(f"{server.base_url}/ready", timeout=5)

    assert (health.status_code, health.json()) == (200, {"status": "ok"}), health.text
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"] == "ok", ready.text


def test_image_command_sends_no_server_header(serve_image_command: Serve) -> None:
    """`server: uvicorn` names what to attack; the image runs with --no-server-header."""
    server = serve_image_command()

    response = httpx.get(f"{server.base_url}/health", timeout=5)

    assert response.status_code == 200, response.text
    assert "server" not in response.headers, response.headers


def test_image_command_imports_service_from_the_installed_wheel(
    image_venv: ImageVenv, workdir: Path
) -> None:
    env = image_venv.environment()
    probe = (
        "import pathlib, service, service.migrate as m; "
        "print(service.__file__); "
        "print(sorted(p.name for p in (pathlib.Path(m.__file__).parent / 'migrations' / 'versions')"
        ".glob('*.py')))"
    )
    result = subprocess.run(
        image_venv.resolve(["python", "-c", probe], env),
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    module_file, versions = result.stdout.splitlines()
    assert "site-packages" in module_file and module_file.startswith(str(image_venv.root)), (
        f"service was imported from {module_file}, not from the wheel"
    )
    assert versions != "[]", "the wheel ships no migration versions"


def test_image_command_takes_infrastructure_settings_from_environment(
    image_venv: ImageVenv, workdir: Path, image_command: list[str]
) -> None:
    """Exec form has no shell to expand $VARS: uvicorn itself must read the task definition's
    FORWARDED_ALLOW_IPS and UVICORN_TIMEOUT_KEEP_ALIVE, and nothing on the command line may
    override them. Parses the Dockerfile's exact arguments with uvicorn's own CLI."""
    env = image_venv.environment(
        FORWARDED_ALLOW_IPS="10.20.0.0/16", UVICORN_TIMEOUT_KEEP_ALIVE="135"
    )
    probe = (
        "import json, sys\n"
        "from uvicorn.config import Config\n"
        "from uvicorn.main import main\n"
        "params = main.make_context('uvicorn', sys.argv[1:]).params\n"
        "config = Config(params['app'], forwarded_allow_ips=params['forwarded_allow_ips'])\n"
        "print(json.dumps({'keep_alive': params['timeout_keep_alive'],\n"
        "                  'trusted': config.forwarded_allow_ips,\n"
        "                  'proxy_headers': params['proxy_headers']}))\n"
    )
    assert image_command[0] == "uvicorn"
    result = subprocess.run(
        image_venv.resolve(["python", "-c", probe, *image_command[1:]], env),
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == {
        "keep_alive": 135,
        "trusted": "10.20.0.0/16",
        "proxy_headers": True,
    }, result.stdout


def test_image_command_worker_runs_a_pass_from_the_installed_wheel(
    image_venv: ImageVenv, workdir: Path, migrated_database_url: str
) -> None:
    """The same image runs the scheduled worker task (infra/components/scheduler.py)."""
    env = image_venv.environment(DATABASE_URL=migrated_database_url, ENVIRONMENT="local")
    result = subprocess.run(
        image_venv.resolve(["python", "-m", "service.worker", "run-due", "--once"], env),
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "run-due pass=1" in result.stdout, result.stdout


def _http_exchange(connection: socket.socket, request: bytes) -> bytes:
    """Send one request, read one response (headers + Content-Length body)."""
    connection.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_image_command_keeps_idle_connections_open_past_uvicorn_default(
    serve_image_command: Serve,
) -> None:
    """Proof the image's keep-alive setting takes effect (75 s itself is checked statically)."""
    server = serve_image_command()
    request = b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        first = _http_exchange(connection, request)
        time.sleep(UVICORN_DEFAULT_KEEP_ALIVE_SECONDS + 1.5)
        second = _http_exchange(connection, request)

    assert first.startswith(b"HTTP/1.1 200"), first
    assert second.startswith(b"HTTP/1.1 200"), (
        f"the idle connection was closed after {UVICORN_DEFAULT_KEEP_ALIVE_SECONDS + 1.5}s: "
        f"{second!r}"
    )


def test_image_command_bounds_the_request_head(serve_image_command: Serve) -> None:
    """The bounded protocol loads from the wheel (`--http service.server:...`): a head under
    MAX_HEAD_BYTES is answered, one over it is 431 (tests/reliability/test_header_bounds.py
    attacks it at length)."""
    server = serve_image_command()

    lines = [f"X-Pad-{n}: {'a' * 1000}\r\n" for n in range(MAX_HEAD_BYTES // 1024 - 2)]
    under = f"GET /health HTTP/1.1\r\nHost: test\r\n{''.join(lines)}\r\n".encode()
    # A few bytes over, not kilobytes: the server closes once it refuses, and bytes it never read
    # would turn the close into a reset that can beat the 431 to the client.
    over = under[:-2] + b"X-More: " + b"b" * (MAX_HEAD_BYTES - len(under)) + b"\r\n\r\n"
    assert len(under) < MAX_HEAD_BYTES < len(over) < MAX_HEAD_BYTES + 16
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        answered = _http_exchange(connection, under)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        refused = _http_exchange(connection, over)

    assert answered.startswith(b"HTTP/1.1 200"), answered[:200]
    assert refused.startswith(b"HTTP/1.1 431"), refused[:200]


def _wait_until_refused(port: int, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except ConnectionRefusedError:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"port {port} still accepts connections {timeout}s after SIGTERM")


def test_image_command_finishes_in_flight_request_on_sigterm_and_exits_0(
    serve_image_command: Serve, image_command: list[str]
) -> None:
    graceful_timeout = int(option_value(image_command, "--timeout-graceful-shutdown") or 0)
    assert graceful_timeout > 0
    server = serve_image_command()
    email = f"slow-{uuid.uuid4().hex[:8]}@example.com"
    body = json.dumps({"email": email, "password": "correct horse battery"}).encode()
    head = (
        "POST /users HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()

    with socket.create_connection(("127.0.0.1", server.port), timeout=graceful_timeout) as conn:
        conn.sendall(head + body[:1])
        time.sleep(0.5)  # uvicorn has parsed the headers: the request is in flight
        server.process.send_signal(signal.SIGTERM)
        sigterm_at = time.monotonic()

        _wait_until_refused(server.port, timeout=5)  # the listener closed: no new work accepted
        for offset in range(1, len(body), 8):  # dribble the rest of the body for ~1.5 s
            assert server.process.poll() is None, "uvicorn exited with a request in flight"
            conn.sendall(body[offset : offset + 8])
            time.sleep(1.5 / (len(body) / 8))

        response = b""
        while chunk := conn.recv(65536):  # the server closes the connection: it is shutting down
            response += chunk

    status_line, _, rest = response.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 201 Created", f"{response!r}\n{server.output()}"
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["email"] == email

    exit_code = server.process.wait(timeout=graceful_timeout + 5)
    stopped_after = time.monotonic() - sigterm_at
    log = server.output()
    assert exit_code == 0, f"exit code {exit_code}\n{log}"
    assert stopped_after < graceful_timeout, f"took {stopped_after:.1f}s\n{log}"
    assert "timeout graceful shutdown exceeded" not in log, log
    assert "Finished server process" in log, log
