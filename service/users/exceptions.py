from service.errors import AuthenticationError, ConflictError, NotFoundError

# What every refused bearer token gets (bad signature, expired, unknown or deactivated user): one
# answer, so a client cannot tell which.
INVALID_CREDENTIALS = "Could not validate credentials"


class InvalidToken(AuthenticationError):
    def __init__(self) -> None:
        super().__init__(INVALID_CREDENTIALS)


class IncorrectPassword(AuthenticationError):
    """A login with a wrong password and with an unknown email answer alike."""

    def __init__(self) -> None:
        super().__init__("Incorrect email or password")


class EmailAlreadyRegistered(ConflictError):
    def __init__(self) -> None:
        super().__init__("A user with this email already exists")


class UserNotFound(NotFoundError):
    def __init__(self, email: str) -> None:
        super().__init__(f"No user with email {email}")
