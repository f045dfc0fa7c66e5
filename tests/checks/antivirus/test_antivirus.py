"""antivirus.engine on /proc and configuration trees; antivirus.signatures on database headers
that the real `sigtool --info` reads the same way."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentinelle.checks.antivirus.checks import AntivirusEngine, AntivirusSignatures
from sentinelle.checks.antivirus.clamav import HeaderError, parse_header
from sentinelle.checks.base import Check, CheckContext
from sentinelle.config import Config
from sentinelle.model import Finding, Status
from sentinelle.rules import load_rules
from tests.checks.texts import remedy, rendered, summary
from tests.conftest import FIXED_NOW, fixture_host, need_tool

RULES = load_rules()
FIXTURES = Path(__file__).parent / "fixtures"


def run(cls: type[Check], root: Path, **params: Any) -> list[Finding]:
    meta = RULES.checks[cls.id]
    found = list(cls(meta, {**meta.params, **params},
                     CheckContext(Config(), RULES)).run(fixture_host(root)))
    for f in found:
        rendered(f, RULES)
    return found


def one(cls: type[Check], root: Path, **params: Any) -> Finding:
    (finding,) = run(cls, root, **params)
    return finding


def header(built: datetime, version: int = 27838, stime: bool = True) -> bytes:
    """A database header as freshclam leaves it (libclamav cvd.c), padded to 512 bytes."""
    text = (f"ClamAV-VDB:{built.strftime('%d %b %Y %H-%M %z')}:{version}:2071234:90:"
            f"0123456789abcdef0123456789abcdef:X:raynman")
    if stime:
        text += f":{int(built.timestamp())}"
    return text.encode().ljust(512, b" ") + b"\x1f\x8b\x08\x00"


def clamav_tree(root: Path, **databases: datetime) -> Path:
    (root / "etc/clamav").mkdir(parents=True)
    shutil.copy(FIXTURES / "freshclam.conf", root / "etc/clamav/freshclam.conf")
    (root / "var/lib/clamav").mkdir(parents=True)
    for name, built in databases.items():
        suffix = ".cld" if name == "daily" else ".cvd"
        (root / "var/lib/clamav" / f"{name}{suffix}").write_bytes(header(built))
        # The file's date says nothing: a restored copy is "new".
        os.utime(root / "var/lib/clamav" / f"{name}{suffix}",
                 (FIXED_NOW.timestamp(), FIXED_NOW.timestamp()))
    return root


# antivirus.signatures


def test_fresh_daily_passes_even_with_an_old_main(tmp_path: Path) -> None:
    root = clamav_tree(tmp_path, daily=FIXED_NOW - timedelta(hours=20),
                       main=FIXED_NOW - timedelta(days=400))
    f = one(AntivirusSignatures, root)
    assert f.status is Status.PASS and f.args["database"] == "daily"
    assert f.args["age"] == 20 * 3600
    assert set(f.evidence["databases"]) == {"daily", "main"}


def test_old_signatures_fail_whatever_the_files_date(tmp_path: Path) -> None:
    # Lynis passes when freshclam runs; these signatures are five days old.
    root = clamav_tree(tmp_path, daily=FIXED_NOW - timedelta(days=5))
    f = one(AntivirusSignatures, root)
    assert f.status is Status.FAIL and f.message == "antivirus.signatures.stale"
    assert f.args["built"] == "2026-11-23T12:00:00Z" and f.args["limit"] == 3 * 86400
    assert "il y a 5 jours" in summary(f, "fr", RULES)
    assert remedy(f, "fr", RULES).startswith("Vérifiez que le service de mise à jour")
    assert one(AntivirusSignatures, root, max_age_days=7).status is Status.PASS


def test_no_daily_database(tmp_path: Path) -> None:
    f = one(AntivirusSignatures, clamav_tree(tmp_path, main=FIXED_NOW))
    assert f.status is Status.FAIL and f.message == "antivirus.signatures.missing"


def test_no_database_at_all(tmp_path: Path) -> None:
    # This machine: clamav installed, freshclam never got any database.
    f = one(AntivirusSignatures, clamav_tree(tmp_path))
    assert f.status is Status.FAIL and f.message == "antivirus.signatures.none"
    assert f.args == {"directory": "/var/lib/clamav"}


def test_a_damaged_file_is_an_error_and_the_others_are_judged(tmp_path: Path) -> None:
    root = clamav_tree(tmp_path, daily=FIXED_NOW - timedelta(hours=2))
    (root / "var/lib/clamav/bytecode.cvd").write_bytes(b"<html>proxy error</html>")
    found = {f.message: f for f in run(AntivirusSignatures, root)}
    assert found["antivirus.signatures.unreadable"].status is Status.ERROR
    assert found["antivirus.signatures.fresh"].status is Status.PASS


def test_the_newer_of_a_cvd_and_a_cld_counts(tmp_path: Path) -> None:
    root = clamav_tree(tmp_path, daily=FIXED_NOW - timedelta(hours=2))
    (root / "var/lib/clamav/daily.cvd").write_bytes(header(FIXED_NOW - timedelta(days=30)))
    assert one(AntivirusSignatures, root).status is Status.PASS


def test_the_database_directory_comes_from_freshclam_conf(tmp_path: Path) -> None:
    root = clamav_tree(tmp_path)
    conf = root / "etc/clamav/freshclam.conf"
    conf.write_text(conf.read_text().replace("DatabaseDirectory /var/lib/clamav",
                                             "DatabaseDirectory /srv/clamav"))
    (root / "srv/clamav").mkdir(parents=True)
    (root / "srv/clamav/daily.cld").write_bytes(header(FIXED_NOW - timedelta(hours=1)))
    f = one(AntivirusSignatures, root)
    assert f.status is Status.PASS and f.evidence["directory"] == "/srv/clamav"


def test_no_clamav_is_a_skip(tmp_path: Path) -> None:
    f = one(AntivirusSignatures, tmp_path)
    assert f.status is Status.SKIP and f.message == "antivirus.signatures.no_clamav"


def test_headers_without_stime_use_the_text_date() -> None:
    built = datetime(2026, 12, 1, 7, 28, tzinfo=UTC)
    assert parse_header(header(built, stime=False))[0] == built
    with pytest.raises(HeaderError):
        parse_header(b"ClamAV-VDB:yesterday:1:2")


def test_sigtool_reads_the_same_build_time(tmp_path: Path) -> None:
    sigtool = need_tool("sigtool")
    built = datetime(2026, 12, 1, 7, 28, tzinfo=UTC)
    path = tmp_path / "daily.cvd"
    path.write_bytes(header(built))
    out = subprocess.run([sigtool, "--info", str(path)], capture_output=True, text=True,
                         timeout=30, check=False).stdout
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    assert fields["Build time"] == "01 Dec 2026 07:28 +0000"
    assert fields["Version"] == "27838"
    assert datetime.strptime(fields["Build time"], "%d %b %Y %H:%M %z") == \
        parse_header(path.read_bytes())[0]


# antivirus.engine


def server(root: Path, *programs: str, smbd: bool = False, nfs: str = "",
           packages: tuple[str, ...] = ()) -> Path:
    for pid, name in enumerate(["systemd", "sshd", *programs], start=1):
        (root / "proc" / str(pid)).mkdir(parents=True)
        (root / "proc" / str(pid) / "comm").write_text(name + "\n")
    (root / "etc/samba").mkdir(parents=True)
    shutil.copy(FIXTURES / "smb.conf", root / "etc/samba/smb.conf")
    (root / "usr/sbin").mkdir(parents=True)
    if smbd:
        (root / "usr/sbin/smbd").write_text("")
    if nfs:
        (root / "usr/sbin/rpc.nfsd").write_text("")
        (root / "etc/exports").write_text(f"# /etc/exports\n{nfs}\n")
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("".join(
        f"Package: {p}\nStatus: install ok installed\nVersion: 1.4.6\n\n" for p in packages))
    return root


def test_not_a_file_server_without_smbd_even_with_debians_smb_conf(tmp_path: Path) -> None:
    f = one(AntivirusEngine, server(tmp_path))
    assert f.status is Status.PASS and f.message == "antivirus.engine.not_file_server"
    assert f.evidence["samba_shares"] == []


def test_a_samba_server_without_an_engine_fails(tmp_path: Path) -> None:
    f = one(AntivirusEngine, server(tmp_path, "smbd", smbd=True))
    assert f.status is Status.FAIL and f.message == "antivirus.engine.missing_on_file_server"
    assert f.args == {"shares": ["homes"]}  # [printers] and [print$] are not file shares
    assert remedy(f, "fr", RULES).startswith("Installez et démarrez un antivirus")


def test_an_nfs_server_without_an_engine_fails(tmp_path: Path) -> None:
    f = one(AntivirusEngine, server(tmp_path, nfs="/srv/partage 192.168.1.0/24(rw,sync)"))
    assert f.args == {"shares": ["/srv/partage"]}


def test_clamd_running_passes(tmp_path: Path) -> None:
    f = one(AntivirusEngine, server(tmp_path, "clamd", "smbd", smbd=True))
    assert f.status is Status.PASS and f.args == {"engines": ["clamd"]}


def test_installed_but_stopped_fails(tmp_path: Path) -> None:
    f = one(AntivirusEngine, server(tmp_path, smbd=True, packages=("clamav-daemon",)))
    assert f.status is Status.FAIL and f.message == "antivirus.engine.stopped"


def test_required_everywhere_is_a_parameter(tmp_path: Path) -> None:
    f = one(AntivirusEngine, server(tmp_path), required_everywhere=True)
    assert f.status is Status.FAIL and f.message == "antivirus.engine.missing"


def test_no_proc_is_a_skip(tmp_path: Path) -> None:
    f = one(AntivirusEngine, tmp_path)
    assert f.status is Status.SKIP and f.message == "antivirus.engine.no_proc"
