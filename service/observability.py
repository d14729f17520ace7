"""Logging setup, request ids and the access log, as one pure-ASGI middleware."""

import json
import logging
import re
import secrets
import sys
import time
from typing import Any, TextIO

from pydantic_core import to_json
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
# Accept a caller's id only if it cannot smuggle anything into logs or headers.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

access_logger = logging.getLogger("service.access")
logger = logging.getLogger(__name__)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(getattr(record, "fields", {}))
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        # pydantic-core's serializer: the same JSON as json.dumps(default=str), compact, in a
        # quarter of the time (one line per request).
        return to_json(payload, fallback=str).decode()


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", {})
        if fields:
            line += " " + " ".join(f"{key}={value}" for key, value in fields.items())
        return line


# The name of the stdout handler configure_logging installs on the root logger.
STDOUT_HANDLER = "service.stdout"


def configure_logging(*, level: str, json_output: bool) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.set_name(STDOUT_HANDLER)
    if json_output:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    # One access-log line per request: skip gathering what no formatter here prints (the
    # caller's file and line walk the stack; thread and process names), as the logging HOWTO's
    # "Optimization" section documents.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Our access log replaces uvicorn's, which would log the raw URL (query strings can hold data).
    logging.getLogger("uvicorn.access").disabled = True


def stdout_handler() -> logging.StreamHandler[TextIO]:
    """The handler configure_logging installed, for lines written outside `logging` (the EMF
    metrics, service/metrics.py): one write under its lock, so no line interleaves with a log
    line. Before configure_logging, a handler of its own on stdout."""
    for handler in logging.getLogger().handlers:
        if handler.get_name() == STDOUT_HANDLER and isinstance(handler, logging.StreamHandler):
            return handler
    return logging.StreamHandler(sys.stdout)


def request_id_from(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SANE_REQUEST_ID.match(candidate):
                return candidate
            break
    return secrets.token_hex(16)  # 128 random bits, like a uuid4's hex without the object


# The routes that answer without scope["route"] (FastAPI's docs pages and schema): static paths,
# so each is its own template. Nothing else's path is ever logged.
STATIC_ROUTES = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


def route_template(scope: Scope, status_code: int) -> str:
    """The matched route's template (`/items/{item_id}`), never the raw URL, which can carry ids,
    data or forged log lines (`/items/1%0AWARNING ...`). FastAPI sets scope["route"] for API
    routes only; the docs routes are named from STATIC_ROUTES; anything else is `<unmatched>`."""
    route = scope.get("route")
    if route is not None and hasattr(route, "path"):
        return route.path
    if status_code < 400 and scope["path"] in STATIC_ROUTES:
        return scope["path"]
    return "<unmatched>"


class RequestContextMiddleware:
    """Gives every request an id (echoed in X-Request-ID) and writes one access-log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_code = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status_code, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_code = message["status"]
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            if response_started:
                # Too late to answer. Re-raise: it may be an outer layer's own signal (Starlette's
                # body limit raises through `send` once its 413 is out), else the server logs it.
                raise
            # The error boundary: log the trace, answer with the request id and nothing internal.
            logger.exception("unhandled error", extra={"fields": {"request_id": request_id}})
            await _send_json(
                send_with_request_id,
                500,
                {"detail": "Internal server error", "request_id": request_id},
            )
        finally:
            route = route_template(scope, status_code)
            access_logger.info(
                "request",
                extra={
                    "fields": {
                        "method": scope["method"],
                        "route": route,
                        "status": status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "request_id": request_id,
                    }
                },
            )


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
