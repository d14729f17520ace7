"""Domain exceptions, raised by service functions and mapped to HTTP in one place (main.py)."""


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(DomainError):
    status_code = 404


class ConflictError(DomainError):
    status_code = 409


class AuthenticationError(DomainError):
    status_code = 401


# What every refused bearer token gets (bad signature, expired, unknown or deactivated user): one
# answer, so a client cannot tell which.
INVALID_CREDENTIALS = "Could not validate credentials"


class ServiceUnavailableError(DomainError):
    status_code = 503
