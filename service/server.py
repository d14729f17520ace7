"""The HTTP/1.1 protocol the image runs: `uvicorn --http service.server:BoundedHttpToolsProtocol`.

uvicorn's httptools protocol, the fast one, with three bounds it lacks (issue 23, finding 5;
docs/security.md):

- **Head size.** httptools buffers a request line and headers however long they grow: eight
  connections each sending an endless header took the process from 99 MB to 613 MB. A connection
  that has sent MAX_HEAD_BYTES of a request head without finishing it gets 431 and is closed; the
  parser is never fed a byte past the limit. Body bytes are not counted (MAX_BODY_BYTES bounds
  them in the app).
- **Head time.** A head that has started must be complete within HEAD_TIMEOUT_SECONDS, or the
  connection gets 408 and is closed (a slowloris client dribbling a byte a second held a
  connection for as long as it liked). The timer starts only when a read leaves a head
  unfinished: a head that arrives in one read, the usual case, never arms it.
- **Idle time from the start.** uvicorn arms its keep-alive timer only after a response, so a
  connection that never sent a byte stayed open forever; it is armed on connect too.

Measured cost: 2-3 us of CPU per request over plain httptools (`python -m bench.protocol_cost`),
below what `make bench` can tell apart (bench/README.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

# The ALB's limit for an entire request header (its quotas: 64 KB; request line and any single
# header 16 KB): nothing the ALB forwards is refused here, and a client that reaches the port
# directly can make a connection hold no more than this.
MAX_HEAD_BYTES = 64 * 1024
# From the first byte of a request head to its blank line. Behind the ALB a head arrives whole;
# a person on a slow link sends a few hundred bytes in well under a second.
HEAD_TIMEOUT_SECONDS = 10.0


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """One connection. `_head_bytes` counts the bytes received of the request head being read:
    0 before its first byte, None from the end of the head to the end of that request's body.
    Counting restarts at the end of a request: bytes of a pipelined next request that arrived in
    the same read are not counted, so such a head may hold one read more (256 KB on uvloop)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_bytes: int | None = 0
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        received = self._head_bytes
        if received is None:  # a body: the app's business
            super().data_received(data)
            return
        room = MAX_HEAD_BYTES - received
        if len(data) <= room:
            self._head_bytes = received + len(data)
            super().data_received(data)
        else:
            # Feed only what the limit allows: if the head ends in there, the rest is its body
            # (or the next request) and is handled as such; if not, the head is too large.
            self._head_bytes = MAX_HEAD_BYTES
            super().data_received(data[:room])
            if self.transport.is_closing() or self.transport.get_protocol() is not self:
                return  # refused as malformed, or upgraded (a WebSocket): not ours any more
            if self._head_bytes is None or self._head_bytes < MAX_HEAD_BYTES:
                self.data_received(data[room:])
                return
            self._refuse(431, f"Request head larger than {MAX_HEAD_BYTES} bytes.")
            return
        if self._head_bytes and self._head_timer is None and not self.transport.is_closing():
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT_SECONDS, self._head_timed_out)

    # Parser callbacks (called from inside data_received)
    def on_headers_complete(self) -> None:
        self._head_bytes = None
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_bytes = 0  # what follows is the next request's head

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self._refuse(408, f"Request head not complete within {HEAD_TIMEOUT_SECONDS:g} s.")

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` with `message` and close, as uvicorn answers a malformed request. A
        pipelining client whose previous response is still being written gets no answer: the
        bytes would land inside that response."""
        self.logger.warning(message)
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()
            return
        body = message.encode("ascii")
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
