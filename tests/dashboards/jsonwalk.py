"""Walk generated dashboard JSON: every panel (rows included) and every PromQL expression."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including rows and the panels nested in collapsed rows."""
    stack = list(dashboard.get("panels", []))
    while stack:
        panel = stack.pop(0)
        yield panel
        stack[0:0] = panel.get("panels", [])


@dataclass(frozen=True)
class Expr:
    """One PromQL expression found in a dashboard, and where."""

    dashboard: str
    where: str
    expr: str
    instant: bool
    panel: dict[str, Any] | None = None
    variable: bool = False


def expressions(name: str, dashboard: dict[str, Any]) -> Iterator[Expr]:
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            if "expr" in target:
                instant = bool(target.get("instant")) or target.get("format") == "table"
                yield Expr(name, f"{panel['title']} / {target.get('refId')}", target["expr"],
                           instant, panel)
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var["query"]
            if isinstance(query, dict):
                query = query.get("query", "")
            yield Expr(name, f"variable {var['name']}", str(query), True, variable=True)


LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")
QUERY_RESULT = re.compile(r"^query_result\((?P<expr>.+)\)$")
