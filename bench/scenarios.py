"""What a run measures and how: its processes (SERVERS), its scenarios (SCENARIOS), how long and
how hard each is driven (Mode), and the measurement itself: a warm-up of every scenario, then
interleaved rounds (round-robin), so background load on a shared machine hits every scenario alike
and the ratios stay comparable. Only one server is under load at any moment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.fixtures import RunContext, SeedData, count_redis_keys
from bench.load import LoadGenerator, Request, Sample
from bench.servers import Server, ServerSpec


@dataclass(frozen=True)
class Mode:
    name: str
    warmup_s: int
    slice_s: int
    slices: int
    connections: int


FULL = Mode("full", warmup_s=2, slice_s=2, slices=7, connections=32)
SMOKE = Mode("smoke", warmup_s=1, slice_s=2, slices=1, connections=8)

# The processes of a run, started in this order. The http_* ones are `service` (Redis limiter)
# again, once per HTTP protocol: the image's, plain httptools, and h11 with its head bounded.
SERVERS = {
    "baseline": ServerSpec("bench.baseline_app:app", limiter=None, health_path="/"),
    "service": ServerSpec(limiter="redis"),
    "limiter_off": ServerSpec(limiter="off"),
    "limiter_memory": ServerSpec(limiter="memory"),
    "http_bounded": ServerSpec(limiter="redis"),
    "http_httptools": ServerSpec(limiter="redis", http=("--http", "httptools")),
    "http_h11": ServerSpec(
        limiter="redis", http=("--http", "h11", "--h11-max-incomplete-event-size", "65536")
    ),
}


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str  # a key of SERVERS
    method: str
    path: str
    authenticated: bool = False
    body: dict[str, Any] | None = None

    def request(self, seed_data: SeedData) -> Request:
        headers: dict[str, str] = {}
        if self.authenticated:
            headers["Authorization"] = f"Bearer {seed_data.token}"
        body = None
        if self.body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(self.body, separators=(",", ":"))
        return Request(self.method, self.path.format(item_id=seed_data.item_id), headers, body)


ITEM_BODY = {"name": "bench item", "description": "created by bench/run.py", "price": "9.99"}
SCENARIOS = [
    Scenario("baseline", "baseline", "GET", "/"),
    Scenario("health", "service", "GET", "/health"),
    Scenario("get_item", "service", "GET", "/items/{item_id}", authenticated=True),
    Scenario("list_items", "service", "GET", "/items?limit=50", authenticated=True),
    Scenario("create_item", "service", "POST", "/items", authenticated=True, body=ITEM_BODY),
    Scenario("limiter_off", "limiter_off", "GET", "/items/{item_id}", authenticated=True),
    Scenario("limiter_memory", "limiter_memory", "GET", "/items/{item_id}", authenticated=True),
    Scenario("limiter_redis", "service", "GET", "/items/{item_id}", authenticated=True),
    # The protocol comparison: one process per protocol serving only these, so that the image's
    # and plain httptools' processes have done the same work when they are compared.
    Scenario("health_bounded", "http_bounded", "GET", "/health"),
    Scenario("get_item_bounded", "http_bounded", "GET", "/items/{item_id}", authenticated=True),
    Scenario("health_httptools", "http_httptools", "GET", "/health"),
    Scenario("get_item_httptools", "http_httptools", "GET", "/items/{item_id}", authenticated=True),
    Scenario("health_h11", "http_h11", "GET", "/health"),
]


@dataclass
class Measurement:
    """Every scenario's warm-up slice and its slices in round order."""

    warmups: dict[str, Sample] = field(default_factory=dict)
    rounds: dict[str, list[Sample]] = field(default_factory=dict)
    redis_limiter_keys_peak: int = 0  # live limiter keys right after a limiter_redis slice


def measure(
    mode: Mode,
    generator: LoadGenerator,
    servers: Mapping[str, Server],
    seed_data: SeedData,
    context: RunContext,
) -> Measurement:
    requests = {scenario.name: scenario.request(seed_data) for scenario in SCENARIOS}
    measurement = Measurement()
    for scenario in SCENARIOS:
        print(f"warm-up  {scenario.name}", flush=True)
        measurement.warmups[scenario.name] = servers[scenario.server].load(
            generator, requests[scenario.name], mode.warmup_s, mode.connections
        )
    measurement.rounds = {scenario.name: [] for scenario in SCENARIOS}
    for round_number in range(1, mode.slices + 1):
        print(f"round {round_number}/{mode.slices}", flush=True)
        for scenario in SCENARIOS:
            measurement.rounds[scenario.name].append(
                servers[scenario.server].load(
                    generator, requests[scenario.name], mode.slice_s, mode.connections
                )
            )
            if scenario.name == "limiter_redis":
                # Proof the Redis scenario went through Redis: its windows (1 s) still exist.
                measurement.redis_limiter_keys_peak = max(
                    measurement.redis_limiter_keys_peak, count_redis_keys(context)
                )
    return measurement
