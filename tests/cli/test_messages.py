"""What the commands say on the terminal once they have run is catalog text (rules/messages/
cli.yaml) in the command's language: French by default, English with SENTINELLE_LANG=en (or
the command's --lang), never a word of one in the other.

Two kinds of proof: the commands' modules print no text of their own and name only catalog
entries (read from their source, so a new print() is caught the day it is written); and the
commands, run through `main`, print the catalog's lines in each language."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sentinelle.cli import main
from sentinelle.dashboards.build import build_all
from sentinelle.dashboards.push import GrafanaPushError, push_dashboards
from tests.agent.standin_collector import AGENT_ID, GOOD_TOKEN, running_standin
from tests.cli.speech import CATALOG, foreign_in, say
from tests.dashboards.grafana_standin import GrafanaStandIn

ROOT = Path(__file__).resolve().parents[2]
# The modules whose lines a person reads on the terminal (the collector's own management
# commands print from sentinelle/collector/cli.py, not covered here).
SPEAKERS = sorted([*(ROOT / "sentinelle/cli").glob("*.py"), ROOT / "sentinelle/report/cli.py",
                   ROOT / "sentinelle/dashboards/push.py"])
LANGS = ("fr", "en")


def _literal_texts(node: ast.AST) -> list[str]:
    """The literal text a call argument carries: a string, an f-string's fixed parts, either
    side of a `+` or of an `… if … else …`, what a call in it is given (`_line(r, "sent")`),
    but not what say() is given (ids and values) nor the keys of what it subscripts."""
    if isinstance(node, ast.Call):
        if _callee(node) == "say":
            return []
        return [t for a in [*node.args, *(k.value for k in node.keywords)]
                for t in _literal_texts(a)]
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) else []
    if isinstance(node, ast.JoinedStr):
        return [t for v in node.values for t in _literal_texts(v)]
    if isinstance(node, ast.BinOp):
        return [*_literal_texts(node.left), *_literal_texts(node.right)]
    if isinstance(node, ast.IfExp):
        return [*_literal_texts(node.body), *_literal_texts(node.orelse)]
    return []


def _callee(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def test_the_commands_print_no_text_of_their_own() -> None:
    """print(), stdout/stderr.write() and GrafanaPushError() are given catalog text (or data:
    paths, table cells), never a sentence written in the code."""
    found = []
    for path in SPEAKERS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            if _callee(call) not in ("print", "write", "GrafanaPushError"):
                continue
            args = [*call.args, *(k.value for k in call.keywords if k.arg != "file")]
            for text in (t for a in args for t in _literal_texts(a)):
                if re.search(r"[^\W\d_]{2,}", text):
                    found.append(f"{path.relative_to(ROOT)}:{call.lineno}: {text!r}")
    assert found == []


def test_the_commands_name_catalog_entries_and_every_cli_entry_is_said() -> None:
    """Every `cli.…` id in the commands' code is in the catalog; every `cli.…` entry of the
    catalog is said by some command (ids built from a prefix, `cli.report.stage.{stage}`,
    count for every entry under that prefix)."""
    sources = {p: p.read_text(encoding="utf-8") for p in [*SPEAKERS, ROOT / "sentinelle/cli"
                                                            / "values.py"]}
    literal = {m for text in sources.values() for m in re.findall(r'"(cli\.[\w.]+)"', text)}
    prefixes = {m for text in sources.values() for m in re.findall(r'f"(cli\.[\w.]+\.)\{', text)}
    catalog = {m.id for m in CATALOG if m.id.startswith("cli.")}
    assert literal - catalog == set()
    assert prefixes and all(any(i.startswith(p) for i in catalog) for p in prefixes)
    unsaid = {i for i in catalog - literal if not any(i.startswith(p) for p in prefixes)}
    assert unsaid == set()


@pytest.mark.parametrize("lang", LANGS)
def test_restore_tested_says_it_in_the_readers_language(
    lang: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENTINELLE_LANG", lang)
    (tmp_path / "nas").mkdir()
    config = tmp_path / "agent.yaml"
    config.write_text(f"agent: {{state_dir: {tmp_path / 'state'}}}\n"
                      f"backups:\n  locations:\n    - {{name: nas, type: directory, "
                      f"path: {tmp_path / 'nas'}}}\n", encoding="utf-8")
    assert main(["backup", "restore-tested", "--config", str(config), "--location", "nas"]) == 0
    out = capsys.readouterr().out
    recorded = next((tmp_path / "state").rglob("*.json"))
    assert out == say("cli.backup.recorded", lang, location="nas", path=str(recorded)) + "\n"
    assert foreign_in(out, ["cli.backup.recorded"], lang) == set()
    assert ("enregistré" in out) == (lang == "fr")


@pytest.mark.parametrize("lang", LANGS)
def test_enroll_then_one_cycle_say_it_in_the_readers_language(
    lang: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENTINELLE_LANG", lang)
    state = tmp_path / "state"
    config = tmp_path / "agent.yaml"
    config.write_text(f"agent:\n  listen_address: 127.0.0.1:9\n  state_dir: {state}\n"
                      "checks:\n  patching:\n    enabled: false\n  ports:\n    enabled: false\n",
                      encoding="utf-8")
    with running_standin() as standin:
        assert main(["agent", "enroll", "--config", str(config), "--collector", standin.url,
                     "--token", GOOD_TOKEN, "--hostname", "mairie-srv"]) == 0
        out = capsys.readouterr().out
        assert out == say("cli.agent.enrolled", lang, agent_id=AGENT_ID, commune="01001",
                          host="mairie-srv", path=str(state / "credentials.json")) + "\n"
        assert foreign_in(out, ["cli.agent.enrolled"], lang) == set()
        # The daemon's one cycle, in its own process (it installs signal handlers).
        cycle = subprocess.run(
            [sys.executable, "-m", "sentinelle.cli", "agent", "run", "--once", "--config",
             str(config)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT), "SENTINELLE_LANG": lang})
    assert cycle.returncode == 0, cycle.stderr
    host = cycle.stdout.split(" ")[0].rstrip(":")
    pattern = re.escape(say("cli.agent.cycle_spool", lang, host=host, score=999, grade="Z",
                            path=str(state / "last-report.json"), count=0))
    assert re.fullmatch(pattern.replace("999", r"\d+").replace("Z", "[A-E]") + "\n",
                        cycle.stdout), cycle.stdout
    ids = ["cli.agent.cycle_spool", "cli.agent.cycle"]
    assert foreign_in(cycle.stdout, ids, lang, [host]) == set()


@pytest.mark.parametrize("lang", LANGS)
def test_dashboards_push_says_what_it_did_and_why_not_in_the_readers_language(
    lang: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENTINELLE_LANG", lang)
    for name in ("GRAFANA_TOKEN", "GRAFANA_USER", "GRAFANA_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    grafana_ids = [m.id for m in CATALOG if m.id.startswith("cli.grafana.")]
    with GrafanaStandIn() as grafana:
        argv = ["dashboards", "push", "--grafana-url", grafana.url]
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err == say("cli.error", lang, message=say("cli.grafana.no_credentials", lang)) \
            + "\n"
        monkeypatch.setenv("GRAFANA_TOKEN", "glsa_editor")
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert out.startswith(say("cli.grafana.folder", lang, version="11.6.0",
                                  title="Sentinelle", state=say("cli.grafana.created", lang),
                                  uid="sentinelle"))
        lines = out.splitlines()
        assert len(lines) == 5 and all(say("cli.grafana.created", lang) in x for x in lines)
        titles = [str(d["title"]) for d in build_all().values()]
        assert foreign_in(out + err, grafana_ids, lang, titles) == set()
        # Grafana's refusals, in the language asked for whatever the reader's.
        with pytest.raises(GrafanaPushError) as refused:
            push_dashboards(grafana.url, [], env={"GRAFANA_TOKEN": "glsa_revoked"}, lang=lang)
    assert str(refused.value) == say("cli.grafana.unauthorized", lang,
                                     step=say("cli.grafana.step.connect", lang))


def test_the_error_prefix_follows_the_commands_lang(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A command with --lang prints its run-time error in that language, whatever the reader's."""
    monkeypatch.setenv("SENTINELLE_LANG", "fr")
    month = ["report", "monthly", "--month", "2026-03", "--store",
             f"sqlite://{tmp_path / 'c.db'}", "--commune", "99999"]
    assert main([*month, "--lang", "en"]) == 2
    assert capsys.readouterr().err.startswith("sentinelle: error: ")
    assert main(month) == 2
    assert capsys.readouterr().err.startswith("sentinelle : erreur : ")
