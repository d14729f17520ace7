"""RateLimit-* headers on every response of a limited route."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.ratelimit.storage import Decision

# Where the decision for the current request waits for RateLimitHeadersMiddleware (request.state).
STATE_KEY = "rate_limit"
_HEADER_NAMES = {b"ratelimit-limit", b"ratelimit-remaining", b"ratelimit-reset"}


class RateLimitHeadersMiddleware:
    """Adds RateLimit-Limit/-Remaining/-Reset to every response of a limited route (successes,
    429s and errors raised after the check alike). Pure ASGI, like RequestContextMiddleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            decision: Decision | None = state.get(STATE_KEY)
            if message["type"] == "http.response.start" and decision is not None:
                headers = [
                    (key, value)
                    for key, value in message.get("headers", [])
                    if key.lower() not in _HEADER_NAMES
                ]
                headers.extend(
                    (key.lower().encode("latin-1"), value.encode("latin-1"))
                    for key, value in decision.headers().items()
                )
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
