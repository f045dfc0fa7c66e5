"""The sentences of declarative checks: the shipped policies' and the shared policy.skip.* and
policy.error.* ones, each reached by a test of this folder and rendered in both languages with
the arguments the findings really carry (strictly: a missing argument fails). Runs after the
folder's other modules (pytest collects them in name order)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinelle.i18n import LANGS
from tests.policies.helpers import BASE, SAID

HERE = Path(__file__).resolve().parent
MODULES = sorted(p.relative_to(HERE.parents[1]).as_posix() for p in HERE.glob("test_*.py"))


def shared() -> set[str]:
    return {m.id for m in BASE.catalog if m.id.startswith(("policy.skip.", "policy.error."))}


def shipped() -> set[str]:
    return {msg_id for check_id in BASE.policies for msg_id in BASE.checks[check_id].messages
            if not msg_id.endswith(".remediation")}


def test_the_shared_sentences_are_written_in_both_languages() -> None:
    for msg_id in shared() | shipped():
        message = BASE.catalog.get(msg_id)
        names = [{n for n, _ in message.placeholders(lang)} for lang in LANGS]
        assert names[0] == names[1], msg_id
        assert message.texts["fr"] != message.texts["en"], msg_id


def test_every_sentence_is_reached_and_renders(request: pytest.FixtureRequest) -> None:
    assert SAID, "no finding recorded (conftest.py records them)"
    seen: set[str] = set()
    for f in SAID:
        assert f.message is not None
        if f.message not in BASE.catalog:
            continue  # a test's own policy, rendered by its test
        seen.add(f.message)
        texts = {lang: BASE.catalog.render(f.message, f.args, lang, strict=True)
                 for lang in LANGS}
        assert texts["fr"] != texts["en"], f
        if f.status.is_open:
            for lang in LANGS:
                BASE.catalog.render(f"{f.check}.remediation", f.args, lang, strict=True)
    config = request.config
    ran = {item.nodeid.split("::", 1)[0] for item in request.session.items}
    if (config.option.keyword or getattr(config, "_policies_deselected", False)
            or not set(MODULES) <= ran):
        pytest.skip("every sentence reached: only checked when the whole folder runs")
    assert (shared() | shipped()) - seen == set()
