"""The generated dashboards: committed JSON up to date, French text, units, colours, links."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sentinelle.dashboards.build import BUILDERS, build_all, render, stale_files, write_all
from sentinelle.rules import load_rules
from tests.dashboards.jsonwalk import expressions, panels

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "dashboards"
DEFAULT_TITLES = {"", "panel title", "new panel", "row title", "new row", "title"}
# Words that an English text would not contain: a cheap guard that descriptions are French.
FRENCH = re.compile(r"\b(le|la|les|des|du|de|un|une|est|sont|et|ou|sur|par|pour|à)\b", re.I)
NO_UNIT_TYPES = {"row", "text"}


@pytest.fixture(scope="module")
def built() -> dict[str, dict[str, Any]]:
    return build_all()


def visual_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in panels(dashboard) if p["type"] not in NO_UNIT_TYPES]


def test_committed_json_is_what_the_code_builds(built: dict[str, dict[str, Any]]) -> None:
    assert stale_files(COMMITTED) == [], "run: python -m sentinelle.dashboards build"
    assert sorted(p.name for p in COMMITTED.glob("*.json")) == sorted(BUILDERS)
    for name, data in built.items():
        assert json.loads((COMMITTED / name).read_text(encoding="utf-8")) == data


def test_stale_file_is_detected(tmp_path: Path) -> None:
    write_all(tmp_path)
    assert stale_files(tmp_path) == []
    path = tmp_path / "commune.json"
    path.write_text(path.read_text(encoding="utf-8").replace("Sauvegardes", "Backups"),
                    encoding="utf-8")
    assert stale_files(tmp_path) == ["commune.json"]
    check = subprocess.run([sys.executable, "-m", "sentinelle.dashboards", "check", "--output",
                            str(tmp_path)], capture_output=True, text=True, timeout=60,
                           check=False, cwd=ROOT)
    assert check.returncode == 1 and "commune.json" in check.stderr


def test_required_dashboards_exist(built: dict[str, dict[str, Any]]) -> None:
    uids = {d["uid"] for d in built.values()}
    assert uids == {"sentinelle-fleet", "sentinelle-commune", "sentinelle-check",
                    "sentinelle-agents"}
    assert all(len(uid) <= 40 for uid in uids)


def test_every_panel_has_a_real_french_title_and_description(
        built: dict[str, dict[str, Any]]) -> None:
    for name, data in built.items():
        assert data["title"].startswith("Sentinelle — ") and FRENCH.search(data["description"])
        ids = [p["id"] for p in panels(data)]
        assert len(ids) == len(set(ids)) and 0 not in ids, name
        for panel in panels(data):
            title = panel.get("title", "")
            assert title.strip().lower() not in DEFAULT_TITLES, (name, panel["id"])
            if panel["type"] == "row":
                continue  # Grafana rows have a title only
            description = panel.get("description", "")
            assert len(description) > 40 and FRENCH.search(description), (name, title)


def test_units_and_thresholds_on_every_panel(built: dict[str, dict[str, Any]]) -> None:
    for name, data in built.items():
        for panel in visual_panels(data):
            defaults = panel["fieldConfig"]["defaults"]
            assert defaults.get("unit"), (name, panel["title"])
            assert defaults["thresholds"]["steps"], (name, panel["title"])
            assert defaults["thresholds"]["steps"][0]["value"] is None


def _score_floors() -> list[float]:
    grades = yaml.safe_load((ROOT / "rules/scoring.yaml").read_text())["grades"]
    return sorted(float(v) for v in grades.values() if v > 0)


def _score_thresholds(panel: dict[str, Any]) -> list[dict[str, Any]]:
    """Every thresholds config of the panel that colours a risk score."""
    found = []
    exprs = [t["expr"] for t in panel.get("targets", [])]
    if panel["type"] in ("stat", "timeseries") and all("risk_score" in e for e in exprs):
        found.append(panel["fieldConfig"]["defaults"]["thresholds"])
    for override in panel["fieldConfig"]["overrides"]:
        if override["matcher"]["options"] == "Score":
            found += [p["value"] for p in override["properties"] if p["id"] == "thresholds"]
    return found


def test_score_thresholds_are_the_grade_floors_of_scoring_yaml(
        built: dict[str, dict[str, Any]]) -> None:
    floors = _score_floors()
    assert floors == [40, 60, 75, 90]
    seen = 0
    for data in built.values():
        for panel in visual_panels(data):
            for thresholds in _score_thresholds(panel):
                steps = thresholds["steps"]
                assert [s["value"] for s in steps[1:]] == floors, panel["title"]
                assert [s["color"] for s in steps] == ["red", "orange", "yellow",
                                                       "light-green", "green"]
                seen += 1
    assert seen >= 6


def _mappings(panel: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(panel["fieldConfig"]["defaults"].get("mappings", []))
    for override in panel["fieldConfig"]["overrides"]:
        for prop in override["properties"]:
            if prop["id"] == "mappings":
                found += prop["value"]
    return found


def test_grades_are_coloured_a_green_to_e_red(built: dict[str, dict[str, Any]]) -> None:
    expected = {"A": "green", "B": "light-green", "C": "yellow", "D": "orange", "E": "red"}
    seen = 0
    for data in built.values():
        for panel in visual_panels(data):
            for mapping in _mappings(panel):
                results = mapping.get("options", {}).values()
                graded = {r["text"]: r.get("color") for r in results if r["text"] in expected}
                if graded:
                    assert graded == expected, panel["title"]
                    seen += 1
            for override in panel["fieldConfig"]["overrides"]:
                name = override["matcher"]["options"]
                for prop in override["properties"]:
                    if name in expected and prop["id"] == "color":
                        assert prop["value"]["fixedColor"] == expected[name]
    assert seen >= 4


def test_datasource_is_a_prometheus_variable(built: dict[str, dict[str, Any]]) -> None:
    ref = {"type": "prometheus", "uid": "${datasource}"}
    for name, data in built.items():
        variables = {v["name"]: v for v in data["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        for var in variables.values():
            if var["type"] == "query":
                assert var["datasource"] == ref, (name, var["name"])
        for panel in visual_panels(data):
            assert panel["datasource"] == ref, (name, panel["title"])
            assert all(t["datasource"] == ref for t in panel["targets"]), panel["title"]


def test_template_variables(built: dict[str, dict[str, Any]]) -> None:
    commune = {v["name"]: v for v in built["commune.json"]["templating"]["list"]}
    assert commune["commune"]["query"] == "label_values(sentinelle_commune_info, commune)"
    assert "$commune" in commune["commune_name"]["query"]
    assert commune["commune_name"]["hide"] == 2
    # The commune's name is what the analyst reads in the section titles.
    assert any("${commune_name}" in p["title"] for p in panels(built["commune.json"]))
    check = {v["name"]: v for v in built["check.json"]["templating"]["list"]}
    assert check["check"]["query"] == "label_values(sentinelle_check_status, check)"


def _documented_metrics() -> set[str]:
    text = (ROOT / "docs/metrics.md").read_text(encoding="utf-8")
    return set(re.findall(r"`(sentinelle_[a-z_]+)`", text))


def test_only_documented_metric_names(built: dict[str, dict[str, Any]]) -> None:
    documented = _documented_metrics()
    assert "sentinelle_commune_info" in documented
    for name, data in built.items():
        for found in expressions(name, data):
            for metric in re.findall(r"\bsentinelle_[a-z_]+", found.expr):
                base = re.sub(r"_(bucket|sum|count)$", "", metric)
                assert metric in documented or base in documented, (name, found.where, metric)


def test_links_point_to_existing_dashboards_and_variables(
        built: dict[str, dict[str, Any]]) -> None:
    by_uid = {d["uid"]: d for d in built.values()}
    links = 0
    for data in built.values():
        for panel in visual_panels(data):
            if panel["type"] != "table":
                continue
            organize = next(t for t in panel["transformations"] if t["id"] == "organize")
            columns = set(organize["options"]["renameByName"]) - {
                k for k, v in organize["options"]["excludeByName"].items() if v}
            for override in panel["fieldConfig"]["overrides"]:
                for prop in override["properties"]:
                    if prop["id"] != "links":
                        continue
                    for link in prop["value"]:
                        m = re.match(r"^/d/([\w-]+)\?var-(\w+)=([^&]+)&", link["url"])
                        assert m, link["url"]
                        target = by_uid[m.group(1)]
                        names = {v["name"] for v in target["templating"]["list"]}
                        assert m.group(2) in names
                        # A link reading another field of the row needs that field shown.
                        field = re.fullmatch(r"\$\{__data\.fields\.(\w+)\}", m.group(3))
                        assert field or m.group(3) == "${__value.raw}", link["url"]
                        if field:
                            assert field.group(1) in columns, (panel["title"], link["url"])
                        links += 1
    assert links >= 8


def test_table_overrides_name_real_columns(built: dict[str, dict[str, Any]]) -> None:
    for data in built.values():
        for panel in visual_panels(data):
            if panel["type"] != "table":
                continue
            organize = next(t for t in panel["transformations"] if t["id"] == "organize")
            headers = set(organize["options"]["renameByName"].values())
            for override in panel["fieldConfig"]["overrides"]:
                assert override["matcher"]["options"] in headers, panel["title"]
            for sort in panel["options"].get("sortBy", []):
                assert sort["displayName"] in headers, panel["title"]


def test_check_texts_cover_the_whole_catalog(built: dict[str, dict[str, Any]]) -> None:
    rules = load_rules()
    card = next(p for p in panels(built["check.json"]) if p["title"] == "Fiche du contrôle")
    texts = {o["matcher"]["options"]: o["properties"] for o in card["fieldConfig"]["overrides"]}
    remediation = next(p["value"][0]["options"] for p in texts["Que faire"]
                       if p["id"] == "mappings")
    assert set(remediation) == set(rules.checks)
    # Placeholders filled per finding are shown as [name].
    assert not any("{" in r["text"] for r in remediation.values())
    assert "[service]" in remediation["ports.risky_services"]["text"]


def test_agent_health_shows_the_spool_through_the_reports(
        built: dict[str, dict[str, Any]]) -> None:
    """The agent's spool reaches the SOC in its Reports (agent_health_*), never through the
    agent's local push metrics, which the collector does not have."""
    agents = built["agent-health.json"]
    exprs = " ".join(e.expr for e in expressions("agent-health.json", agents))
    assert "sentinelle_agent_push" not in exprs  # the collector never has them
    for name in ("sentinelle_agent_health_reports_dropped_total",
                 "sentinelle_agent_health_spool_reports",
                 "sentinelle_agent_health_state_dir_writable",
                 "sentinelle_collector_refused_total",
                 "sentinelle_collector_unrenderable_hosts"):
        assert name in exprs, name
    assert "agent_version" in exprs and "sentinelle_check_success" in exprs
    titles = {p["title"] for p in panels(agents)}
    assert {"Rapports perdus (24 h)", "File d'envoi de chaque agent"} <= titles


def test_render_is_stable(built: dict[str, dict[str, Any]]) -> None:
    again = build_all()
    assert [render(d) for d in again.values()] == [render(d) for d in built.values()]


def test_cli_parser_as_wired_into_sentinelle(tmp_path: Path) -> None:
    import argparse

    from sentinelle.dashboards.cli import add_dashboards_parser, run_dashboards

    parser = argparse.ArgumentParser(prog="sentinelle")
    add_dashboards_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["dashboards", "build", "--output", str(tmp_path)])
    assert run_dashboards(args) == 0
    assert sorted(p.name for p in tmp_path.glob("*.json")) == sorted(BUILDERS)
    assert run_dashboards(parser.parse_args(["dashboards", "check", "--output",
                                             str(tmp_path)])) == 0
    push = parser.parse_args(["dashboards", "push", "--grafana-url", "http://127.0.0.1:1/"])
    assert (push.folder, push.timeout) == ("Sentinelle", 10.0)


def test_registering_the_command_loads_no_grafana_library() -> None:
    code = ("import sys, sentinelle.dashboards.cli; "
            "print(sorted(m for m in sys.modules if m.startswith(('grafana', 'niquests'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
