"""`python -m bench.protocol_cost`: what the image's HTTP protocol costs per request, alone.

`make bench` compares whole servers under wrk, where a run moves by several per cent; the bounded
protocol (service/server.py) adds a few Python calls per request, far below that. This drives
both protocol classes in one process on uvloop, with a fake transport and an ASGI app that
answers at once, so the difference is the protocols' own: rounds of N keep-alive requests, the two
protocols back to back in each round (alternating which goes first), CPU time of this process.
Bounded: 21 rounds of 10 000 requests each, under 10 s; no sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from typing import Any

import uvloop
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from service.server import BoundedHttpToolsProtocol

# A request shaped like the bench's `get_item` one (a JWT, a forwarded address), in one read.
REQUEST = (
    b"GET /items/123 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer "
    + b"x" * 180
    + b"\r\nX-Forwarded-For: 10.1.2.3\r\nAccept: */*\r\nUser-Agent: bench\r\n\r\n"
)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.protocol: asyncio.BaseProtocol | None = None
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def close(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self.protocol is not None
        return self.protocol


async def microseconds_per_request(protocol_class: type[HttpToolsProtocol], requests: int) -> float:
    config = Config(app=app, http=protocol_class, lifespan="off", log_level="warning")
    config.load()
    state = ServerState()
    protocol = protocol_class(config, state, {}, asyncio.get_running_loop())
    transport = FakeTransport()
    transport.protocol = protocol
    protocol.connection_made(transport)
    started = time.process_time()
    for _ in range(requests):
        protocol.data_received(REQUEST)
        while state.tasks:
            await asyncio.sleep(0)
    elapsed = time.process_time() - started
    protocol.connection_lost(None)
    return elapsed / requests * 1e6


async def compare(rounds: int, requests: int) -> tuple[dict[str, float], float]:
    """The cheapest round of each protocol, and the median of the per-round differences (the
    two measured back to back, in alternating order, after a full collection)."""
    plain: list[float] = []
    bounded: list[float] = []
    for number in range(rounds):
        pair = {}
        order = (HttpToolsProtocol, BoundedHttpToolsProtocol)
        for cls in order if number % 2 else reversed(order):
            gc.collect()
            pair[cls] = await microseconds_per_request(cls, requests)
        plain.append(pair[HttpToolsProtocol])
        bounded.append(pair[BoundedHttpToolsProtocol])
    differences = [b - p for p, b in zip(plain, bounded, strict=True)]
    return {"httptools": min(plain), "bounded": min(bounded)}, statistics.median(differences)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.protocol_cost", description=__doc__)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--requests", type=int, default=10_000, help="per round and protocol")
    args = parser.parse_args(argv)
    best, difference = uvloop.run(compare(args.rounds, args.requests))
    print(f"CPU per request, cheapest of {args.rounds} rounds of {args.requests} requests:")
    print(f"  httptools (uvicorn's)      {best['httptools']:6.2f} us")
    print(f"  BoundedHttpToolsProtocol   {best['bounded']:6.2f} us")
    print(f"  difference, median of the rounds' differences: {difference:+.2f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
