"""Raw HTTP/1.1 over a socket, for requests no well-behaved client would send (bounded waits)."""

import select
import socket
import time
from dataclasses import dataclass

from tests.support.processes import HOST


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return values[0] if values else None


def parse_response(data: bytes) -> RawResponse:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return RawResponse(status, headers, body)


def _read_response(sock: socket.socket, deadline: float) -> bytes:
    data = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                None,
            )
            if length is not None and len(body) >= length:
                break
    return data


def send_raw(port: int, request: bytes, *, timeout: float = 10.0) -> RawResponse:
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(request)
        data = _read_response(sock, time.monotonic() + timeout)
    assert data, "no response"
    return parse_response(data)


def send_head_then_stream(
    port: int,
    head: bytes,
    chunk: bytes,
    *,
    max_bytes: int,
    timeout: float = 10.0,
) -> tuple[RawResponse, int]:
    """Send `head`, then `chunk` repeatedly until the server answers (or max_bytes were sent).
    Returns the response and how many body bytes had been sent when it arrived."""
    sent = 0
    deadline = time.monotonic() + timeout
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(head)
        while sent < max_bytes and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        data = _read_response(sock, deadline)
    assert data, f"no response after {sent} bytes"
    return parse_response(data), sent
