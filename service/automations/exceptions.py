from service.errors import ConflictError, InvalidRequestError, NotFoundError


class AutomationNotFound(NotFoundError):
    """Also what another user's automation is (admins included)."""

    def __init__(self) -> None:
        super().__init__("Automation not found")


class RunNotFound(NotFoundError):
    def __init__(self) -> None:
        super().__init__("Run not found")


class WebhookURLRefused(InvalidRequestError):
    """The webhook URL breaks the SSRF policy: a 422 at body.action.url naming the reason."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"Webhook URL refused: {reason}",
            loc=("body", "action", "url"),
            input=url,
            error_type="unsafe_url",
        )
        self.url = url
        self.reason = reason


class AutomationLimitReached(ConflictError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"Automation limit reached: a user may own {limit}")


class NotADeadDelivery(ConflictError):
    def __init__(self, status: str) -> None:
        super().__init__(f"Only a dead delivery can be redelivered; this run is {status}")
