"""Gzip for Report bodies: Intel's ISA-L (python-isal, in the collector extra) when it is
installed, the standard zlib otherwise.

Both read and write standard gzip, so bodies stored by either are read by either. ISA-L
compresses a Report at level 1 in a quarter of zlib's time and inflates it in half: on the
ingest path (inflate the push, compress the canonical form) and at each scrape (inflate every
host a render needs) that is most of the time spent on compression.
"""

from __future__ import annotations

import zlib
from types import ModuleType
from typing import Any

_backend: ModuleType
try:
    from isal import isal_zlib as _backend
except ImportError:  # no wheel for this platform: the same format, only slower
    _backend = zlib

GZIP_WBITS = 31  # zlib's "gzip header and trailer" mode
ERRORS: tuple[type[Exception], ...] = (zlib.error, _backend.error)
BACKEND = "isal" if _backend is not zlib else "zlib"


class InflateRefused(ValueError):
    """A body that is not one complete gzip member within the size limit; the message says
    which of those it broke."""

    def __init__(self, reason: str) -> None:
        self.reason = reason  # "invalid", "too_large", "truncated", "trailing_data"
        super().__init__(reason)


def compress(data: bytes) -> bytes:
    """`data` as one gzip member at level 1 (fast; Reports compress about tenfold anyway)."""
    return bytes(_backend.compress(data, 1, wbits=GZIP_WBITS))


def inflater() -> Any:
    """A gzip decompression object (the zlib API: decompress with max_length, eof,
    unconsumed_tail, unused_data)."""
    return _backend.decompressobj(GZIP_WBITS)


def inflate_member(body: bytes, limit: int) -> bytes:
    """The one gzip member that `body` must be, inflated: at most `limit` bytes are produced
    (a gzip bomb stops there), and data after the member is refused, not ignored."""
    decompressor = inflater()
    try:
        out: bytes = decompressor.decompress(body, limit + 1)
    except ERRORS as exc:
        raise InflateRefused("invalid") from exc
    if len(out) > limit or decompressor.unconsumed_tail:
        raise InflateRefused("too_large")
    if not decompressor.eof:
        raise InflateRefused("truncated")
    if decompressor.unused_data:
        raise InflateRefused("trailing_data")
    return out
