"""A tiny HTTP/1.1 webhook receiver on 127.0.0.1 (asyncio streams, one request per connection)."""

import asyncio
import json
from dataclasses import dataclass
from typing import Any

READ_TIMEOUT_SECONDS = 10.0


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Answers with `statuses` in turn (the last one repeats). While `hold` is set to an unset
    asyncio.Event, requests are recorded but not answered until it is set."""

    def __init__(self, statuses: tuple[int, ...] = (200,), delay: float = 0.0) -> None:
        self.statuses = list(statuses)
        self.delay = delay
        self.requests: list[ReceivedRequest] = []
        self.received = asyncio.Event()
        self.hold: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> "Receiver":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self._server is not None:
            self._server.close()
            await asyncio.wait_for(self._server.wait_closed(), timeout=5)

    async def wait_for_requests(self, count: int, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                self.received.clear()
                await self.received.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT_SECONDS):
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(ReceivedRequest(method, path, headers, body))
            status = self.statuses[min(len(self.requests) - 1, len(self.statuses) - 1)]
            self.received.set()
            if self.hold is not None:
                await asyncio.wait_for(self.hold.wait(), timeout=60)
            if self.delay:
                await asyncio.sleep(self.delay)
            location = "Location: http://127.0.0.1:1/elsewhere\r\n" if 300 <= status < 400 else ""
            writer.write(
                f"HTTP/1.1 {status} Status\r\nContent-Length: 0\r\n{location}"
                "Connection: close\r\n\r\n".encode()
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()
