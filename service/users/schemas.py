from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
)

# NIST SP 800-63B 5.1.1.2: at least 8 characters, no composition rules; 128 bounds the hashing work.
Password = Annotated[str, Field(min_length=8, max_length=128)]


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list (common_passwords.txt names its source), read once per process."""
    text = files("service.users").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(
        line for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def password_refusal(password: str, *, email: str | None) -> str | None:
    """Why `password` may not be chosen (NIST SP 800-63B's blocklist checks), or None.

    Refused: whitespace only (NUL and other control characters count as blank too), a common
    password from the bundled list, the email itself or its local part (case-insensitive)."""
    if not "".join(ch for ch in password if ch.isprintable() and not ch.isspace()):
        return "must not be blank (only whitespace or control characters)"
    folded = password.strip().casefold()
    if folded in common_passwords():
        return "is too common (it appears in lists of breached passwords); choose another"
    if email:
        address = email.casefold()
        if folded in (address, address.rpartition("@")[0]):
            return "must not be the email address or its local part"
    return None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: Password

    @field_validator("password")
    @classmethod
    def _not_a_weak_password(cls, password: str, info: ValidationInfo) -> str:
        # `email` is declared first, so it is validated first: absent here when it was invalid.
        reason = password_refusal(password, email=info.data.get("email"))
        if reason is not None:
            raise ValueError(f"password {reason}")
        return password


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: EmailStr
    is_active: bool
    is_admin: bool
    created_at: datetime


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
