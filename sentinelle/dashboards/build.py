"""Build every dashboard to JSON, write them to dashboards/, or tell which files are stale."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from sentinelle.dashboards import agents, check, commune, fleet
from sentinelle.dashboards.panels import LANG
from sentinelle.rules import RuleSet, load_rules

# File name in dashboards/ → builder (rules, language). The order is the order of `push`.
BUILDERS: dict[str, Callable[[RuleSet, str], db.Dashboard]] = {
    "fleet-overview.json": fleet.build,
    "commune.json": commune.build,
    "check.json": check.build,
    "agent-health.json": agents.build,
}


def default_output_dir() -> Path:
    """dashboards/ of the source checkout this package lives in."""
    return Path(__file__).resolve().parents[2] / "dashboards"


def _number_panels(panels: list[dict[str, Any]], next_id: int) -> int:
    # The SDK leaves every panel id at 0; Grafana wants them unique within a dashboard, and
    # stable ids keep the committed JSON (and panel links) stable.
    for panel in panels:
        panel["id"] = next_id
        next_id += 1
        next_id = _number_panels(panel.get("panels", []), next_id)
    return next_id


def to_dict(dashboard: db.Dashboard) -> dict[str, Any]:
    """The dashboard model as plain JSON data, panels numbered."""
    data: dict[str, Any] = json.loads(json.dumps(dashboard.build(), cls=JSONEncoder))
    _number_panels(data.get("panels", []), 1)
    return data


def build_all(rules: RuleSet | None = None, lang: str = LANG) -> dict[str, dict[str, Any]]:
    """File name → dashboard JSON data, for every Sentinelle dashboard, its words in `lang`
    (the committed dashboards are French)."""
    rules = rules or load_rules()
    return {name: to_dict(builder(rules, lang)) for name, builder in BUILDERS.items()}


def render(data: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, UTF-8 kept readable, final newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_all(directory: Path, rules: RuleSet | None = None) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in build_all(rules).items():
        path = directory / name
        path.write_text(render(data), encoding="utf-8")
        written.append(path)
    return written


def stale_files(directory: Path, rules: RuleSet | None = None) -> list[str]:
    """Names whose committed JSON is missing or differs from what the code builds."""
    stale = []
    for name, data in build_all(rules).items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != render(data):
            stale.append(name)
    return stale
