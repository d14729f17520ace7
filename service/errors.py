"""The domain errors' base: each knows its HTTP status, and service/errors_http.py turns any of
them into a response in one handler. Domains raise their own subclasses (service/<domain>/
exceptions.py); service functions never raise HTTPException."""

from typing import Any


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail}

    def headers(self) -> dict[str, str] | None:
        return None


class NotFoundError(DomainError):
    status_code = 404


class ConflictError(DomainError):
    status_code = 409


class AuthenticationError(DomainError):
    status_code = 401

    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": "Bearer"}


class InvalidRequestError(DomainError):
    """A field's value is refused by a domain rule the schema cannot express: FastAPI's 422
    shape, naming the field, like a validation error."""

    status_code = 422

    def __init__(self, detail: str, *, loc: tuple[str, ...], input: Any, error_type: str) -> None:
        super().__init__(detail)
        self.loc = loc
        self.input = input
        self.error_type = error_type

    def body(self) -> dict[str, Any]:
        error = {"type": self.error_type, "loc": list(self.loc), "msg": self.detail}
        return {"detail": [error | {"input": self.input}]}
