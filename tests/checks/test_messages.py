"""Every sentence of every check, rendered in French and in English with the arguments the
checks really pass.

The arguments come from the checks themselves: every finding a check makes in the tests of
tests/checks (fixture trees that put each check in each of its states, recorded by conftest.py)
and in a cycle of every check on this machine (below). Rendering is strict: a message id missing
from the catalogs or a placeholder the finding does not fill fails, and so does a French text
that is the English one. When the whole of tests/checks runs, every declared message must have
been reached by some finding.

This file runs after the family folders (pytest collects tests/checks in name order).
"""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest

from sentinelle.host import Host
from sentinelle.i18n import LANGS, MessageError
from sentinelle.runner import build_setup, run_checks
from tests.checks.texts import RULES, SAID, Said
from tests.conftest import need_tool

HERE = Path(__file__).resolve().parent
FAMILY_MODULES = sorted(p.relative_to(HERE.parents[1]).as_posix()
                        for p in HERE.glob("*/test_*.py"))
_FORMATTER = string.Formatter()


def declared() -> dict[str, str]:
    """Every message id of every check (its cases and its remediation) -> the check id."""
    return {msg_id: meta.id for meta in RULES.checks.values() for msg_id in meta.messages}


def forms(msg_id: str, lang: str) -> dict[str, str]:
    """The message's texts in `lang` by plural form ("" for a message without plural)."""
    text = RULES.catalog.get(msg_id).texts[lang]
    return {"": text} if isinstance(text, str) else dict(text)


def test_every_message_is_written_in_both_languages() -> None:
    for msg_id, check_id in declared().items():
        message = RULES.catalog.get(msg_id)  # MessageError: not in the catalogs
        assert message.source == RULES.checks[check_id].source, msg_id
        names = {}
        for lang in LANGS:
            assert lang in message.texts, (msg_id, lang)
            names[lang] = {(name, spec) for name, spec in message.placeholders(lang)}
        # The same arguments, formatted the same way, in both languages.
        assert names["fr"] == names["en"], msg_id
        french, english = forms(msg_id, "fr"), forms(msg_id, "en")
        assert "other" in french if message.plural else set(french) == {""}, msg_id
        for form, text in french.items():
            assert text != english.get(form, english.get("other")), (
                f"{msg_id}: the French text is the English one")
        if message.plural is not None:  # the count that chooses the form is an argument
            assert message.plural in {name for name, _ in names["fr"]}, msg_id


def machine_config(tmp_path: Path) -> Path:
    """backups in every state a directory location can be in, and a scan of loopback."""
    fresh, stale, offline = (tmp_path / n for n in ("nas", "old", "usb"))
    for directory, hours in ((fresh, (1, 25)), (stale, (100, 200)), (offline, (30, 60))):
        directory.mkdir()
        for n, age in enumerate(hours):
            path = directory / f"mairie-{n}.tar.gz"
            # The stale folder's newest backup also shrank to a quarter of the previous one.
            path.write_bytes(b"x" * (1000 + 3000 * n) if directory == stale else b"x" * 4000)
            stamp = path.stat().st_mtime - age * 3600
            os.utime(path, (stamp, stamp))
    config = tmp_path / "agent.yaml"
    config.write_text(
        f"agent: {{state_dir: {tmp_path / 'state'}}}\n"
        "ports: {scan_targets: [127.0.0.1, '::1'], scan_ports: '22,23,445,3389,5900-5910'}\n"
        "backups:\n  locations:\n"
        f"    - {{name: nas, type: directory, path: {fresh}, pattern: '*.tar.gz'}}\n"
        f"    - {{name: ancien, type: directory, path: {stale}}}\n"
        f"    - {{name: absent, type: directory, path: {tmp_path / 'absent'}}}\n"
        f"    - {{name: usb, type: directory, path: {offline}, offline: true}}\n",
        encoding="utf-8",
    )
    return config


def test_every_check_speaks_on_this_machine(tmp_path: Path) -> None:
    need_tool("nmap")
    before = len(SAID)
    setup = build_setup(machine_config(tmp_path))
    report = run_checks(setup, Host("/"))
    # Every check this platform can be asked (the Windows-only ones are not, on Linux).
    from sentinelle.checks.base import registry

    reg = registry()
    assert {r.check for r in report.checks} == {
        c for c in RULES.checks if c not in reg or "linux" in reg[c].platforms}
    # Every finding came from a check's own messages (none from the runner: none failed), or
    # for a declarative check from the shared policy.skip.* (what it could not see here).
    own = [f for f in report.results if not (
        f.check in RULES.policies and str(f.message).startswith("policy.skip."))]
    assert all(f.message and f.message.startswith(f.check + ".") for f in own), [
        (f.check, f.message, f.args) for f in report.results if f.message == "runner.failed"]
    assert len(SAID) - before >= len(own)


def test_every_message_renders_with_the_arguments_checks_pass(
    request: pytest.FixtureRequest,
) -> None:
    assert SAID, "no finding recorded: run tests/checks (conftest.py records them)"
    seen: set[str] = set()
    for said in SAID:
        seen.add(said.message)
        assert said.message in declared(), f"{said.check}: message {said.message} not declared"
        rendered = {lang: render(said, said.message, lang) for lang in LANGS}
        assert rendered["fr"] != rendered["en"], said
        if said.status.is_open:  # what to do, where a person is asked to act
            remedy = f"{said.check}.remediation"
            fixes = {lang: render(said, remedy, lang) for lang in LANGS}
            assert fixes["fr"] != fixes["en"], said
    if not whole_run(request):
        pytest.skip("every message reached: only checked when all of tests/checks runs")
    # The declarative checks' cases are reached in tests/policies (test_messages.py there).
    unreached = {m for m, check in declared().items() if not m.endswith(".remediation")
                 and check not in RULES.policies} - seen
    assert not unreached, f"messages no test puts a check in: {sorted(unreached)}"


def render(said: Said, msg_id: str, lang: str) -> str:
    try:
        text = RULES.catalog.render(msg_id, said.args, lang, strict=True)
    except MessageError as exc:
        raise AssertionError(f"{said.check} ({said.status}): {exc}; args {said.args}") from exc
    return text


def whole_run(request: pytest.FixtureRequest) -> bool:
    """Whether this session ran every test of every family's test modules."""
    config = request.config
    if config.option.keyword or config.option.markexpr or getattr(config, "_checks_deselected",
                                                                   False):
        return False
    if any("::" in str(arg) for arg in config.args):
        return False
    ran = {item.nodeid.split("::", 1)[0] for item in request.session.items}
    return set(FAMILY_MODULES) <= ran
