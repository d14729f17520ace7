"""infra.smoke against real HTTP servers: a small ASGI app served by uvicorn on 127.0.0.1."""

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from infra.tools import smoke
from tests.support.processes import HOST, free_port
from tests.support.uvicorn_server import REPO, VENV_BIN, UvicornServer

APP = textwrap.dedent(
    """
    import json
    import os
    import time

    START = time.monotonic()
    READY_STATUS = int(os.environ.get("READY_STATUS", "200"))
    READY_AFTER = float(os.environ.get("READY_AFTER", "0"))


    async def app(scope, receive, send):
        assert scope["type"] == "http"
        if scope["path"] == "/health":
            status = 200
        elif scope["path"] == "/ready":
            ready = time.monotonic() - START >= READY_AFTER
            status = READY_STATUS if ready else 503
        else:
            status = 404
        body = json.dumps({"status": "ok" if status == 200 else "database unavailable"})
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body.encode()})
    """
)


class SmokeApp(UvicornServer):
    """The project's uvicorn helper, serving the test's app instead of the service."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        (tmp_path / "smoke_app.py").write_text(APP)
        self.app_dir = tmp_path
        super().__init__(env, log_path=tmp_path / "uvicorn.log")

    def launch(self) -> None:
        command = [str(VENV_BIN / "uvicorn"), "smoke_app:app", "--app-dir", str(self.app_dir)]
        command += ["--host", HOST, "--port", str(self.port), "--no-access-log"]
        command += ["--lifespan", "off"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )


def run_smoke(*args: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "infra.smoke", *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    return result, time.monotonic() - start


def test_a_healthy_service_passes(tmp_path):
    with SmokeApp(tmp_path) as server:
        result, _ = run_smoke(server.base_url + "/", "--timeout", "20", "--interval", "0.2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "/health 200, /ready 200" in result.stdout
    assert "smoke: OK" in result.stdout


def test_a_service_whose_ready_answers_503_fails_within_the_timeout(tmp_path):
    with SmokeApp(tmp_path, READY_STATUS="503") as server:
        result, elapsed = run_smoke(server.base_url, "--timeout", "3", "--interval", "0.5")
    assert result.returncode == 1, result.stdout
    assert elapsed < 3 + 5, f"took {elapsed:.1f} s with --timeout 3"
    assert "/health 200, /ready 503" in result.stdout
    assert "database unavailable" in result.stdout, "the answer's body is shown"
    assert "smoke: FAILED" in result.stdout and "within 3 s" in result.stdout


def test_retries_until_the_service_becomes_ready(tmp_path):
    with SmokeApp(tmp_path, READY_AFTER="1.5") as server:
        result, _ = run_smoke(server.base_url, "--timeout", "30", "--interval", "0.3")
    assert result.returncode == 0, result.stdout
    assert "/ready 503" in result.stdout and "smoke: OK" in result.stdout
    assert result.stdout.count("smoke: attempt") >= 2


def test_the_number_of_attempts_is_bounded_too(tmp_path):
    with SmokeApp(tmp_path, READY_STATUS="500") as server:
        result, elapsed = run_smoke(
            server.base_url, "--timeout", "60", "--interval", "0.1", "--attempts", "3"
        )
    assert result.returncode == 1
    assert result.stdout.count("smoke: attempt") == 3 and "(3 attempts)" in result.stdout
    assert elapsed < 30


def test_an_unreachable_service_fails_clearly():
    port = free_port()  # nothing listens there
    result, elapsed = run_smoke(f"http://{HOST}:{port}", "--timeout", "2", "--interval", "0.2")
    assert result.returncode == 1
    assert "/health no answer (ConnectError" in result.stdout
    assert "smoke: FAILED" in result.stdout
    assert elapsed < 2 + 5


@pytest.mark.parametrize("url", ["", "api.example.com", "ftp://api.example.com", "http://"])
def test_a_missing_or_malformed_url_is_a_usage_error(url):
    result, _ = run_smoke(url, "--timeout", "1")
    assert result.returncode == 2
    assert "not an http(s) URL" in result.stderr


def test_ready_is_only_asked_once_health_answers():
    """Unit level, no server: a failing /health is reported without a /ready probe."""
    lines: list[str] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    ok = smoke.check(
        f"http://{HOST}:{free_port()}", timeout=1, interval=0.5, attempts=5,
        out=lines.append, clock=lambda: now[0], sleep=sleep,
    )  # fmt: skip
    assert not ok
    assert all("/ready" not in line for line in lines if line.startswith("smoke: attempt"))
