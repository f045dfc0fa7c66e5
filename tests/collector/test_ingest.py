"""Group commit: pushes already on their way are stored in the same transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sentinelle.collector.ingest import GroupCommitter
from sentinelle.collector.records import AgentRecord, Commune, IncomingReport
from sentinelle.collector.store.sqlite import SQLiteStore

SPACING = 0.05  # seconds between two pushes reaching the queue


def _stored_in_batches(tmp_path: Path, commit_delay: float) -> int:
    store = SQLiteStore(str(tmp_path / f"c-{commit_delay}.db"))
    store.migrate()
    store.upsert_commune(Commune("01001", "A", "01"))
    now = datetime.now(UTC)
    store.add_agent(AgentRecord("agt_1", "01001", "srv", "h", now))
    committer = GroupCommitter(store, batch_max=64, commit_delay=commit_delay)

    async def pushes() -> list[bool]:
        # As the server does: a push counts as on its way from authentication until queued.
        committer.on_the_way = 1
        futures = []
        for i in range(5):
            futures.append(committer.submit(
                IncomingReport(f"r-{i}", "agt_1", "01001", "srv", now, now, 90.0, "A", b"x")))
            await asyncio.sleep(SPACING)
        committer.on_the_way = 0
        return list(await asyncio.gather(*futures))

    try:
        assert asyncio.run(pushes()) == [True] * 5
        assert store.count_reports() == 5
        return committer.batches
    finally:
        committer.close()
        store.close()


def test_pushes_on_their_way_share_one_commit(tmp_path: Path) -> None:
    assert _stored_in_batches(tmp_path, commit_delay=1.0) == 1


def test_without_the_delay_the_pushes_are_committed_apart(tmp_path: Path) -> None:
    """The contrast that shows the delay is what gathers them."""
    assert _stored_in_batches(tmp_path, commit_delay=0.0) > 1
