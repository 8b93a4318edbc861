"""Bearer tokens: made at random, shown once, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["hash_token", "new_token"]


def new_token() -> str:
    """A fresh token (256 bits of randomness, URL-safe)."""
    return "bb_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the users table stores: a token is long and random, so a plain SHA-256 suffices
    (no salt or slow hash needed, unlike passwords), and lookups stay one equality."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
