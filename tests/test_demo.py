"""`sentinelle demo` on a fresh directory: collector, agent, Prometheus, then a clean stop, its
lines in the language asked for (catalog text, `cli.demo.…`), never a word of the other."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.speech import CATALOG, foreign_in, say
from tests.conftest import need_tool

ROOT = Path(__file__).resolve().parent.parent
COMMUNE = ("01001", "L'Abergement-Clémenciat")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_demo_runs_end_to_end_and_stops(tmp_path: Path, lang: str) -> None:
    need_tool("prometheus")
    directory = tmp_path / "demo"
    out = subprocess.run(
        [sys.executable, "-m", "sentinelle.cli", "demo", "--dir", str(directory),
         "--duration", "2", "--lang", lang],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
        # The reader's language is the other one: --lang wins.
        env={**os.environ, "PYTHONPATH": str(ROOT), "SENTINELLE_LANG": "en" if lang == "fr"
             else "fr"},
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    lines = text.splitlines()
    code, name = COMMUNE
    assert lines[0] == say("cli.demo.files", lang, path=str(directory))
    assert re.fullmatch(re.escape(say("cli.demo.collector", lang, url="URL", code=code,
                                      name=name)).replace("URL", r"http://127\.0\.0\.1:\d+"),
                        lines[1]), lines[1]
    assert lines[3] == say("cli.demo.running", lang)
    # This machine's real posture, in the same language.
    table = {"fr": ("Mises à jour en attente", "Niveau :"), "en": ("Pending updates", "Grade:")}
    assert all(words in text for words in table[lang])
    assert say("cli.demo.stored", lang, count=1, code=code) in lines
    score = say("cli.demo.prometheus_score", lang, code=code, score=999, grade="Z")
    assert any(re.fullmatch(re.escape(score).replace("999", r"\d+").replace("Z", "[A-E]"), x)
               for x in lines), text
    assert lines[-1] == say("cli.demo.stopped", lang)
    assert "\n" + say("cli.demo.stops_in", lang, seconds=2) + "\n" in text
    ids = [m.id for m in CATALOG if m.id.startswith("cli.demo.")]
    summary = "\n".join([*lines[:5], *lines[lines.index(say("cli.demo.stored", lang, count=1,
                                                                 code=code)):]])
    checks = re.findall(r"\b[a-z]+\.[a-z_]+\b", summary)  # check ids, as they are
    assert foreign_in(summary, ids, lang, [name, *checks]) == set()
    assert (directory / "agent/credentials.json").stat().st_mode & 0o077 == 0
    # Nothing it started is left running.
    left = subprocess.run(["pgrep", "-f", str(directory)], capture_output=True,
                          text=True, check=False)
    assert left.stdout.strip() == ""
