"""Issue 23, finding 5: the image's server bounds a request head's size and the time it takes to
arrive, and closes a connection that never sends a byte (docs/security.md).

Every test runs the Dockerfile's CMD, with its ENV, from this checkout (listen address aside: a
free port on 127.0.0.1), on SQLite: /health is all these requests reach. Every loop is bounded
in bytes, connections and seconds.
"""

import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from service.server import HEAD_TIMEOUT_SECONDS, MAX_HEAD_BYTES
from tests.container.dockerfile_parser import parse_dockerfile
from tests.reliability.rawhttp import parse_response, send_raw
from tests.support.processes import HOST
from tests.support.uvicorn_server import REPO, UvicornServer, minimal_environment

MIB = 1024 * 1024
HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
UNFINISHED_HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: "


def image_command_options() -> list[str]:
    """The Dockerfile CMD's uvicorn options, without the listen address (the fixture's own)."""
    command = parse_dockerfile(REPO / "Dockerfile")[-1].command
    assert command[:2] == ["uvicorn", "service.main:app"], command
    options: list[str] = []
    words = iter(command[2:])
    for word in words:
        if word in ("--host", "--port"):
            next(words)
        elif not word.startswith(("--host=", "--port=")):
            options.append(word)
    return options


def image_environment(**overrides: str) -> dict[str, str]:
    """The Dockerfile's ENV (its PATH is the image's venv: ours stays) over a minimal one."""
    image_env = parse_dockerfile(REPO / "Dockerfile")[-1].env
    image_env.pop("PATH", None)
    return {**minimal_environment(), **image_env, **overrides}


def start_image_server(tmp_path: Path, **env: str) -> UvicornServer:
    environment = image_environment(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bounds.db'}", ENVIRONMENT="local", **env
    )
    server = UvicornServer(
        {},
        log_path=tmp_path / "uvicorn.log",
        args=image_command_options(),
        base_env=environment,
    )
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UvicornServer]:
    server = start_image_server(tmp_path_factory.mktemp("header-bounds"))
    try:
        yield server
    finally:
        server.stop()
    assert "Traceback" not in server.log_text(), server.log_text()[-3000:]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def answer_health(server: UvicornServer) -> int:
    return httpx.get(f"{server.base_url}/health", timeout=5).status_code


def exchange(sock: socket.socket, request: bytes) -> bytes:
    """One request on an open connection, one Content-Length response back (b"" if closed)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < int(
        parse_response(data).header("content-length") or 0
    ):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


@dataclass
class Attacker:
    """One client connection whose request head never ends."""

    sock: socket.socket
    pending: bytes
    sent: int = 0
    received: bytes = b""
    closed_after: float | None = None  # seconds from the first byte to the server's close
    started: float = field(default_factory=time.monotonic)

    def read(self) -> None:
        """The server spoke or closed: keep what it said, stop sending."""
        try:
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        self.received += data
        if not data:
            self.closed_after = time.monotonic() - self.started

    def status(self) -> int | None:
        return parse_response(self.received).status if self.received.startswith(b"HTTP/") else None


def open_attackers(port: int, count: int) -> list[Attacker]:
    attackers = []
    for _ in range(count):
        sock = socket.create_connection((HOST, port), timeout=5)
        sock.setblocking(False)
        attackers.append(Attacker(sock, UNFINISHED_HEAD))
    return attackers


# Head size -------------------------------------------------------------------------------------

ENDLESS_HEADER_CONNECTIONS = 8
ENDLESS_HEADER_BYTES = 16 * MIB  # per connection, at most: 128 MiB offered in all
ALLOWED_GROWTH_MIB = 32  # plain httptools held all of it: +175 MiB


def test_endless_headers_get_431_at_the_limit_and_memory_stays_flat(server: UvicornServer):
    assert server.process is not None
    before = rss_mib(server.process.pid)
    peak = before
    attackers = open_attackers(server.port, ENDLESS_HEADER_CONNECTIONS)
    filler = b"a" * 65536
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            active = [a for a in attackers if a.closed_after is None]
            if not active:
                break
            readable, writable, _ = select.select(
                [a.sock for a in active], [a.sock for a in active], [], 0.5
            )
            for attacker in active:
                if attacker.sock in readable:
                    attacker.read()
                elif attacker.sock in writable and attacker.sent < ENDLESS_HEADER_BYTES:
                    data = attacker.pending or filler
                    try:
                        written = attacker.sock.send(data)
                    except BlockingIOError:
                        continue
                    except OSError:
                        attacker.closed_after = time.monotonic() - attacker.started
                        continue
                    attacker.sent += written
                    attacker.pending = data[written:] if attacker.pending else b""
            peak = max(peak, rss_mib(server.process.pid))
            if all(a.sent >= ENDLESS_HEADER_BYTES for a in active):
                break  # everything offered: the server swallowed it all
        for _ in range(10):  # whatever the server still reads from its socket buffers
            peak = max(peak, rss_mib(server.process.pid))
            time.sleep(0.1)
    finally:
        for attacker in attackers:
            attacker.sock.close()

    # The server answers 431 and closes; with the attacker's bytes still unread, the close is a
    # reset, which may discard the 431 before the client reads it (test_a_head_at_the_limit_...
    # sees it): a closed connection is the proof here.
    statuses = {attacker.status() for attacker in attackers}
    sent_mib = [round(attacker.sent / MIB, 1) for attacker in attackers]
    closed = sum(1 for attacker in attackers if attacker.closed_after is not None)
    assert closed == ENDLESS_HEADER_CONNECTIONS and statuses <= {431, None}, (
        f"{closed} of {ENDLESS_HEADER_CONNECTIONS} connections closed (answers {statuses}) after "
        f"sending {sent_mib} MiB each of a head; RSS {before:.0f} -> {peak:.0f} MiB"
    )
    assert peak - before < ALLOWED_GROWTH_MIB, (
        f"RSS grew from {before:.0f} to {peak:.0f} MiB under {ENDLESS_HEADER_CONNECTIONS} "
        f"endless headers (sent {sent_mib} MiB each)"
    )
    assert answer_health(server) == 200


def head_of(size: int) -> bytes:
    """A `GET /health` head of exactly `size` bytes, in headers of at most 8 KiB each (the ALB
    forwards up to 16 KB per header and 64 KB in all)."""
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    number = 0
    while (room := size - len(head) - 2) > 0:
        name = b"X-Pad-%d: " % number
        head += name + b"a" * max(1, min(8192, room - len(name) - 2)) + b"\r\n"
        number += 1
    return head + b"\r\n"


def test_a_head_at_the_limit_is_answered_and_one_byte_more_is_431(server: UvicornServer):
    at_limit, over = head_of(MAX_HEAD_BYTES), head_of(MAX_HEAD_BYTES + 1)
    assert (len(at_limit), len(over)) == (MAX_HEAD_BYTES, MAX_HEAD_BYTES + 1)

    assert send_raw(server.port, at_limit).status == 200
    assert send_raw(server.port, over).status == 431


# Head time -------------------------------------------------------------------------------------

SLOWLORIS_CONNECTIONS = 100
SLACK_SECONDS = 3.0


def test_slowloris_connections_get_408_after_the_head_timeout_while_others_are_served(
    server: UvicornServer,
):
    # A keep-alive connection that made one request: idle for longer than the head timeout,
    # it must still be usable (the ALB reuses its connections for up to its idle timeout).
    keep_alive = socket.create_connection((HOST, server.port), timeout=5)
    first = exchange(keep_alive, HEALTH)

    attackers = open_attackers(server.port, SLOWLORIS_CONNECTIONS)
    for attacker in attackers:
        attacker.sock.send(attacker.pending)
        attacker.started = time.monotonic()
    served: list[int] = []
    deadline = time.monotonic() + HEAD_TIMEOUT_SECONDS + SLACK_SECONDS
    try:
        while time.monotonic() < deadline:
            active = [a for a in attackers if a.closed_after is None]
            if not active:
                break
            for attacker in active:  # one more byte of the header, every second
                try:
                    attacker.sock.send(b"a")
                except OSError:
                    attacker.read()
            served.append(answer_health(server))
            readable, _, _ = select.select([a.sock for a in active], [], [], 1.0)
            for attacker in active:
                if attacker.sock in readable:
                    attacker.read()
                    while (
                        attacker.closed_after is None
                        and select.select([attacker.sock], [], [], 0.2)[0]
                    ):
                        attacker.read()
        second = exchange(keep_alive, HEALTH)
    finally:
        keep_alive.close()
        for attacker in attackers:
            attacker.sock.close()

    still_open = sum(1 for a in attackers if a.closed_after is None)
    assert still_open == 0, (
        f"{still_open} of {SLOWLORIS_CONNECTIONS} connections dribbling a header byte a second "
        f"were still open after {HEAD_TIMEOUT_SECONDS + SLACK_SECONDS:g} s"
    )
    closed_after = sorted(a.closed_after or 0.0 for a in attackers)
    assert closed_after[0] >= HEAD_TIMEOUT_SECONDS - 0.5, f"closed too early: {closed_after[:5]}"
    assert {a.status() for a in attackers} == {408}, [a.received[:40] for a in attackers[:5]]
    assert served and set(served) == {200}, f"/health meanwhile: {served}"
    assert first.startswith(b"HTTP/1.1 200"), first
    assert second.startswith(b"HTTP/1.1 200"), (
        f"an idle keep-alive connection was closed after {HEAD_TIMEOUT_SECONDS:g} s: {second!r}"
    )


def test_a_connection_that_sends_nothing_is_closed_after_the_keep_alive_timeout(
    tmp_path: Path,
):
    """uvicorn armed its idle timer only after a response: a silent connection stayed forever.
    UVICORN_TIMEOUT_KEEP_ALIVE is the task definition's setting (75 s in the image): 2 s here."""
    keep_alive = 2
    server = start_image_server(tmp_path, UVICORN_TIMEOUT_KEEP_ALIVE=str(keep_alive))
    try:
        with socket.create_connection((HOST, server.port), timeout=5) as silent:
            started = time.monotonic()
            ready, _, _ = select.select([silent], [], [], keep_alive + SLACK_SECONDS)
            data = silent.recv(1) if ready else None
            waited = time.monotonic() - started
    finally:
        server.stop()
    assert data == b"", f"a silent connection was still open after {waited:.1f} s"
    assert waited >= keep_alive - 0.5, f"closed after {waited:.1f} s, before the keep-alive"


# What must keep working ------------------------------------------------------------------------


def test_ordinary_requests_and_an_8_kib_cookie_are_answered(server: UvicornServer):
    with httpx.Client(base_url=server.base_url, timeout=5) as http:
        plain = http.get("/health")
        cookie = http.get("/health", headers={"Cookie": "session=" + "c" * 8192})
    assert (plain.status_code, cookie.status_code) == (200, 200), (plain.text, cookie.text)


def test_a_body_sent_with_its_head_is_not_counted_as_head(server: UvicornServer):
    """900 KiB of body in the same write as a small head: the app reads it and refuses it as
    invalid (422); the head limit does not mistake it for a header (431)."""
    body = b'{"email": "' + b"x" * (900 * 1024) + b'"}'
    head = (
        "POST /users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    assert send_raw(server.port, head + body).status == 422


def test_pipelined_requests_in_one_write_are_all_answered(server: UvicornServer):
    with socket.create_connection((HOST, server.port), timeout=5) as sock:
        sock.sendall(
            HEALTH * 3 + b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        data = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (chunk := sock.recv(65536)):
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 4, data
