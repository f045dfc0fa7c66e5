"""Enrollment tokens and agent keys: random secrets of which the collector keeps only a hash.

Both are 256-bit random values, so a plain SHA-256 is a sound verifier (no password stretching
needed) and cheap enough for every push.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_agent_id() -> str:
    return "agt_" + secrets.token_hex(8)


def new_token_id() -> str:
    return "tok_" + secrets.token_hex(4)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def verify(secret: str, expected_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), expected_digest)
