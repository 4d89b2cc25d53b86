"""Password hashing with the standard library's scrypt (memory-hard, no extra dependency)."""

import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def check_password(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=len(digest) // 2
    )
    return hmac.compare_digest(candidate.hex(), digest)


def is_password_hash(stored: str | None) -> bool:
    """A hash check_password can verify (the system user's "!" is none)."""
    return stored is not None and stored.startswith("scrypt$") and stored.count("$") == 5


def dummy_hash() -> str:
    """A well-formed hash no password matches, with today's cost: checked for unknown users so that
    they are answered in the same time as real ones."""
    return f"scrypt${_N}${_R}${_P}${'00' * 16}${'00' * 32}"
