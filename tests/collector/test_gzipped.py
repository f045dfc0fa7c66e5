"""Report bodies' gzip: standard format whichever backend, bounded inflation, one member."""

from __future__ import annotations

import gzip
import zlib

import pytest

from sentinelle.collector import gzipped
from sentinelle.collector.gzipped import InflateRefused, compress, inflate_member

BODY = b'{"report_id": "r1", "results": []}' * 200


@pytest.fixture(params=["isal", "zlib"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs with ISA-L (the collector extra installs it) and with plain zlib."""
    if request.param == "zlib":
        monkeypatch.setattr(gzipped, "_backend", zlib)
        monkeypatch.setattr(gzipped, "ERRORS", (zlib.error,))
    else:
        assert gzipped.BACKEND == "isal", "python-isal is part of the collector extra"
    return str(request.param)


def test_compressed_bodies_are_standard_gzip(backend: str) -> None:
    packed = compress(BODY)
    assert packed[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed) == BODY
    assert len(packed) < len(BODY) // 10


def test_a_standard_gzip_member_inflates(backend: str) -> None:
    assert inflate_member(gzip.compress(BODY, 9), 1 << 20) == BODY


def test_a_bomb_stops_at_the_limit(backend: str) -> None:
    bomb = gzip.compress(b"\0" * (64 << 20), 9)  # 64 KiB that inflate to 64 MiB
    with pytest.raises(InflateRefused) as refused:
        inflate_member(bomb, 1 << 20)
    assert refused.value.reason == "too_large"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (gzip.compress(BODY) + gzip.compress(b"{}"), "trailing_data"),
        (gzip.compress(BODY)[:-12], "truncated"),
        (b"\x1f\x8b\x08\x00not really gzip at all", "invalid"),
        (BODY, "invalid"),
    ],
    ids=["second-member", "truncated", "corrupt", "not-gzip"],
)
def test_anything_but_one_complete_member_is_refused(
    backend: str, body: bytes, reason: str
) -> None:
    with pytest.raises(InflateRefused) as refused:
        inflate_member(body, 1 << 20)
    assert refused.value.reason == reason


def test_a_stored_bomb_is_not_inflated_past_the_limit_at_render() -> None:
    """Bodies older collectors stored unchecked are inflated under the push limit too."""
    from datetime import UTC, datetime

    from sentinelle.collector.fleet import HostEntry
    from sentinelle.collector.records import AgentRecord
    from sentinelle.collector.validate import Limits
    from sentinelle.model import Score

    agent = AgentRecord("agt_1", "01001", "srv", "h", datetime.now(UTC))
    entry = HostEntry(agent, body=gzip.compress(b" " * (64 << 20), 9), score=Score(90.0, "A"))
    with pytest.raises(InflateRefused) as refused:
        entry.report(Limits(max_decompressed_bytes=1 << 20))
    assert refused.value.reason == "too_large"
