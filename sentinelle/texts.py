"""A finding's sentences in the reader's language: where the console, the collector and the
monthly report turn message ids and arguments into text.

A schema-2 finding names a catalog message (`message`) and its typed arguments (`args`); its
remediation is its check's `remediation` entry filled with the same arguments. A schema-1
finding carries plain text, shown as it is (in the one language it was written in).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sentinelle.i18n import DEFAULT_LANG, Catalog
from sentinelle.model import Finding, Severity, Status
from sentinelle.rules import RuleSet
from sentinelle.scoring import parse_cap


def summary_text(finding: Finding, catalog: Catalog, lang: str = DEFAULT_LANG) -> str:
    """The finding's sentence."""
    if finding.message is not None and finding.message in catalog:
        return catalog.render(finding.message, finding.args, lang)
    return finding.summary


def remediation_text(finding: Finding, rules: RuleSet, lang: str = DEFAULT_LANG) -> str:
    """What to do about it, filled with the finding's own values."""
    msg_id = f"{finding.check}.remediation"
    if finding.message is not None and msg_id in rules.catalog:
        return rules.catalog.render(msg_id, finding.args, lang)
    text = finding.remediation.get(lang) or finding.remediation.get(DEFAULT_LANG)
    if text:
        return str(text)
    meta = rules.checks.get(finding.check)
    return meta.remediation.get(lang, "") if meta is not None else ""


def status_name(status: Status | str, catalog: Catalog, lang: str = DEFAULT_LANG) -> str:
    value = status.value if isinstance(status, Status) else status
    return catalog.render(f"status.{value}", {}, lang)


def severity_name(severity: Severity | str, catalog: Catalog, lang: str = DEFAULT_LANG) -> str:
    value = severity.value if isinstance(severity, Severity) else severity
    return catalog.render(f"severity.{value}", {}, lang)


def capped_text(capped_by: str | None, rules: RuleSet, lang: str = DEFAULT_LANG,
                fallback: Finding | None = None) -> str | None:
    """Why the grade was capped, for a person: a Score's `capped_by` (its code, or the English
    sentence of a Report stored before the codes) in `lang`. A cap that names no check is told
    with `fallback`'s (the worst open finding, when the caller has the findings); None when
    there is no cap, or a text that is neither."""
    cap = parse_cap(capped_by)
    if cap is None:
        return None
    catalog = rules.catalog
    severity = severity_name(cap.severity, catalog, lang)
    check = cap.check or (fallback.check if fallback is not None else None)
    if check is None:
        return catalog.render("console.capped_host", {"severity": severity}, lang)
    meta = rules.checks.get(check)
    title = (meta.title.get(lang) or meta.title.get(DEFAULT_LANG)) if meta is not None else None
    return catalog.render("console.capped", {"severity": severity, "title": title or check},
                          lang)


def word(catalog: Catalog, msg_id: str, lang: str = DEFAULT_LANG,
         args: Mapping[str, Any] | None = None) -> str:
    """Any other catalog entry (the console's and the pages' words)."""
    return catalog.render(msg_id, args or {}, lang)
