"""Building blocks shared by the Sentinelle dashboards: data source, queries, colours, mappings.

Every dashboard is written with the Grafana Foundation SDK builders; this module keeps the
conventions in one place so that the four dashboards look and read the same way:

- the data source is the `${datasource}` template variable (type prometheus);
- grades A–E have one colour each, scores use the grade floors of `rules/scoring.yaml`;
- severities and statuses are shown in words with fixed colours;
- check ids are shown with their title from `rules/checks/*.yaml`;
- every word (titles, descriptions, column headers, legends, value mappings) is a catalog
  message of `rules/messages/dashboards.yaml`, rendered by `Words` in the dashboards' language:
  French (`LANG`), the SOC's language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from grafana_foundation_sdk.builders import (
    bargauge,
    piechart,
    stat,
    table,
    text,
    timeseries,
)
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import piechart as pie_model
from grafana_foundation_sdk.models import prometheus as prom_model
from grafana_foundation_sdk.models import text as text_model

from sentinelle.collector.settings import CollectorSettings
from sentinelle.config import AgentSettings
from sentinelle.i18n import Catalog
from sentinelle.rules import CheckMeta, RuleSet
from sentinelle.scoring import ScoringPolicy
from sentinelle.texts import severity_name, status_name

# The dashboards are built in French, the SOC's language (the catalog holds English too).
LANG = "fr"

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
TAGS = ["sentinelle"]

# Stable uids: links between dashboards and `dashboards push` rely on them.
UID_FLEET = "sentinelle-fleet"
UID_COMMUNE = "sentinelle-commune"
UID_CHECK = "sentinelle-check"
UID_AGENTS = "sentinelle-agents"

GRADES = ("A", "B", "C", "D", "E")
GRADE_COLOURS = {"A": "green", "B": "light-green", "C": "yellow", "D": "orange", "E": "red"}

# Worst first, as in sentinelle.model.Severity.
SEVERITY_COLOURS = {"critical": "dark-red", "high": "orange", "medium": "yellow", "low": "blue",
                    "info": "text"}
# Worst first, as the dashboards list them.
STATUS_COLOURS = {"fail": "red", "warn": "orange", "error": "purple", "pass": "green",
                  "skip": "text"}

# Ages of the last report: an agent reports every interval (1 h by default); past twice that it
# is late, past the collector's silence delay (6 h by default) it is silent.
AGENT_INTERVAL_SECONDS = AgentSettings().interval_seconds
SILENT_AFTER_SECONDS = CollectorSettings().silent_after_seconds
CHECK_TIMEOUT_SECONDS = AgentSettings().check_timeout_seconds

NEUTRAL = "blue"


class Words:
    """The dashboards' catalog messages (dashboards.*) in one language. Rendering is strict: a
    message missing an argument fails the build rather than show "?" on a dashboard."""

    def __init__(self, catalog: Catalog, lang: str = LANG) -> None:
        self.catalog = catalog
        self.lang = lang

    def __call__(self, key: str, **args: Any) -> str:
        return self.catalog.render(f"dashboards.{key}", args, self.lang, strict=True)

    def panel(self, key: str) -> tuple[str, str]:
        """A panel's title and description: `dashboards.KEY.title` and `.description`."""
        return self(f"{key}.title"), self(f"{key}.description")

    def severity(self, severity: str) -> str:
        """"Critique", "Élevée"…: the shared severity names (common.yaml), capitalised for a
        column."""
        return _capitalised(severity_name(severity, self.catalog, self.lang))

    def severities(self) -> dict[str, str]:
        """Severity → its word, worst first."""
        return {s: self.severity(s) for s in SEVERITY_COLOURS}

    def status(self, status: str) -> str:
        """"Non conforme", "À surveiller"…: the shared status names (common.yaml), the words
        of the console, the reports and the mayors' page, capitalised for a column."""
        return _capitalised(status_name(status, self.catalog, self.lang))

    def statuses(self) -> dict[str, str]:
        """Status → its word, worst first."""
        return {s: self.status(s) for s in STATUS_COLOURS}


def _capitalised(word: str) -> str:
    return word[:1].upper() + word[1:]


def grade_floors(rules: RuleSet) -> dict[str, float]:
    """Lowest score of each grade, as the scoring module reads them from rules/scoring.yaml
    (validated there: the dashboards colour scores with the floors that grade them)."""
    policy = ScoringPolicy.from_data(rules.scoring, str(rules.directory / "scoring.yaml"))
    return dict(policy.grade_floors)


# ---------------------------------------------------------------------------------------------
# Thresholds, mappings, links


def steps(base: str, *levels: tuple[float, str]) -> db.ThresholdsConfig:
    """Absolute thresholds: `base` colour below the first level, then each (value, colour)."""
    return (db.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE)
            .steps([model.Threshold(value=None, color=base),
                    *(model.Threshold(value=v, color=c) for v, c in levels)]))


def score_thresholds(rules: RuleSet) -> db.ThresholdsConfig:
    """E red below the D floor … A green from the A floor, floors from rules/scoring.yaml."""
    floors = grade_floors(rules)
    ordered = sorted((floors[g], GRADE_COLOURS[g]) for g in GRADES if floors[g] > 0)
    return steps(GRADE_COLOURS["E"], *ordered)


def grade_number_thresholds() -> db.ThresholdsConfig:
    """Grades as numbers 1 (A) to 5 (E), for the grade expressions below."""
    return steps(GRADE_COLOURS["A"], *((float(i + 1), GRADE_COLOURS[g])
                                      for i, g in enumerate(GRADES) if i > 0))


def count_thresholds(bad_colour: str = "red") -> db.ThresholdsConfig:
    """Green at zero, `bad_colour` from one: counts of things that should not exist."""
    return steps("green", (1.0, bad_colour))


def neutral_thresholds() -> db.ThresholdsConfig:
    """A single neutral colour, for counts that are neither good nor bad."""
    return steps(NEUTRAL)


def age_thresholds(warn_after: float, bad_after: float) -> db.ThresholdsConfig:
    return steps("green", (warn_after, "orange"), (bad_after, "red"))


def report_age_thresholds() -> db.ThresholdsConfig:
    return age_thresholds(2 * AGENT_INTERVAL_SECONDS, SILENT_AFTER_SECONDS)


def check_duration_thresholds() -> db.ThresholdsConfig:
    """Orange past half the agent's per-check timeout, red near the timeout itself."""
    return age_thresholds(CHECK_TIMEOUT_SECONDS / 2, CHECK_TIMEOUT_SECONDS * 0.9)


def value_map(entries: Mapping[str, tuple[str, str | None]]) -> model.ValueMap:
    """Map exact values to (text, colour); the index keeps Grafana's legend order stable."""
    return model.ValueMap(options={
        key: model.ValueMappingResult(text=txt, color=colour, index=i)
        for i, (key, (txt, colour)) in enumerate(entries.items())})


def grade_number_mappings() -> list[model.ValueMapping]:
    return [value_map({str(i + 1): (g, GRADE_COLOURS[g]) for i, g in enumerate(GRADES)})]


def grade_letter_mappings() -> list[model.ValueMapping]:
    return [value_map({g: (g, GRADE_COLOURS[g]) for g in GRADES})]


def severity_mappings(w: Words) -> list[model.ValueMapping]:
    return [value_map({s: (word, SEVERITY_COLOURS[s]) for s, word in w.severities().items()})]


def status_mappings(w: Words) -> list[model.ValueMapping]:
    return [value_map({s: (word, STATUS_COLOURS[s]) for s, word in w.statuses().items()})]


def yes_no_mappings(w: Words, yes_colour: str = "orange",
                    no_colour: str = "green") -> list[model.ValueMapping]:
    """0 and 1 shown as the words for no and yes ("Non", "Oui")."""
    return [value_map({"0": (w("no"), no_colour), "1": (w("yes"), yes_colour)})]


LAN_CLASSES = ("camera", "nas", "printer", "network_equipment", "pc_or_server", "unknown")


def lan_class_mappings(w: Words) -> list[model.ValueMapping]:
    """A LAN device's class (rules/lan_classes.yaml) as a word: "camera" → « Caméra »."""
    return [value_map({c: (w(f"lan_class.{c}"), None) for c in LAN_CLASSES})]


def approved_mappings(w: Words) -> list[model.ValueMapping]:
    """The `approved` label ("true"/"false") as the words for yes and no, not approved in
    orange."""
    return [value_map({"true": (w("yes"), "green"), "false": (w("no"), "orange")})]


def check_title_mappings(rules: RuleSet, w: Words) -> list[model.ValueMapping]:
    """Check id → « title (id) », so the analyst reads what the check is about."""
    return [value_map({cid: (f"{m.title[w.lang]} ({cid})", None)
                       for cid, m in sorted(rules.checks.items())})]


def families(rules: RuleSet) -> dict[str, dict[str, str]]:
    """Every family of the catalog (Python and declarative checks) → its heading by language
    (the `category` of rules/checks/FAMILY.yaml), sorted by family id."""
    return {m.family: m.category for _, m in sorted(rules.checks.items())}


def family_title_mappings(rules: RuleSet, w: Words) -> list[model.ValueMapping]:
    """Family id → « heading (id) », for a column of families."""
    return [value_map({fam: (f"{cat[w.lang]} ({fam})", None)
                       for fam, cat in families(rules).items()})]


# The family of a check series, as a label: the check id up to its first dot.
def with_family(expr: str) -> str:
    return f'label_replace({expr}, "family", "$1", "check", "([^.]+)[.].*")'


def family_open_checks(family: str, matchers: str) -> str:
    """Open (warn or fail) checks of one family under `matchers`: 0 when the family answered
    there with nothing open, no data when none of its checks ran there (another platform, a
    disabled family), which a panel shows as "not checked" rather than as a reassuring 0."""
    sel = f'{matchers},check=~"{family}[.].+"' if matchers else f'check=~"{family}[.].+"'
    return (f'count(sentinelle_check_status{{{sel},status=~"warn|fail"}}) '
            f"or 0 * count(sentinelle_check_status{{{sel}}})")


# A placeholder of a catalog template: {name} or {name:kind}.
_PLACEHOLDER = re.compile(r"\{(\w+)(?::\w+)?\}")


def generic_text(template: str) -> str:
    """A remediation template with its per-finding placeholders shown as [name]."""
    return _PLACEHOLDER.sub(lambda m: f"[{m.group(1)}]", template)


def check_text_mappings(rules: RuleSet, field: str, w: Words) -> list[model.ValueMapping]:
    """Check id → one of its texts: 'rationale', 'remediation' or 'title'."""
    def pick(meta: CheckMeta) -> str:
        texts: dict[str, str] = getattr(meta, field)
        return generic_text(texts[w.lang])
    return [value_map({cid: (pick(m), None) for cid, m in sorted(rules.checks.items())})]


def check_facts_mappings(rules: RuleSet, w: Words) -> list[model.ValueMapping]:
    """Check id → its reference severity and ANSSI hygiene measures."""
    none = w("facts.none")

    def facts(meta: CheckMeta) -> str:
        measures = ", ".join(str(a) for a in meta.anssi) or none
        return w("facts", severity=w.severity(meta.severity.value), measures=measures)
    return [value_map({cid: (facts(m), None) for cid, m in sorted(rules.checks.items())})]


def dashboard_url(uid: str, variable: str, value: str = "${__value.raw}") -> str:
    """A link to another Sentinelle dashboard keeping the time range and the data source."""
    return (f"/d/{uid}?var-{variable}={value}&${{datasource:queryparam}}"
            f"&${{__url_time_range}}")


def link(title: str, url: str) -> dict[str, object]:
    return {"title": title, "url": url, "targetBlank": False}


def commune_link(w: Words) -> dict[str, object]:
    """Link from any column of a row that has a `commune` field (INSEE code) to its dashboard."""
    return link(w("link.commune"),
                dashboard_url(UID_COMMUNE, "commune", "${__data.fields.commune}"))


def check_link(w: Words) -> dict[str, object]:
    return link(w("link.check"), dashboard_url(UID_CHECK, "check"))


def prop(prop_id: str, value: object) -> model.DynamicConfigValue:
    return model.DynamicConfigValue(id_val=prop_id, value=value)


def cell(kind: str, wrap: bool = False) -> model.DynamicConfigValue:
    """Table cell display: 'color-background', 'color-text', 'auto'…"""
    options: dict[str, object] = {"type": kind}
    if wrap:
        options["wrapText"] = True
    return prop("custom.cellOptions", options)


def thresholds_prop(config: db.ThresholdsConfig) -> model.DynamicConfigValue:
    return prop("thresholds", config.build())


def mappings_prop(mappings: list[model.ValueMapping]) -> model.DynamicConfigValue:
    return prop("mappings", mappings)


def fixed_colour(colour: str) -> model.DynamicConfigValue:
    return prop("color", {"mode": "fixed", "fixedColor": colour})


# ---------------------------------------------------------------------------------------------
# PromQL helpers


def grade_number(metric: str, matchers: str, by: str) -> str:
    """Turn an `_grade_info{grade=…}` metric into 1 (A) … 5 (E), one series per `by` labels.

    Numbers sort and colour; the value mappings show them as letters again.
    """
    sep = "," if matchers else ""
    parts = [f'max by ({by}) ({metric}{{{matchers}{sep}grade="{g}"}}) * {i + 1}'
             for i, g in enumerate(GRADES)]
    return " or ".join(parts)


def copy_label(expr: str, new: str, source: str) -> str:
    """label_replace copying `source` into `new`: a column that value mappings can rewrite."""
    return f'label_replace({expr}, "{new}", "$1", "{source}", "(.*)")'


# ---------------------------------------------------------------------------------------------
# Queries and panels


@dataclass(frozen=True)
class Q:
    """One PromQL target: expression, legend, and whether Grafana asks for a table."""

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


def _ref(i: int) -> str:
    return chr(ord("A") + i)


def targets(queries: Sequence[Q]) -> list[prom.Dataquery]:
    out = []
    for i, q in enumerate(queries):
        target = prom.Dataquery().expr(q.expr).ref_id(_ref(i)).datasource(DATASOURCE)
        if q.legend:
            target.legend_format(q.legend)
        if q.table:
            target.format(prom_model.PromQueryFormat.TABLE)
        if q.instant or q.table:
            target.instant()
        else:
            target.range()
        out.append(target)
    return out


AnyPanel = TypeVar("AnyPanel", stat.Panel, table.Panel, timeseries.Panel, bargauge.Panel,
                   piechart.Panel)


def _setup(panel: AnyPanel, title: str, description: str, queries: Sequence[Q], unit: str,
           thresholds: db.ThresholdsConfig, width: int, height: int) -> AnyPanel:
    panel.title(title)
    panel.description(description)
    panel.datasource(DATASOURCE)
    panel.targets(list(targets(queries)))
    panel.unit(unit)
    panel.thresholds(thresholds)
    panel.span(width)
    panel.height(height)
    return panel


def stat_panel(title: str, description: str, queries: Sequence[Q], *, unit: str = "short",
               thresholds: db.ThresholdsConfig | None = None, width: int = 4, height: int = 4,
               mappings: list[model.ValueMapping] | None = None, decimals: int | None = 0,
               colour_by_legend: Mapping[str, str] | None = None,
               graph: bool = False, no_value: str | None = None) -> stat.Panel:
    """A big number per query; `colour_by_legend` fixes one colour per displayed name."""
    panel = _setup(stat.Panel(), title, description, queries, unit,
                   thresholds or neutral_thresholds(), width, height)
    panel.reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    panel.graph_mode(common.BigValueGraphMode.AREA if graph else common.BigValueGraphMode.NONE)
    panel.color_mode(common.BigValueColorMode.VALUE)
    panel.text_mode(common.BigValueTextMode.AUTO)
    if decimals is not None:
        panel.decimals(decimals)
    if mappings:
        panel.mappings(mappings)
    if no_value is not None:
        panel.no_value(no_value)
    for name, colour in (colour_by_legend or {}).items():
        panel.override_by_name(name, [fixed_colour(colour)])
    if colour_by_legend:
        panel.color_scheme(db.FieldColor().mode(model.FieldColorModeId.FIXED).fixed_color(NEUTRAL))
    return panel


@dataclass(frozen=True)
class Column:
    """How one table column looks: header, unit, colours, mappings, link, width."""

    header: str
    unit: str | None = None
    thresholds: db.ThresholdsConfig | None = None
    mappings: list[model.ValueMapping] | None = None
    cell: str | None = None
    wrap: bool = False
    link: dict[str, object] | None = None
    width: int | None = None
    decimals: int | None = None


def table_panel(title: str, description: str, queries: Sequence[Q], *,
                columns: Mapping[str, Column], hide: Iterable[str] = (),
                sort_by: tuple[str, bool] | None = None, width: int = 24, height: int = 8,
                unit: str = "short") -> table.Panel:
    """An instant table; several queries are merged on their common labels.

    `columns` maps a field name (a label, or 'Value' / 'Value #B' for the query values) to its
    header and looks; every other field except `hide` keeps its name.
    """
    instant = [Q(q.expr, q.legend, instant=True, table=True) for q in queries]
    panel = _setup(table.Panel(), title, description, instant, unit, neutral_thresholds(),
                   width, height)
    hidden = {"Time": True, "__name__": True, "job": True, "instance": True}
    hidden.update({h: True for h in hide})
    order = {name: i for i, name in enumerate(columns)}
    transformations = []
    if len(queries) > 1:
        transformations.append(model.DataTransformerConfig(id_val="merge", options={}))
    transformations.append(model.DataTransformerConfig(id_val="organize", options={
        "excludeByName": hidden,
        "renameByName": {name: col.header for name, col in columns.items()},
        "indexByName": order,
    }))
    panel.transformations(transformations)
    panel.filterable(True)
    panel.cell_height(common.TableCellHeight.SM)
    if sort_by:
        panel.sort_by([common_builders.TableSortByFieldState().display_name(sort_by[0])
                       .desc(sort_by[1])])
    for col in columns.values():
        props: list[model.DynamicConfigValue] = []
        if col.unit:
            props.append(prop("unit", col.unit))
        if col.decimals is not None:
            props.append(prop("decimals", col.decimals))
        if col.thresholds:
            props.append(thresholds_prop(col.thresholds))
        if col.mappings:
            props.append(mappings_prop(col.mappings))
        if col.cell or col.wrap:
            props.append(cell(col.cell or "auto", wrap=col.wrap))
        if col.link:
            props.append(prop("links", [col.link]))
        if col.width:
            props.append(prop("custom.width", col.width))
        if props:
            panel.override_by_name(col.header, props)
    return panel


def timeseries_panel(title: str, description: str, queries: Sequence[Q], *, unit: str,
                     thresholds: db.ThresholdsConfig | None = None, width: int = 12,
                     height: int = 8, show_thresholds: bool = False, min_value: float | None = None,
                     max_value: float | None = None, stacked: bool = False,
                     colour_by_legend: Mapping[str, str] | None = None,
                     decimals: int | None = None) -> timeseries.Panel:
    panel = _setup(timeseries.Panel(), title, description, queries, unit,
                   thresholds or neutral_thresholds(), width, height)
    panel.line_width(2).fill_opacity(10).show_points(common.VisibilityMode.NEVER)
    panel.span_nulls(True)
    panel.legend(common_builders.VizLegendOptions().display_mode(common.LegendDisplayMode.LIST)
                 .placement(common.LegendPlacement.BOTTOM).show_legend(True))
    panel.tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI)
                  .sort(common.SortOrder.DESCENDING))
    if show_thresholds:
        panel.thresholds_style(common_builders.GraphThresholdsStyleConfig()
                               .mode(common.GraphThresholdsStyleMode.LINE_AND_AREA))
    if min_value is not None:
        panel.min(min_value)
    if max_value is not None:
        panel.max(max_value)
    if decimals is not None:
        panel.decimals(decimals)
    if stacked:
        panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
        panel.fill_opacity(60)
    for name, colour in (colour_by_legend or {}).items():
        panel.override_by_name(name, [fixed_colour(colour)])
    return panel


def bargauge_panel(title: str, description: str, queries: Sequence[Q], *, unit: str,
                   thresholds: db.ThresholdsConfig, width: int = 12,
                   height: int = 8) -> bargauge.Panel:
    instant = [Q(q.expr, q.legend, instant=True) for q in queries]
    panel = _setup(bargauge.Panel(), title, description, instant, unit, thresholds, width, height)
    panel.orientation(common.VizOrientation.HORIZONTAL)
    panel.display_mode(common.BarGaugeDisplayMode.BASIC)
    panel.reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    panel.min(0)
    return panel


def piechart_panel(title: str, description: str, queries: Sequence[Q], *,
                   colour_by_legend: Mapping[str, str] | None = None, width: int = 6,
                   height: int = 8) -> piechart.Panel:
    instant = [Q(q.expr, q.legend, instant=True) for q in queries]
    panel = _setup(piechart.Panel(), title, description, instant, "short", neutral_thresholds(),
                   width, height)
    panel.pie_type(pie_model.PieChartType.DONUT)
    panel.reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    panel.legend(piechart.PieChartLegendOptions().display_mode(common.LegendDisplayMode.TABLE)
                 .placement(common.LegendPlacement.RIGHT).show_legend(True)
                 .values([pie_model.PieChartLegendValues.VALUE]))
    for name, colour in (colour_by_legend or {}).items():
        panel.override_by_name(name, [fixed_colour(colour)])
    return panel


def text_panel(title: str, description: str, content: str, *, width: int = 24,
               height: int = 6) -> text.Panel:
    return (text.Panel().title(title).description(description).content(content)
            .mode(text_model.TextMode.MARKDOWN).span(width).height(height))


# ---------------------------------------------------------------------------------------------
# Dashboard


def datasource_variable(w: Words) -> db.DatasourceVariable:
    return (db.DatasourceVariable("datasource").label(w("datasource.label"))
            .type("prometheus")
            .description(w("datasource.description")))


def query_variable(name: str, label: str, query: str, description: str,
                   hidden: bool = False) -> db.QueryVariable:
    var = (db.QueryVariable(name).label(label).description(description).query(query)
           .datasource(DATASOURCE).refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
           .sort(model.VariableSort.ALPHABETICAL_ASC).multi(False).include_all(False))
    if hidden:
        var.hide(model.VariableHide.HIDE_VARIABLE)
    return var


def new_dashboard(uid: str, w: Words, key: str) -> db.Dashboard:
    """A Sentinelle dashboard: title and description (`dashboards.KEY.title`, `.description`),
    tag, time range, refresh, links to its siblings."""
    title, description = w.panel(key)
    return (db.Dashboard(title).uid(uid).description(description).tags(TAGS)
            .timezone("browser").time("now-7d", "now").refresh("5m").editable()
            .tooltip(model.DashboardCursorSync.CROSSHAIR)
            .annotation(db.AnnotationQuery().name(w("annotations"))
                        .datasource(model.DataSourceRef(type_val="grafana",
                                                        uid="-- Grafana --"))
                        .enable(True).hide(True).icon_color("rgba(0, 211, 255, 1)")
                        .type("dashboard").built_in(1))
            .link(db.DashboardLink(w("links")).type(model.DashboardLinkType.DASHBOARDS)
                  .tags(TAGS).as_dropdown(True).include_vars(False).keep_time(True)
                  .target_blank(False).icon("external link").tooltip("")
                  .url("")))
