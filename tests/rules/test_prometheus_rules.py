"""The Prometheus rules, their promtool unit tests, the runbooks and the deployment files.

- promtool (real) checks the rules and runs their unit tests (rules/prometheus/tests/);
- every alert has a unit test where it fires and one where it stays quiet, every recording
  rule a unit test of its values; a rule that uses a metric outside docs/metrics.md fails;
- every alert has its severity, French annotations and a runbook in docs/runbooks/;
- `promtool check config` accepts deploy/prometheus/prometheus.yml with the real rule files;
- amtool accepts deploy/alertmanager/alertmanager.yml and routes as its comments say, and a
  real Alertmanager started with it (receivers pointed at 127.0.0.1) inhibits, groups and
  sends the French email as documented;
- the collector's systemd units pass `systemd-analyze verify`, their ExecStart really starts a
  collector, and the backup command really produces a restorable copy of a real store;
- the nginx site, run by a real nginx in front of a real collector, lets an agent enroll over
  TLS and serves neither /metrics nor /sd.
"""

from __future__ import annotations

import email
import email.message
import gzip
import http.server
import json
import os
import re
import shlex
import shutil
import socket
import sqlite3
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sentinelle.agent.enroll import enroll
from sentinelle.collector.embedded import EmbeddedCollector
from sentinelle.collector.records import Commune, EnrollmentToken
from sentinelle.collector.secrets import digest, new_secret, new_token_id
from sentinelle.collector.settings import CollectorSettings
from sentinelle.collector.store import open_store
from tests.conftest import need, need_tool

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "rules/prometheus"
RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
TEST_FILES = sorted((RULES_DIR / "tests").glob("*.yml"))
RUNBOOKS = ROOT / "docs/runbooks"
RUNBOOK_BASE = "https://sentinelle.example.org/docs/runbooks/"
PROMETHEUS_YML = ROOT / "deploy/prometheus/prometheus.yml"
ALERTMANAGER_YML = ROOT / "deploy/alertmanager/alertmanager.yml"
SYSTEMD = ROOT / "deploy/systemd"
SEVERITIES = {"critical", "warning", "info"}
# Metrics that are not Sentinelle's but Prometheus' own: the rules may use `up`; the runbooks
# also show the scrape duration and the ALERTS series to the analyst.
PROMETHEUS_OWN = {"up"}
RUNBOOK_EXTRA = {"scrape_duration_seconds", "ALERTS"}


@dataclass(frozen=True)
class Rule:
    """One rule of rules/prometheus/*.yml."""

    kind: str  # "record" or "alert"
    name: str
    group: str
    data: dict[str, Any]

    @property
    def expr(self) -> str:
        return str(self.data["expr"])


def load_rules() -> list[Rule]:
    found: list[Rule] = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                kind = "record" if "record" in rule else "alert"
                found.append(Rule(kind, rule[kind], group["name"], rule))
    return found


RULES = load_rules()
ALERTS = [r for r in RULES if r.kind == "alert"]
RECORDS = [r for r in RULES if r.kind == "record"]


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    need_tool("promtool")
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


# --- metric names in PromQL ---------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_OFFSET = re.compile(r"\boffset\s+-?\w+")
_IDENT = re.compile(r"(?<![\w:.])[A-Za-z_:][\w:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left",
             "group_right", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names selected by a PromQL expression (functions, keywords, label names of
    matchers and grouping clauses, durations and strings left out)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _GROUPING.sub(" ", text)
    text = _RANGE.sub("", text)
    text = _OFFSET.sub("", text)
    names = set()
    for m in _IDENT.finditer(text):
        rest = text[m.end():].lstrip()
        if rest.startswith("(") or m.group(0).lower() in _KEYWORDS:
            continue  # a function or aggregation, or an operator keyword
        names.add(m.group(0))
    return names


def test_metric_name_extraction() -> None:
    expr = """
      (
        ((time() - sentinelle_last_upgrade_timestamp_seconds) / 86400 > 30)
        and on (commune, host)
        (sentinelle_pending_updates{kind="security", host=~"a|b"} > 0 offset 5m)
      ) * on (commune) group_left (departement) sentinelle_commune_info
      or sum without (result) (increase(x_total{result="stored"}[2h])) == bool 0
      or label_replace(up, "a", "$1", "b", "(.*)") unless max by (le) (y:z:sum)
      or {__name__="ignored"} - 1e3
    """
    assert metric_names(expr) == {
        "sentinelle_last_upgrade_timestamp_seconds", "sentinelle_pending_updates",
        "sentinelle_commune_info", "x_total", "up", "y:z:sum"}


def documented_metrics() -> set[str]:
    """The metric names of the contract: the first column of docs/metrics.md's tables."""
    text = (ROOT / "docs/metrics.md").read_text(encoding="utf-8")
    names = set(re.findall(r"^\|\s*`(sentinelle_[a-z0-9_]+)`", text, flags=re.M))
    assert len(names) > 30, "docs/metrics.md no longer looks like the metric contract"
    return names


def is_documented(name: str, documented: set[str]) -> bool:
    if name in documented:
        return True
    # A documented histogram exposes _bucket, _sum and _count.
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return base in documented


# --- rules and promtool -------------------------------------------------------------------

def test_there_are_rules_and_tests() -> None:
    assert {p.name for p in RULE_FILES} == {"alerts.yml", "recording.yml"}
    assert len(ALERTS) >= 10 and len(RECORDS) >= 10
    assert TEST_FILES


@pytest.mark.integration
def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", *(str(p) for p in RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    found = sum(int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", result.stdout))
    assert found == len(RULES)


@pytest.mark.integration
def test_promtool_unit_tests_pass() -> None:
    result = promtool("test", "rules", *(str(p) for p in TEST_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(TEST_FILES), result.stdout


def unit_tests() -> Iterator[dict[str, Any]]:
    for path in TEST_FILES:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        # The unit tests load the real rule files, not copies.
        loaded = {(path.parent / f).resolve() for f in data["rule_files"]}
        assert loaded <= {p.resolve() for p in RULE_FILES}, (path, loaded)
        yield from data["tests"]


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    """Firing: some check expects the alert. Quiet: a test group whose inputs never make the
    alert fire (every check of it expects nothing) — not merely a check made before the `for:`
    delay of a group where it fires later."""
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in unit_tests():
        fires_here: set[str] = set()
        checked_here: set[str] = set()
        for check in case.get("alert_rule_test", []):
            expected = check.get("exp_alerts") or []
            checked_here.add(check["alertname"])
            if expected:
                fires_here.add(check["alertname"])
            for alert in expected:
                # A firing case states the alert's labels, département included when it has
                # a commune, and every annotation (promtool compares them whole).
                labels = alert["exp_labels"]
                assert labels["severity"] in SEVERITIES, alert
                if "commune" in labels:
                    assert "departement" in labels, alert
                assert set(alert["exp_annotations"]) == {"summary", "description",
                                                         "runbook_url"}, alert
        firing |= fires_here
        quiet |= checked_here - fires_here
    names = {a.name for a in ALERTS}
    assert not names - firing, f"alerts with no firing case: {sorted(names - firing)}"
    assert not names - quiet, f"alerts with no quiet case: {sorted(names - quiet)}"
    assert (firing | quiet) <= names, f"tests of unknown alerts: {(firing | quiet) - names}"


def test_every_recording_rule_is_tested() -> None:
    covered: set[str] = set()
    for case in unit_tests():
        for check in case.get("promql_expr_test", []):
            if check.get("exp_samples"):
                covered |= metric_names(check["expr"])
    names = {r.name for r in RECORDS}
    assert not names - covered, f"recording rules without a test: {sorted(names - covered)}"


def test_rules_use_only_documented_metrics() -> None:
    documented = documented_metrics()
    recorded = {r.name for r in RECORDS}
    for rule in RULES:
        used = metric_names(rule.expr)
        assert used, rule.name
        # Annotations may query the TSDB too ({{ query "…" }}).
        for text in rule.data.get("annotations", {}).values():
            used |= set(re.findall(r"\bsentinelle_[a-z0-9_]+", text))
        unknown = {n for n in used - recorded - PROMETHEUS_OWN
                   if not is_documented(n, documented)}
        assert not unknown, f"{rule.name} uses metrics not in docs/metrics.md: {unknown}"


def test_recording_rule_names_and_header() -> None:
    convention = re.compile(r"^(commune|departement|fleet):sentinelle_[a-z_]+:[a-z_]+$")
    for rule in RECORDS:
        assert convention.match(rule.name), rule.name
        assert rule.data.get("labels") is None, rule.name
    # The list at the top of recording.yml (the dashboards engineer reads it) is complete.
    header = RULES_DIR.joinpath("recording.yml").read_text(encoding="utf-8").split("groups:")[0]
    listed = set(re.findall(r"^#\s+((?:commune|departement|fleet):\S+)", header, flags=re.M))
    assert listed == {r.name for r in RECORDS}
    # Every recording rule is explained by a comment just above it.
    text = RULES_DIR.joinpath("recording.yml").read_text(encoding="utf-8")
    for rule in RECORDS:
        before = text.split(f"- record: {rule.name}\n")[0].rstrip().splitlines()[-1]
        assert before.strip().startswith("#"), f"{rule.name} has no comment"


@pytest.mark.parametrize("rule", ALERTS, ids=[a.name for a in ALERTS])
def test_alert_metadata(rule: Rule) -> None:
    data = rule.data
    assert rule.name.startswith("Sentinelle")
    assert data["labels"]["severity"] in SEVERITIES
    assert set(data["labels"]) == {"severity"}
    assert re.fullmatch(r"\d+[mh]", data["for"]), data.get("for")
    annotations = data["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url"}
    assert annotations["runbook_url"] == f"{RUNBOOK_BASE}{rule.name}.md"
    assert (RUNBOOKS / f"{rule.name}.md").is_file()
    french = annotations["summary"] + annotations["description"]
    assert re.search(r"\b(le|la|les|de|du|des|sur|n'|d')\b", french), french
    if rule.group == "sentinelle.collector":
        return
    # Host and commune alerts: routed by département, templated with commune (and host).
    assert re.search(r"\*\s*on\s*\(commune\)\s*group_left\s*\(departement\)\s*"
                     r"sentinelle_commune_info\s*$", rule.expr), rule.expr
    assert "$labels.commune" in annotations["summary"]
    assert "$labels.commune" in annotations["description"]
    if rule.group == "sentinelle.hosts":
        assert "$labels.host" in annotations["description"]


def test_runbooks() -> None:
    """One runbook per alert, none for an alert that does not exist, each in French with the
    four parts an analyst looks for."""
    files = {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"}
    assert files == {a.name for a in ALERTS}
    sections = ("## Ce que cela signifie pour la mairie", "## Ce que vérifie l'analyste",
                "## Ce qu'il faut demander", "## Vérifier la correction")
    for name in files:
        text = (RUNBOOKS / f"{name}.md").read_text(encoding="utf-8")
        assert text.startswith(f"# {name}"), name
        for section in sections:
            assert section in text, (name, section)
        for promql in re.findall(r"```promql\n(.*?)```", text, flags=re.S):
            # Queries shown to the analyst respect the metric contract too.
            unknown = {n for n in metric_names(promql) - PROMETHEUS_OWN - RUNBOOK_EXTRA
                       if not is_documented(n, documented_metrics())
                       and n not in {r.name for r in RECORDS}}
            assert not unknown, (name, unknown)
    index = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    for alert in ALERTS:
        assert f"({alert.name}.md)" in index, alert.name


def anchor(heading: str) -> str:
    """The anchor a Markdown renderer (GitHub, GitLab) gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_deployment_guide_matches_the_files() -> None:
    text = (ROOT / "docs/deployment.md").read_text(encoding="utf-8")
    # Every repository file the guide tells to copy exists.
    paths = re.findall(r"(?<![/\w.])((?:deploy|rules|docs|examples|packaging)/[\w./{},*-]*[\w}])",
                       text)
    assert len(paths) > 15
    for path in set(paths):
        expanded = [path]
        if "{" in path:
            head, options = path.split("{", 1)
            expanded = [head + o for o in options.rstrip("}").split(",")]
        for one in expanded:
            assert list(ROOT.glob(one)), one
    # The number of rules the guide says Prometheus loads is the current one.
    assert set(re.findall(r"(\d+) règles", text)) == {str(len(RULES))}
    # The runbooks link to sections of the guide that exist.
    anchors = {anchor(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}
    for runbook in RUNBOOKS.glob("*.md"):
        for target in re.findall(r"\(\.\./deployment\.md#([^)]+)\)",
                                 runbook.read_text(encoding="utf-8")):
            assert target in anchors, (runbook.name, target)


# --- Prometheus deployment ----------------------------------------------------------------

@pytest.mark.integration
def test_promtool_check_config_of_the_deployment() -> None:
    result = promtool("check", "config", str(PROMETHEUS_YML), cwd=PROMETHEUS_YML.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    # The rule paths resolve to the repository's real rule files, not to nothing.
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout
    assert sum(int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", result.stdout)) == len(
        RULES)
    config = yaml.safe_load(PROMETHEUS_YML.read_text(encoding="utf-8"))
    resolved = {p.resolve() for g in config["rule_files"]
                for p in PROMETHEUS_YML.parent.glob(g)}
    assert resolved == {p.resolve() for p in RULE_FILES}
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "sentinelle-collector"]
    assert job["honor_labels"] is True
    # SentinelleCollectorDown finds the job by name.
    assert re.fullmatch(".*collector.*", job["job_name"])
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["127.0.0.1:9093"]
    assert "remote_write" not in config  # an example only, commented out


def debian_default_args(path: Path) -> list[str]:
    """The ARGS of an /etc/default file of the Debian packages, as the shell splits them."""
    (line,) = [ln for ln in path.read_text(encoding="utf-8").splitlines()
               if ln.startswith("ARGS=")]
    return shlex.split(shlex.split(line.removeprefix("ARGS="))[0])


@pytest.mark.integration
def test_prometheus_runs_the_deployment_files(tmp_path: Path) -> None:
    """A real Prometheus started with deploy/prometheus/prometheus.yml and the flags of
    deploy/prometheus/default-prometheus (port and storage moved) starts, loads every rule
    and finds the Alertmanager."""
    binary = need_tool("prometheus")
    port = free_port()
    args = [a for a in debian_default_args(PROMETHEUS_YML.parent / "default-prometheus")
            if not a.startswith("--web.listen-address=")]
    assert "--web.listen-address=127.0.0.1:9090" in debian_default_args(
        PROMETHEUS_YML.parent / "default-prometheus")
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={PROMETHEUS_YML}", f"--storage.tsdb.path={tmp_path / 'data'}",
         *args, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=2) as resp:
                    return bool(resp.status == 200)
            except OSError:
                return False
        until(ready, timeout=30)

        def rules() -> dict[str, tuple[str, str]]:
            groups = get_json(url + "/api/v1/rules")["data"]["groups"]
            return {r["name"]: (r["health"], r.get("lastError", "")) for g in groups
                    for r in g["rules"]}
        # Loaded from rules/sentinelle/ (relative to the configuration). Their evaluation on
        # real data is tested on the fleet (tests/e2e/test_rules_on_fleet.py); here the first
        # evaluation would take up to one evaluation_interval (15 s).
        until(lambda: bool(rules()))
        assert set(rules()) == {r.name for r in RULES}
        assert all(error == "" for _, error in rules().values()), rules()
        def alertmanagers() -> list[str]:
            data = get_json(url + "/api/v1/alertmanagers")["data"]
            return [a["url"] for a in data["activeAlertmanagers"]]
        until(lambda: bool(alertmanagers()))
        assert alertmanagers() == ["http://127.0.0.1:9093/api/v2/alerts"]
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()


# --- Alertmanager -------------------------------------------------------------------------

def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    need_tool("amtool")
    return subprocess.run(["amtool", *args], capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.mark.integration
def test_amtool_accepts_the_alertmanager_configuration() -> None:
    result = amtool("check-config", str(ALERTMANAGER_YML))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout  # the French email template was found and parsed


ROUTES = [
    # (labels, receivers): what the comments of alertmanager.yml promise.
    ("severity=critical departement=01 commune=01004", "soc-astreinte,referent-ain"),
    ("severity=warning departement=01 commune=01004", "referent-ain"),
    ("severity=info departement=01 commune=01001", "referent-ain"),
    ("severity=critical departement=2A commune=2A004", "soc-astreinte,referent-corse"),
    ("severity=warning departement=2B commune=2B033", "referent-corse"),
    ("severity=warning departement=974 commune=97411", "referent-reunion"),
    ("severity=warning departement=35 commune=35238", "soc-email"),
    ("severity=info departement=35 commune=35238", "soc-email"),
    ("severity=critical alertname=SentinelleCollectorDown", "soc-astreinte"),
    ("severity=warning alertname=SentinelleCollectorIngestErrors", "soc-email"),
]


@pytest.mark.integration
@pytest.mark.parametrize(("labels", "receivers"), ROUTES)
def test_alertmanager_routes(labels: str, receivers: str) -> None:
    result = amtool("config", "routes", "test", f"--config.file={ALERTMANAGER_YML}",
                    *labels.split())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == receivers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Webhooks:
    """A local HTTP server that keeps what Alertmanager's webhook receivers post."""

    port: int
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def by_receiver(self, name: str) -> list[dict[str, Any]]:
        return [body for path, body in list(self.received) if path == f"/{name}"]


@pytest.fixture
def webhooks() -> Iterator[Webhooks]:
    hooks = Webhooks(free_port())

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hooks.received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", hooks.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hooks
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Inbox:
    """What the local SMTP server (aiosmtpd) received."""

    port: int
    messages: list[email.message.Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    try:
        import aiosmtpd.controller as controller_module
    except ImportError:
        need(False, "aiosmtpd is not installed (pip install aiosmtpd)")
        raise
    box = Inbox(free_port())
    controller = controller_module.Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def alertmanager_test_config(tmp_path: Path, webhooks: Webhooks, inbox: Inbox) -> Path:
    """The example configuration with its receivers pointed at 127.0.0.1 (webhooks to the
    local server, the SOC mailbox to the local SMTP server) and its waits shortened to a
    second. Routes, grouping, inhibitions, time intervals and templates are unchanged."""
    config = yaml.safe_load(ALERTMANAGER_YML.read_text(encoding="utf-8"))
    config["global"] = {"smtp_smarthost": f"127.0.0.1:{inbox.port}",
                        "smtp_from": "alertes@test.invalid", "smtp_require_tls": False}
    for receiver in config["receivers"]:
        if receiver["name"] == "soc-email":
            for mail in receiver["email_configs"]:
                mail["to"] = "soc@test.invalid"
            continue
        receiver.pop("email_configs", None)
        receiver["webhook_configs"] = [
            {"url": f"http://127.0.0.1:{webhooks.port}/{receiver['name']}"}]

    def shorten(route: dict[str, Any]) -> None:
        for key in ("group_wait", "group_interval"):
            if key in route:
                route[key] = "1s"
        for child in route.get("routes", []):
            shorten(child)

    config["route"].update(group_wait="1s", group_interval="1s")
    shorten(config["route"])
    shutil.copytree(ALERTMANAGER_YML.parent / "templates", tmp_path / "templates")
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path




def post_json(url: str, payload: Any) -> None:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def alert(name: str, severity: str, **labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, "severity": severity, **labels},
            "annotations": {"summary": f"{name} {labels.get('host', '')}".strip(),
                            "description": "Texte de test <b>gras</b>.",
                            "runbook_url": f"{RUNBOOK_BASE}{name}.md"}}


@pytest.mark.integration
def test_real_alertmanager_inhibits_groups_and_mails(tmp_path: Path, webhooks: Webhooks,
                                                     inbox: Inbox) -> None:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    need(binary is not None, "Alertmanager is not installed (Debian prometheus-alertmanager)")
    assert binary is not None
    config = alertmanager_test_config(tmp_path, webhooks, inbox)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "alertmanager.log").open("wb")
    # The flags of deploy/alertmanager/default-prometheus-alertmanager, with this test's
    # configuration and port.
    args = [a for a in debian_default_args(ALERTMANAGER_YML.parent /
                                           "default-prometheus-alertmanager")
            if not a.startswith(("--config.file=", "--web.listen-address="))]
    assert "--cluster.listen-address=" in args
    proc = subprocess.Popen(
        [binary, *args, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        def ready() -> bool:
            assert proc.poll() is None, (tmp_path / "alertmanager.log").read_text()
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=2) as resp:
                    return bool(resp.status == 200)
            except OSError:
                return False
        until(ready)
        ain = {"departement": "01", "commune": "01004"}
        rennes = {"departement": "35", "commune": "35238"}
        post_json(url + "/api/v2/alerts", [
            alert("SentinelleRiskyServiceExposed", "critical", host="srv-mairie", service="rdp",
                  **ain),
            alert("SentinelleAgentSilent", "warning", host="srv-mairie", **ain),
            alert("SentinelleBackupStale", "warning", host="srv-mairie", **ain),
            alert("SentinelleBackupStale", "warning", host="srv-ecole", **ain),
            alert("SentinelleBackupMissing", "critical", host="srv-mairie", **rennes),
            alert("SentinelleOfflineCopyMissing", "warning", host="srv-mairie", **rennes),
            alert("SentinelleSecurityUpdatesOverdue", "warning", host="srv-ecole", **rennes),
        ])

        def states() -> dict[tuple[str, str], str]:
            return {(a["labels"]["alertname"], a["labels"].get("host", "")): a["status"]["state"]
                    for a in get_json(url + "/api/v2/alerts")}
        until(lambda: len(states()) == 7)
        assert states() == {
            ("SentinelleRiskyServiceExposed", "srv-mairie"): "active",
            ("SentinelleAgentSilent", "srv-mairie"): "active",
            # The silent agent mutes its host's warnings (same commune and host only)…
            ("SentinelleBackupStale", "srv-mairie"): "suppressed",
            ("SentinelleBackupStale", "srv-ecole"): "active",
            ("SentinelleBackupMissing", "srv-mairie"): "active",
            # …and no backup at all makes the missing offline copy redundant.
            ("SentinelleOfflineCopyMissing", "srv-mairie"): "suppressed",
            ("SentinelleSecurityUpdatesOverdue", "srv-ecole"): "active",
        }

        # Critical alerts page the on-call, one notification per commune.
        until(lambda: len(webhooks.by_receiver("soc-astreinte")) >= 2)
        paged = {(n["groupLabels"]["commune"], a["labels"]["alertname"])
                 for n in webhooks.by_receiver("soc-astreinte") for a in n["alerts"]}
        assert paged == {("01004", "SentinelleRiskyServiceExposed"),
                         ("35238", "SentinelleBackupMissing")}
        assert all(set(n["groupLabels"]) == {"departement", "commune"}
                   for n in webhooks.by_receiver("soc-astreinte"))
        # The Ain's referent gets the critical alert too (its warnings wait for office hours).
        until(lambda: bool(webhooks.by_receiver("referent-ain")))
        # Rennes has no referent: its warnings go to the SOC mailbox, in French, by commune.
        until(lambda: bool(inbox.messages))
        message = inbox.messages[0]
        subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
        assert subject == ("[Sentinelle] commune 35238 : "
                           "SentinelleSecurityUpdatesOverdue srv-ecole")
        parts = {part.get_content_type(): part.get_payload(decode=True).decode()
                 for part in message.walk() if not part.is_multipart()}
        text = parts["text/plain"]
        assert "Alertes en cours :" in text
        assert f"Fiche réflexe : {RUNBOOK_BASE}SentinelleSecurityUpdatesOverdue.md" in text
        assert "Gravité : avertissement — département 35" in text
        # The HTML part is the same French text (not Alertmanager's English default), escaped.
        assert '<html lang="fr">' in parts["text/html"]
        assert "Gravité : avertissement — département 35" in parts["text/html"]
        assert "Texte de test &lt;b&gt;gras&lt;/b&gt;." in parts["text/html"]
        assert "Texte de test <b>gras</b>." in text
        # An inhibited alert is never sent anywhere.
        sent = [a["labels"] for _, body in webhooks.received for a in body["alerts"]]
        assert not [s for s in sent if s["alertname"] == "SentinelleOfflineCopyMissing"]
        assert not [s for s in sent if s["alertname"] == "SentinelleBackupStale"
                    and s["host"] == "srv-mairie"]
        assert "SentinelleOfflineCopyMissing" not in text

        # The collector storing nothing: every agent looks silent; the SOC fixes the collector
        # first, the silent-agent alerts are muted.
        post_json(url + "/api/v2/alerts", [
            alert("SentinelleCollectorNoReports", "critical", job="sentinelle-collector",
                  instance="collecteur:8470"),
        ])
        until(lambda: states()[("SentinelleAgentSilent", "srv-mairie")] == "suppressed")
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()


# --- systemd units ------------------------------------------------------------------------

def unit_exec_start(path: Path) -> list[str]:
    """ExecStart of a unit as systemd reads it: continuation lines joined, %% unescaped."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    (line,) = [ln for ln in text.splitlines() if ln.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart=").replace("%%", "%"))


@pytest.mark.integration
def test_systemd_units_verify(tmp_path: Path) -> None:
    need_tool("systemd-analyze")
    sentinelle = shutil.which("sentinelle")
    need(sentinelle is not None, "the sentinelle command is not installed (pip install -e .)")
    for unit in SYSTEMD.iterdir():
        # verify checks that the binary exists: point it at this machine's sentinelle.
        text = unit.read_text(encoding="utf-8").replace("/usr/local/bin/sentinelle",
                                                         str(sentinelle))
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    units = sorted(str(p) for p in tmp_path.iterdir())
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--threshold=20",
         str(tmp_path / "sentinelle-collector.service")],
        capture_output=True, text=True, timeout=60, check=False)
    # 0 is fully locked down, 10 fully exposed: the collector's sandbox keeps it "OK" (< 2).
    level = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
    assert level and float(level.group(1)) < 2.0, security.stdout[-500:]


@pytest.mark.integration
def test_collector_unit_command_starts_a_collector(tmp_path: Path) -> None:
    argv = unit_exec_start(SYSTEMD / "sentinelle-collector.service")
    assert argv[:2] == ["/usr/local/bin/sentinelle", "collector"]
    sentinelle = shutil.which("sentinelle")
    need(sentinelle is not None, "the sentinelle command is not installed (pip install -e .)")
    assert sentinelle is not None
    port = free_port()
    config = tmp_path / "collector.yaml"
    config.write_text(f"listen_address: 127.0.0.1:{port}\n"
                      f"store: sqlite:///{tmp_path / 'collector.db'}\n", encoding="utf-8")
    argv = [sentinelle, *(str(config) if a == "/etc/sentinelle/collector.yaml" else a
                          for a in argv[1:])]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    try:
        def healthy() -> bool:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                return bool(get_json(f"http://127.0.0.1:{port}/healthz")["status"] == "ok")
            except OSError:
                return False
        until(healthy, timeout=30)
    finally:
        proc.terminate()
        proc.wait(15)


@pytest.mark.integration
def test_backup_unit_makes_a_restorable_copy_of_a_real_store(tmp_path: Path) -> None:
    need_tool("sqlite3")
    state, backups = tmp_path / "state", tmp_path / "backups"
    state.mkdir()
    backups.mkdir()
    store = open_store(f"sqlite:///{state / 'collector.db'}")
    store.migrate()
    try:
        store.upsert_commune(Commune("01001", "L'Abergement-Clémenciat", "01", 767, ()))
        # An old copy beyond the 14 kept, and a recent one that stays.
        old, recent = backups / "collector-2000-01-01.db.gz", backups / "collector-keep.db.gz"
        for f in (old, recent):
            f.write_bytes(gzip.compress(b"x"))
        stamp = time.time() - 20 * 86400
        os.utime(old, (stamp, stamp))
        argv = unit_exec_start(SYSTEMD / "sentinelle-collector-backup.service")
        assert argv[:2] == ["/bin/sh", "-euc"]
        script = (argv[2].replace("/var/lib/sentinelle-collector-backups", str(backups))
                  .replace("/var/lib/sentinelle-collector/", f"{state}/"))
        # The store is open (as the running collector's would be) while the copy is made.
        subprocess.run(["/bin/sh", "-euc", script], check=True, timeout=60)
    finally:
        store.close()
    copies = sorted(p.name for p in backups.iterdir())
    assert not old.exists() and recent.exists()
    (copy,) = [backups / n for n in copies if n != recent.name]
    assert re.fullmatch(r"collector-\d{4}-\d{2}-\d{2}\.db\.gz", copy.name)
    restored = tmp_path / "restored.db"
    restored.write_bytes(gzip.decompress(copy.read_bytes()))
    with sqlite3.connect(restored) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restored_store = open_store(f"sqlite:///{restored}")
    try:
        assert [c.code for c in restored_store.list_communes()] == ["01001"]
    finally:
        restored_store.close()


# --- reverse proxy ------------------------------------------------------------------------

NGINX_SITE = ROOT / "deploy/nginx/sentinelle-collector.conf"


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    need_tool("openssl")
    cert, key = tmp_path / "collector.crt", tmp_path / "collector.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=collecteur.test", "-keyout", str(key),
         "-out", str(cert), "-addext", "subjectAltName=DNS:collecteur.test,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.mark.integration
def test_nginx_site_proxies_the_agents_api_and_hides_metrics(tmp_path: Path) -> None:
    """deploy/nginx/sentinelle-collector.conf, run by a real nginx in front of a real
    collector (ports and certificate changed for loopback): an agent enrolls through it over
    TLS; /metrics and /sd are not reachable through it."""
    nginx = need_tool("nginx")
    cert, key = self_signed(tmp_path)
    http_port, https_port = free_port(), free_port()
    settings = replace(CollectorSettings(), listen_address="127.0.0.1:0",
                       store=f"sqlite:///{tmp_path / 'collector.db'}")
    with EmbeddedCollector(settings) as collector:
        collector_port = collector.url.rsplit(":", 1)[1]
        site = NGINX_SITE.read_text(encoding="utf-8")
        site = (site.replace("server 127.0.0.1:8470;", f"server 127.0.0.1:{collector_port};")
                .replace("listen [::]:80;", "").replace("listen [::]:443 ssl http2;", "")
                .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
                .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
                .replace("/etc/letsencrypt/live/collecteur.syndicat.example.org/fullchain.pem",
                         str(cert))
                .replace("/etc/letsencrypt/live/collecteur.syndicat.example.org/privkey.pem",
                         str(key)))
        assert "/etc/" not in site.split("upstream", 1)[1]
        (tmp_path / "site.conf").write_text(site, encoding="utf-8")
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (tmp_path / d).mkdir()
        main = tmp_path / "nginx.conf"
        main.write_text(
            f"daemon off;\nuser root;\npid {tmp_path}/nginx.pid;\n"
            f"error_log {tmp_path}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n"
            + "".join(f"  {d}_temp_path {tmp_path}/{d};\n" for d in
                      ("proxy", "fastcgi", "uwsgi", "scgi"))
            + f"  client_body_temp_path {tmp_path}/body;\n  include {tmp_path}/site.conf;\n}}\n",
            encoding="utf-8")
        check = subprocess.run([nginx, "-t", "-c", str(main), "-p", str(tmp_path)],
                               capture_output=True, text=True, timeout=30, check=False)
        assert check.returncode == 0, check.stderr
        proc = subprocess.Popen([nginx, "-c", str(main), "-p", str(tmp_path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            context = ssl.create_default_context(cafile=str(cert))
            base = f"https://127.0.0.1:{https_port}"

            def status(path: str) -> int:
                try:
                    with urllib.request.urlopen(base + path, timeout=5,
                                                context=context) as resp:
                        return int(resp.status)
                except urllib.error.HTTPError as err:
                    return int(err.code)

            def up() -> bool:
                assert proc.poll() is None, (tmp_path / "error.log").read_text()
                try:
                    return status("/healthz") == 200
                except OSError:
                    return False
            until(up)
            assert status("/metrics") == 404
            assert status("/sd") == 404
            assert status("/api/v1/openapi.json") == 200
            # Plain HTTP only redirects to HTTPS.
            with pytest.raises(urllib.error.HTTPError) as redirect:
                opener = urllib.request.build_opener(NoRedirect())
                opener.open(f"http://127.0.0.1:{http_port}/api/v1/reports", timeout=5)
            assert redirect.value.code == 301
            # A real enrollment through the proxy, with the certificate as the agent's CA.
            collector.store.upsert_commune(Commune("01001", "L'Abergement-Clémenciat", "01",
                                                   767, ()))
            secret, now = new_secret(), datetime.now(UTC)
            collector.store.add_token(EnrollmentToken(new_token_id(), "01001", now,
                                                      now + timedelta(hours=1), 1),
                                      digest(secret))
            credentials = enroll(base, secret, "mairie-srv", tmp_path / "agent",
                                 ca_bundle=str(cert))
            assert credentials.to_dict()
            agents = collector.store.list_agents()
            assert [(a.commune, a.host) for a in agents] == [("01001", "mairie-srv")]
        finally:
            proc.terminate()
            proc.wait(15)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report redirects instead of following them."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
