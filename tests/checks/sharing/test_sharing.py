"""sharing.samba_protocol and sharing.samba_guest: recorded testparm outputs replayed on the
fixture trees, then the real testparm on smb.conf files the tests write (Samba's parser
decides synonyms, inverted synonyms, [global] defaults and its own defaults)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from sentinelle.checks.base import Check, CheckContext
from sentinelle.checks.sharing.checks import SambaGuest, SambaProtocol
from sentinelle.config import Config
from sentinelle.errors import CommandNotFound
from sentinelle.host import Host
from sentinelle.model import Finding, Severity, Status
from tests.checks.texts import RULES, remedy, rendered, summary
from tests.conftest import fixture_host, need_tool, recorded

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def run(cls: type[Check], host: Host, **params: Any) -> list[Finding]:
    meta = RULES.checks[cls.id]
    check = cls(meta, {**meta.params, **params}, CheckContext(Config(), RULES))
    findings = list(check.run(host))
    for f in findings:
        rendered(f)
    return findings


def replay(tree: str, stdout: str | None = None) -> Host:
    """The fixture tree with its recorded testparm output (or `stdout` in its place)."""
    record = json.loads((FIXTURES / f"{tree}.testparm.json").read_text())
    result = recorded(record["stdout"] if stdout is None else stdout, record["returncode"],
                      record["stderr"], argv=record["argv"])
    return fixture_host(FIXTURES / tree, commands={("testparm", "-s", "-v"): result})


def test_debians_own_smb_conf_passes_both() -> None:
    (protocol,) = run(SambaProtocol, replay("debian_default"))
    assert protocol.status is Status.PASS and protocol.message == "sharing.samba_protocol.modern"
    assert protocol.args == {"value": "SMB2_02", "minimum": "SMB2_02",
                             "path": "/etc/samba/smb.conf"}
    (guest,) = run(SambaGuest, replay("debian_default"))
    assert guest.status is Status.PASS and guest.args["count"] == 3
    assert guest.evidence["shares"] == ["homes", "print$", "printers"]
    assert summary(guest, "fr") == (
        "Aucun partage n'est ouvert en écriture aux invités (3 partages).")


def test_smb1_and_a_public_writable_share_fail() -> None:
    (protocol,) = run(SambaProtocol, replay("legacy_guest"))
    assert protocol.status is Status.FAIL and protocol.args["value"] == "NT1"
    assert protocol.severity is Severity.HIGH
    assert summary(protocol, "fr") == (
        "Samba accepte encore le protocole NT1 (plus ancien que SMB2_02) : SMB1 est autorisé.")
    assert "server min protocol = SMB2_02" in remedy(protocol, "fr")
    findings = run(SambaGuest, replay("legacy_guest"))
    # [scans] is read-only, [compta] has no guests, [printers] only spools print jobs.
    assert [(f.status, f.key) for f in findings] == [(Status.FAIL, "public")]
    (public,) = findings
    assert public.args == {"share": "public", "share_path": "/srv/samba/public",
                           "path": "/etc/samba/smb.conf"}
    assert public.evidence["map_to_guest"] == "Bad User"
    assert remedy(public, "fr").startswith("Dans /etc/samba/smb.conf, section [public], mettez")


def test_the_oldest_accepted_dialect_is_a_parameter() -> None:
    assert run(SambaProtocol, replay("legacy_guest"), minimum="LANMAN2")[0].status is Status.PASS
    assert run(SambaProtocol, replay("debian_default"), minimum="SMB3")[0].status is Status.FAIL


def test_a_configuration_samba_refuses_is_an_error() -> None:
    for cls in (SambaProtocol, SambaGuest):
        (f,) = run(cls, replay("broken"))
        assert f.status is Status.ERROR and f.message.endswith(".testparm_failed")
        assert "testparm exited 1" in f.evidence["reason"] and "SMB9" in f.evidence["reason"]


def test_a_dialect_name_sentinelle_does_not_know_is_an_error() -> None:
    # Edited from the recorded output: a future Samba's dialect name in place of NT1.
    record = json.loads((FIXTURES / "legacy_guest.testparm.json").read_text())
    stdout = record["stdout"].replace("server min protocol = NT1", "server min protocol = SMB4")
    (f,) = run(SambaProtocol, replay("legacy_guest", stdout))
    assert f.status is Status.ERROR and f.args["value"] == "SMB4"


def test_no_samba_no_server_no_testparm_are_skips(tmp_path: Path) -> None:
    for cls in (SambaProtocol, SambaGuest):
        (f,) = run(cls, fixture_host(tmp_path))
        assert f.status is Status.SKIP and f.evidence["reason"] == "no /etc/samba/smb.conf"
    conf = tmp_path / "etc/samba/smb.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("[global]\n")
    (f,) = run(SambaGuest, fixture_host(tmp_path))
    assert f.status is Status.SKIP and f.message == "sharing.samba_guest.no_server"
    (tmp_path / "usr/sbin").mkdir(parents=True)
    (tmp_path / "usr/sbin/smbd").touch()
    host = fixture_host(tmp_path, commands={("testparm",): CommandNotFound("testparm")})
    for cls in (SambaProtocol, SambaGuest):
        (f,) = run(cls, host)
        assert f.status is Status.SKIP and f.message == f"{cls.id}.no_testparm"


# The real testparm on files the tests write.


def real_tree(tmp_path: Path, smb_conf: str) -> Host:
    need_tool("testparm")
    (tmp_path / "etc/samba").mkdir(parents=True)
    (tmp_path / "etc/samba/smb.conf").write_text(smb_conf)
    (tmp_path / "usr/sbin").mkdir(parents=True)
    (tmp_path / "usr/sbin/smbd").touch()
    return Host(root=tmp_path)


def test_real_testparm_decides_synonyms_and_the_last_line(tmp_path: Path) -> None:
    host = real_tree(tmp_path, (
        "[global]\n  min protocol = LANMAN2\n  server min protocol = SMB2\n"
        "[depot]\n  path = /srv/depot\n  public = yes\n  read only = no\n  writeable = no\n"
        "[echange]\n  path = /srv/echange\n  guest ok = yes\n  writable = yes\n"))
    (protocol,) = run(SambaProtocol, host)
    # The later line wins and SMB2 is Samba's own alias (testparm prints it as written).
    assert protocol.status is Status.PASS and protocol.args["value"] == "SMB2"
    findings = run(SambaGuest, host)
    # [depot]: "writeable = no" after "read only = no" makes it read-only again.
    assert [(f.status, f.key) for f in findings] == [(Status.FAIL, "echange")]


def test_real_testparm_applies_a_guest_default_set_in_global(tmp_path: Path) -> None:
    host = real_tree(tmp_path, (
        "[global]\n  guest ok = yes\n  read only = no\n  server min protocol = NT1\n"
        "[archives]\n  path = /srv/archives\n"
        "[rh]\n  path = /srv/rh\n  guest ok = no\n"))
    assert run(SambaProtocol, host)[0].status is Status.FAIL
    findings = run(SambaGuest, host)
    assert [(f.status, f.key) for f in findings] == [(Status.FAIL, "archives")]


def test_real_testparm_default_protocol_and_refusal(tmp_path: Path) -> None:
    host = real_tree(tmp_path / "ok", "[global]\n  workgroup = MAIRIE\n")
    (protocol,) = run(SambaProtocol, host)
    assert protocol.status is Status.PASS and protocol.args["value"] == "SMB2_02"
    bad = real_tree(tmp_path / "bad", "[global]\n  server min protocol = SMB9\n")
    assert run(SambaGuest, bad)[0].status is Status.ERROR


def test_the_recordings_are_what_testparm_prints_today(tmp_path: Path) -> None:
    need_tool("testparm")
    for tree in ("debian_default", "legacy_guest", "broken"):
        copy = shutil.copytree(FIXTURES / tree, tmp_path / tree)
        replayed = run(SambaGuest, replay(tree))
        real = run(SambaGuest, Host(root=copy))
        assert [(f.status, f.message, f.args) for f in replayed] == [
            (f.status, f.message, f.args) for f in real], tree
