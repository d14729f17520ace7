"""Password hashing, JWT handling and key derivation. No domain imports: domains depend on this,
not the reverse."""

import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_password_hash = PasswordHash((Argon2Hasher(),))
# Verifying against this when the user does not exist makes "unknown user" cost the same time
# as "wrong password", so response timing does not reveal which emails are registered.
_DUMMY_HASH = _password_hash.hash("dummy-password-for-timing-equalisation")


def hash_password(password: str) -> str:
    return _password_hash.hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    if hashed is None:
        _password_hash.verify(password, _DUMMY_HASH)
        return False
    return _password_hash.verify(password, hashed)


def derive_key(secret: str, purpose: str) -> bytes:
    """A 32-byte key for one `purpose`, derived from `secret` (HKDF-SHA256, RFC 5869, a fixed salt
    and one output block): each use of one secret gets its own independent key, and no key
    reveals the secret or another purpose's key, so nothing signed for one use verifies for
    another (a device cookie is not a JWT, nor the reverse)."""
    pseudorandom = hmac.digest(b"service.security.derive_key", secret.encode(), hashlib.sha256)
    return hmac.digest(pseudorandom, purpose.encode() + b"\x01", hashlib.sha256)


class InvalidTokenError(Exception):
    pass


def create_access_token(subject: str, *, secret: str, algorithm: str, expires_in: timedelta) -> str:
    now = datetime.now(UTC)
    claims = {"sub": subject, "iat": now, "exp": now + expires_in}
    return jwt.encode(claims, secret, algorithm=algorithm)


def decode_access_token(token: str, *, secret: str, algorithm: str) -> str:
    """Return the token's subject; raise InvalidTokenError for expired, forged or malformed ones."""
    subject, expires_at = _verified(token, secret, algorithm)
    if time.time() >= expires_at:  # checked on every use: a cached token still expires on time
        raise InvalidTokenError("Signature has expired")
    return subject


# A client sends the same token on every request until it expires. Verifying the signature and
# parsing the claims costs more CPU than the rest of a cached read, so each distinct token string
# is verified once per process; a forged or malformed one is never cached (the call raises).
@lru_cache(maxsize=4096)
def _verified(token: str, secret: str, algorithm: str) -> tuple[str, float]:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[algorithm], options={"require": ["sub", "exp"]}
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(str(exc)) from exc
    return str(claims["sub"]), float(claims["exp"])
