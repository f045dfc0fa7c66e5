"""What the commands say on the terminal once they have run is catalog text (rules/messages/
cli.yaml) in the command's language: French by default, English with SENTINELLE_LANG=en (or
the command's --lang), never a word of one in the other.

Two kinds of proof: the commands' modules print no text of their own and name only catalog
entries (read from their source, so a new print() is caught the day it is written); and the
commands, run through `main`, print the catalog's lines in each language."""

from __future__ import annotations

import ast
import builtins
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sentinelle.cli import main
from sentinelle.dashboards.build import build_all
from sentinelle.dashboards.push import GrafanaPushError, push_dashboards
from tests.agent.standin_collector import AGENT_ID, GOOD_TOKEN, running_standin
from tests.cli.speech import CATALOG, foreign_in, say
from tests.dashboards.grafana_standin import GrafanaStandIn

ROOT = Path(__file__).resolve().parents[2]
# The modules whose lines a person reads on the terminal: the commands, the collector's
# management commands, what enrollment tells the technician and the demo.
SPEAKERS = sorted([*(ROOT / "sentinelle/cli").glob("*.py"), ROOT / "sentinelle/report/cli.py",
                   ROOT / "sentinelle/dashboards/push.py", ROOT / "sentinelle/collector/cli.py",
                   ROOT / "sentinelle/collector/device_cli.py",
                   ROOT / "sentinelle/collector/policy_cli.py",
                   ROOT / "sentinelle/agent/enroll.py", ROOT / "sentinelle/demo.py"])
LANGS = ("fr", "en")
CATALOG_ID = re.compile(r"cli\.[\w.]+")


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


def _raised(tree: ast.AST) -> set[ast.Call]:
    """The calls that build the errors a person reads: `raise SomeError(...)`, but not Python's
    own errors (a broken invariant, for a developer) nor ConfigError (its words are ids given
    to expect(), which tests/test_validation.py holds to the catalog; the rest names files and
    keys)."""
    return {n.exc for n in ast.walk(tree) if isinstance(n, ast.Raise)
            and isinstance(n.exc, ast.Call)
            and not hasattr(builtins, _callee(n.exc)) and _callee(n.exc) != "ConfigError"}


def _said_args(call: ast.Call) -> list[ast.expr]:
    """The arguments of a call that carry words (UsageError's first names the argument)."""
    args = [*call.args, *(k.value for k in call.keywords if k.arg != "file")]
    return args[1:] if _callee(call) == "UsageError" else args


def test_the_commands_print_no_text_of_their_own() -> None:
    """print(), stdout/stderr.write() and the errors they raise are given catalog text (or
    data: paths, table cells) or a catalog id (an error rendered when shown), never a sentence
    written in the code."""
    found = []
    for path in SPEAKERS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        raised = _raised(tree)
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            if _callee(call) not in ("print", "write") and call not in raised:
                continue
            for text in (t for a in _said_args(call) for t in _literal_texts(a)):
                if CATALOG_ID.fullmatch(text) and text in CATALOG:
                    continue
                if re.search(r"[^\W\d_]{2,}", text):
                    found.append(f"{path.relative_to(ROOT)}:{call.lineno}: {text!r}")
    assert found == []


def test_the_scan_sees_what_it_looks_for() -> None:
    """The scan above finds a sentence printed, written or raised, and lets ids and data by."""
    tree = ast.parse('print(f"saved {code}")\nsys.stderr.write("done")\n'
                     'raise SentinelleError("no free port")\nraise E("cli.error", x=1)\n'
                     'print(say("cli.error", message="a b"), file=sys.stderr)\n'
                     'raise ValueError("an invariant")\nraise UsageError("--month", "bad")\n')
    raised = _raised(tree)
    texts = [t for n in ast.walk(tree) if isinstance(n, ast.Call)
             and (_callee(n) in ("print", "write") or n in raised)
             for a in _said_args(n) for t in _literal_texts(a)]
    assert [t for t in texts if not CATALOG_ID.fullmatch(t)] == ["saved ", "done",
                                                                  "no free port", "bad"]


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


# The collector's management commands, enrollment and the demo


def _collector(store: str, *argv: str) -> list[str]:
    return ["collector", "--store", store, *argv]


@pytest.mark.parametrize("lang", LANGS)
def test_the_collector_commands_say_it_in_the_readers_language(
    lang: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import UTC, datetime

    from sentinelle.collector.records import AgentRecord
    from sentinelle.collector.store import open_store

    monkeypatch.setenv("SENTINELLE_LANG", lang)
    store = f"sqlite://{tmp_path / 'collector.db'}"
    name = "L'Abergement-Clémenciat"
    printed: list[str] = []

    def run(*argv: str, status: int = 0) -> tuple[str, str]:
        assert main(_collector(store, *argv)) == status
        out, err = capsys.readouterr()
        printed.append(out + err)
        return out, err

    out, _ = run("commune", "add", "01001", "--name", name, "--population", "767")
    assert out == say("cli.collector.commune_saved", lang, code="01001", name=name) + "\n"
    run("commune", "add", "2A004", "--name", "Ajaccio")
    out, _ = run("commune", "list")
    assert out.splitlines() == [
        say("cli.collector.commune_row", lang, code="01001", departement="01 ", name=name,
            count=0, population=767),
        say("cli.collector.commune_row_unknown", lang, code="2A004", departement="2A ",
            name="Ajaccio", count=0)]

    def tokens() -> list[Any]:
        db = open_store(store)
        try:
            return db.list_tokens()
        finally:
            db.close()

    secret, err = run("token", "create", "--commune", "01001", "--uses", "2")
    (token,) = tokens()
    expires = f"{token.expires_at:%Y-%m-%d %H:%M}"
    assert secret.strip() and err == say("cli.collector.token_created", lang,
                                         token_id=token.token_id, code="01001", name=name,
                                         expires=expires, uses=2) + "\n"
    _, err = run("token", "create", "--commune", "2A004")
    unlimited = tokens()[1]
    assert err == say("cli.collector.token_created_unlimited", lang,
                      token_id=unlimited.token_id, code="2A004", name="Ajaccio",
                      expires=f"{unlimited.expires_at:%Y-%m-%d %H:%M}") + "\n"
    out, _ = run("token", "revoke", token.token_id)
    assert out == say("cli.collector.token_revoked", lang, token_id=token.token_id) + "\n"
    out, _ = run("token", "list", "--commune", "01001")
    assert out == say("cli.collector.token_row_revoked", lang, token_id=token.token_id,
                      commune="01001", expires=f"{expires} UTC", uses="2") + "\n"

    db = open_store(store)
    db.add_agent(AgentRecord("agt_1", "01001", "mairie-srv", "h", datetime.now(UTC)))
    db.close()
    out, _ = run("agent", "list")
    assert out == say("cli.collector.agent_row", lang, agent_id="agt_1", commune="01001",
                      host="mairie-srv", state=say("cli.collector.agent_active", lang),
                      last=say("cli.collector.never", lang)) + "\n"
    out, _ = run("agent", "revoke", "agt_1")
    assert out == say("cli.collector.agent_revoked", lang, agent_id="agt_1") + "\n"
    out, _ = run("agent", "list")
    assert say("cli.collector.agent_revoked_state", lang) in out

    # What the registry does not hold: a configuration error, in the same language.
    _, err = run("token", "revoke", "tok_nope", status=2)
    assert err.startswith(say("cli.error", lang, message=""))
    assert ("un jeton existant" in err) == (lang == "fr")
    assert ("an existing token" in err) == (lang == "en")
    ids = [m.id for m in CATALOG if m.id.startswith("cli.collector.")] + ["cli.error"]
    # Commands and arguments are named as they are typed (`token revoke`, token_id).
    typed = ["token revoke", "token_id", "sentinelle collector token list"]
    assert foreign_in("".join(printed), ids, lang, [name, "mairie-srv", *typed]) == set()


@pytest.mark.parametrize("lang", LANGS)
def test_enrollment_tells_the_technician_and_fails_in_the_readers_language(
    lang: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sentinelle.agent import enroll as enrollment

    monkeypatch.setenv("SENTINELLE_LANG", lang)
    ids = [m.id for m in CATALOG if m.id.startswith("cli.enroll.")] + ["cli.error"]
    config = tmp_path / "agent.yaml"
    config.write_text(f"agent: {{state_dir: {tmp_path / 'state'}}}\n", encoding="utf-8")
    enroll = ["agent", "enroll", "--config", str(config), "--token", GOOD_TOKEN]
    url = "http://collecteur.example.fr"
    assert main([*enroll, "--collector", url]) == 2
    err = capsys.readouterr().err
    assert err == say("cli.error", lang, message=say("cli.enroll.plain_http", lang, url=url)) \
        + "\n"
    with running_standin() as standin:
        assert main([*enroll[:-1], "not-a-token", "--collector", standin.url]) == 2
        err = capsys.readouterr().err
        assert err == say("cli.error", lang, message=say(
            "cli.enroll.unknown_token", lang, url=standin.url, detail="token unknown")) + "\n"
        creds = enrollment.enroll(standin.url, GOOD_TOKEN, "mairie-srv", tmp_path / "s")
        # What root is told when the service user gets the credentials (here, no systemd).
        monkeypatch.setattr(enrollment.shutil, "which", lambda name: None)
        path = tmp_path / "s" / "credentials.json"
        lines = enrollment.hand_over_to_service(path, (0, 0), creds)
    where = {"unit": enrollment.SERVICE_UNIT, "url": standin.url}
    assert lines == [say("cli.enroll.handed_over", lang, user="root", path=str(path)),
                     say("cli.enroll.no_systemd", lang, **where)]
    # Another language asked for, whatever the reader's: the demo's --lang.
    other = "en" if lang == "fr" else "fr"
    assert enrollment.hand_over_to_service(path, (0, 0), creds, other)[0] == say(
        "cli.enroll.handed_over", other, user="root", path=str(path))
    with pytest.raises(enrollment.EnrollmentError) as refused:
        enrollment.enroll(standin.url, GOOD_TOKEN, "mairie srv!", tmp_path / "t", lang=other)
    assert str(refused.value) == say("cli.enroll.bad_hostname", other, hostname="mairie srv!")
    # "token unknown": the collector's own words, shown as they are.
    assert foreign_in(err + "\n".join(lines), ids, lang,
                      ["mairie-srv", "token unknown"]) == set()
