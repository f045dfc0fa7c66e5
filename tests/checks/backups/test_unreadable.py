"""A location that cannot be read is one finding for that location, whose sentence says why:
the tool missing, silent, failing or printing what no reader understands, the folder refused,
unreadable or holding too much, a size that cannot be told. Refused for lack of a privilege it
is a skip that names the privilege."""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sentinelle.checks.backups import checks as backups_checks
from sentinelle.checks.backups import directory as backups_directory
from sentinelle.checks.backups import listing
from sentinelle.checks.backups.listing import Backup, Listing
from sentinelle.config import BackupLocation
from sentinelle.errors import CommandError, CommandNotFound, CommandTimeout
from sentinelle.host import CommandResult, Host
from sentinelle.model import Status
from tests.checks.backups.test_backups import (
    FRESHNESS,
    NOW,
    OFFLINE,
    SIZE,
    backup_file,
    make_config,
    run,
)
from tests.checks.texts import summary
from tests.conftest import fixture_host, recorded

REMOTE = "sftp:sauvegarde@nas.mairie.local:/srv/restic"


def remote_host(tmp_path: Path, answer: CommandResult | Exception) -> Host:
    def runner(argv: Sequence[str], timeout: float, env: Mapping[str, str] | None) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    return Host(root=tmp_path, runner=runner, clock=lambda: NOW)


def both(tmp_path: Path, host: Host, location: BackupLocation) -> list[Any]:
    """freshness and size_change on the same location (read once, as in a cycle)."""
    config = make_config(tmp_path / "state", location)
    return [*run(FRESHNESS, config, host), *run(SIZE, config, host)]


@pytest.mark.parametrize(
    ("answer", "case", "english"),
    [
        (CommandNotFound("restic: not installed"), "tool_missing",
         "nas: restic is not installed on this machine."),
        (CommandTimeout("restic: no answer after 60 s"), "tool_timeout",
         "nas: restic did not answer within 1 minute."),
        (CommandError("restic: [Errno 8] Exec format error"), "tool_error",
         "nas: restic could not be run: restic: [Errno 8] Exec format error"),
        (recorded("Fatal: unable to open config file\n"), "bad_output",
         "nas: the output of \"restic snapshots\" is not understood: "
         "'Fatal: unable to open config file\\n'"),
        (recorded('{"snapshots": []}'), "bad_output",
         "nas: the output of \"restic snapshots\" is not understood: {'snapshots': []}"),
    ],
)
def test_a_tool_that_cannot_answer(
    tmp_path: Path, answer: CommandResult | Exception, case: str, english: str
) -> None:
    found = both(tmp_path, remote_host(tmp_path, answer), BackupLocation("nas", "restic", REMOTE))
    for f in found:
        assert f.status is Status.ERROR and f.message.endswith(f".unreadable_{case}"), f
        assert summary(f) == english
        assert f.evidence["error"]  # the English detail stays in the evidence


def test_a_folder_whose_reading_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    backup_file(root, "/backups/a-1.tar.gz", 10, 1)
    host = fixture_host(root)

    def broken_glob(*args: Any) -> Any:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(host, "glob", broken_glob)
    for f in both(tmp_path, host, BackupLocation("nas", "directory", "/backups")):
        assert f.status is Status.ERROR and f.message.endswith(".unreadable_os_error")
        assert summary(f) == "nas: the backups cannot be read: /backups: Input/output error"


def test_a_folder_holding_too_much(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backups_directory, "MAX_SCANNED_FILES", 3)
    root = tmp_path / "root"
    for i in range(5):
        backup_file(root, f"/mirror/file{i}", 10, 1)
    location = BackupLocation("mirror", "directory", "/mirror")
    for f in both(tmp_path, fixture_host(root), location):
        assert f.message.endswith(".unreadable_too_many")
        assert "plus de 3 fichiers correspondent à « * » sous /mirror" in summary(f, "fr")


class DenyingOs:
    """The os module as an agent without the right sees it: one path refused."""

    def __init__(self, refused: Path) -> None:
        self.refused = refused

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def scandir(self, path: Any) -> Any:
        if Path(path) == self.refused:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return os.scandir(path)


@pytest.mark.parametrize("lacking", [["CAP_DAC_READ_SEARCH"], []])
def test_a_refused_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lacking: list[str]
) -> None:
    root = tmp_path / "root"
    backup_file(root, "/backups/a-1.tar.gz", 10, 1)
    monkeypatch.setattr(listing, "os", DenyingOs(root / "backups"))
    monkeypatch.setattr(listing, "missing", lambda *names: lacking)
    location = BackupLocation("nas", "directory", "/backups", offline=True)
    config = make_config(tmp_path / "state", location)
    host = fixture_host(root)
    found = [*run(FRESHNESS, config, host), *run(SIZE, config, host)]
    offline = run(OFFLINE, config, host)
    if lacking:  # the agent lacks the privilege: it says so, and does not judge
        for f in found:
            assert f.status is Status.SKIP and f.message.endswith(".unreadable_denied")
            assert "without CAP_DAC_READ_SEARCH" in summary(f)
            assert "CAP_DAC_READ_SEARCH" in f.evidence["reason"]
        [skip] = offline
        assert skip.status is Status.SKIP and skip.message == "backups.offline_copy.denied"
        assert summary(skip, "fr").startswith("Copies hors ligne non vérifiées : /backups (nas)")
    else:  # refused even with every privilege: an error
        for f in found:
            assert f.status is Status.ERROR and f.message.endswith(".unreadable_permission")
            assert summary(f) == "nas: the backups cannot be read: permission denied on /backups."
        assert [f.message for f in offline] == ["backups.offline_copy.unreadable"]


def test_a_size_that_cannot_be_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    location = BackupLocation("nas", "restic", REMOTE)
    backups = [Backup(f"snap{i}", NOW - timedelta(hours=i + 1), "srv:/data") for i in range(2)]
    monkeypatch.setattr(backups_checks, "read_location",
                        lambda host, loc, state: Listing(loc, backups))
    config = make_config(tmp_path / "state", location)
    host = fixture_host(tmp_path)
    [fresh] = run(FRESHNESS, config, host)
    assert fresh.status is Status.PASS and "size_error" in fresh.evidence  # the age is known
    [size] = run(SIZE, config, host)
    assert size.status is Status.ERROR and size.message == "backups.size_change.unreadable_no_size"
    assert summary(size) == "nas: restic backups have no known size."


def test_a_location_of_an_unknown_kind(tmp_path: Path) -> None:
    # The config refuses such a type; a location built otherwise still gets a clear error.
    for f in both(tmp_path, fixture_host(tmp_path), BackupLocation("tape", "tape", "/dev/st0")):
        assert f.status is Status.ERROR and f.message.endswith(".unreadable_unknown_kind")
        assert summary(f, "fr") == "tape : type d'emplacement de sauvegarde inconnu : tape."
