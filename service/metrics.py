"""The app's own metrics, as CloudWatch Embedded Metric Format (EMF) lines on stdout.

On ECS the awslogs driver ships stdout to CloudWatch Logs, which extracts the metrics from every
line shaped like EMF: no agent, no sidecar, no API call. Lines are written only when LOG_JSON is
true (on AWS), under the namespace METRICS_NAMESPACE (`<project>/<stack>`, one per stack).
docs/metrics.md lists the metrics, their units and dimensions, and when each is emitted.

Plain JSON rather than the `aws-embedded-metrics` package: that package sends to the CloudWatch
agent by default on ECS and flushes a per-event logger object asynchronously, serialising the
whole document each time; our metrics are a fixed handful, so each line here is a body rendered
once (by pydantic-core, like the JSON log) plus the timestamp: 2-4 us a line, written to a pipe
(timeit), a fifth of an access-log line's cost.

Each line goes through the stdout handler `configure_logging` installed, in one write under that
handler's lock, so a metric line and a log line never interleave. Emitting never raises: a line
that cannot be written is dropped (and counted in `dropped()`), the request goes on.
"""

import logging
import math
import time
from dataclasses import dataclass
from typing import Literal, TextIO

from pydantic_core import to_json

from service.config import Settings
from service.observability import stdout_handler

WebhookOutcome = Literal["delivered", "failed", "dead"]
WorkerOutcome = Literal["success", "failed"]

# Bounds the per-dimension-value cache: our dimension values (limit names, outcomes) are a
# handful; anything past this is rendered per call rather than remembered.
_MAX_CACHED_BODIES = 256
# CloudWatch's DimensionValue: 1 to 1024 characters.
_MAX_DIMENSION_VALUE = 1024
_OPENING = '{"_aws":{'


@dataclass(frozen=True, slots=True, eq=False)
class _Shape:
    """One kind of line: its metrics (name, unit), the dimension it carries (if any) and the
    dimension sets CloudWatch aggregates it under. Counts are always 1 (one line per event); a
    `timed` metric's value is appended per line. Hashed by identity (eq=False): a cache key
    costs nothing to hash."""

    counts: tuple[tuple[str, str], ...]
    dimension: str | None = None
    dimension_sets: tuple[tuple[str, ...], ...] = ((),)
    timed: tuple[str, str] | None = None


_REFUSALS = _Shape((("RateLimitRefusals", "Count"),), "Limit", (("Limit",), ()))
_LIMITER_FAILURES = _Shape((("LimiterFailures", "Count"),))
_WEBHOOK_DELIVERIES = _Shape((("WebhookDeliveries", "Count"),), "Outcome", (("Outcome",),))
_WORKER_RUNS = _Shape(
    (("WorkerRuns", "Count"),),
    "Outcome",
    (("Outcome",),),
    timed=("WorkerRunDuration", "Milliseconds"),
)
_DATABASE_UNAVAILABLE = _Shape((("DatabaseUnavailable", "Count"),))


def _render(namespace: str, shape: _Shape, value: str | None) -> str:
    """The line's JSON after `{"_aws":{` and before the closing `}`, minus the timestamp and any
    timed value: `"CloudWatchMetrics":[...]},"Limit":"items:create","RateLimitRefusals":1`."""
    definitions = [{"Name": name, "Unit": unit} for name, unit in shape.counts]
    if shape.timed is not None:
        definitions.append({"Name": shape.timed[0], "Unit": shape.timed[1]})
    directive = {
        "Namespace": namespace,
        "Dimensions": [list(names) for names in shape.dimension_sets],
        "Metrics": definitions,
    }
    document: dict[str, object] = {"_aws": {"CloudWatchMetrics": [directive]}}
    if shape.dimension is not None:
        document[shape.dimension] = (value or "unknown")[:_MAX_DIMENSION_VALUE]
    document.update((name, 1) for name, _ in shape.counts)
    rendered = to_json(document).decode()
    assert rendered.startswith(_OPENING) and rendered.endswith("}")
    return rendered[len(_OPENING) : -1]


class _Emitter:
    def __init__(self, namespace: str, handler: logging.StreamHandler[TextIO]) -> None:
        self.namespace = namespace
        self.handler = handler
        self.dropped = 0
        self._bodies: dict[tuple[_Shape, str | None], str] = {}

    def emit(self, shape: _Shape, value: str | None = None, timed: float | None = None) -> None:
        try:
            body = self._bodies.get((shape, value))
            if body is None:
                body = _render(self.namespace, shape, value)
                if len(self._bodies) < _MAX_CACHED_BODIES:
                    self._bodies[(shape, value)] = body
            if shape.timed is not None:
                body = f'{body},"{shape.timed[0]}":{timed or 0.0:.3f}'
            line = f'{{"_aws":{{"Timestamp":{time.time_ns() // 1_000_000},{body}}}\n'
            handler = self.handler
            with handler.lock:  # type: ignore[union-attr]
                handler.stream.write(line)
                handler.stream.flush()
        except Exception:
            self.dropped += 1


# Set by configure(); None: metrics off (LOG_JSON=false, or never configured).
_emitter: _Emitter | None = None


def configure(settings: Settings) -> None:
    """Once per process, after configure_logging (create_app, the worker's main): EMF lines on
    the JSON log's stdout when LOG_JSON is true, under METRICS_NAMESPACE; otherwise none."""
    global _emitter
    _emitter = _Emitter(settings.metrics_namespace, stdout_handler()) if settings.log_json else None


def dropped() -> int:
    """Lines that could not be written since configure() (stdout closed or broken)."""
    return _emitter.dropped if _emitter is not None else 0


def rate_limit_refused(limit: str) -> None:
    """A request answered 429 by limit `limit` (e.g. `items:create`)."""
    if _emitter is not None:
        _emitter.emit(_REFUSALS, limit)


def limiter_failed() -> None:
    """A rate-limit check the limiter could not make (Redis unreachable, or left alone while it
    backs off): the failure policy let the request through, or answered 503."""
    if _emitter is not None:
        _emitter.emit(_LIMITER_FAILURES)


def webhook_delivery(outcome: WebhookOutcome) -> None:
    """One webhook attempt's outcome: `delivered`, `failed` (will be retried) or `dead` (given
    up)."""
    if _emitter is not None:
        _emitter.emit(_WEBHOOK_DELIVERIES, outcome)


def worker_run(outcome: WorkerOutcome, duration_seconds: float) -> None:
    """One worker pass (`run-due`), `success` or `failed` (aborted by an error), and how long it
    took."""
    if _emitter is not None:
        milliseconds = duration_seconds * 1000
        if not math.isfinite(milliseconds) or milliseconds < 0:
            milliseconds = 0.0
        _emitter.emit(_WORKER_RUNS, outcome, milliseconds)


def database_unavailable() -> None:
    """A request answered 503 because the database could not be reached."""
    if _emitter is not None:
        _emitter.emit(_DATABASE_UNAVAILABLE)
