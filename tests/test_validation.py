"""Configuration errors name the file, the line and the key, in one language, from the catalog
rules/messages/config.yaml: the agent's config, the collector's, the monthly report's settings
and the rules directory all read YAML through sentinelle.validation."""

from __future__ import annotations

import ast
import os
import pickle
import re
import shutil
import string
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sentinelle.collector.settings import load_settings as load_collector_settings
from sentinelle.config import load_config
from sentinelle.errors import ConfigError, expect
from sentinelle.i18n import LANGS, parse_message
from sentinelle.report.config import load_settings as load_report_settings
from sentinelle.rules import load_rules
from sentinelle.runner import known_params
from sentinelle.validation import (
    LineDict,
    LineList,
    LineLoader,
    Section,
    key_line,
    line_of,
    load_yaml_file,
    parse_yaml,
)
from tests.source_text import written_text

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "rules" / "messages" / "config.yaml"
FORMATTER = string.Formatter()


@pytest.fixture(autouse=True)
def reader_speaks_the_default(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """French unless asked: no SENTINELLE_LANG, LANG or LC_ALL saying English."""
    for var in ("SENTINELLE_LANG", "LC_ALL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    yield


def catalog_words() -> dict[str, dict[str, str]]:
    data = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    return {msg_id: {lang: entry[lang] for lang in LANGS} for msg_id, entry in data.items()}


def literal_words(template: str) -> list[str]:
    """The words a template writes itself (its placeholders are the arguments' business)."""
    text = "".join(literal for literal, _, _, _ in FORMATTER.parse(template))
    return re.findall(r"[^\W\d_]{4,}", text)


def assert_one_language(err: ConfigError) -> None:
    """The French rendering carries no English words of the catalog, and the reverse."""
    words = catalog_words()
    rendered = {lang: err.render(lang) for lang in LANGS}
    for lang, other in (("fr", "en"), ("en", "fr")):
        own = {w for texts in words.values() for w in literal_words(texts[lang])}
        foreign = {w for texts in words.values() for w in literal_words(texts[other])} - own
        data = str(err.got) + err.key + err.source
        leaked = [w for w in foreign if re.search(rf"\b{w}\b", rendered[lang]) and w not in data]
        assert not leaked, (lang, leaked, rendered[lang])


def raises(call: object, *args: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        call(*args)  # type: ignore[operator]
    return info.value


def line_holding(path: Path, text: str) -> int:
    """The line (from 1) of the only line of `path` containing `text`."""
    found = [i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    assert len(found) == 1, (text, found)
    return found[0]


# The loader


def test_loading_builds_what_safe_load_builds_with_the_lines() -> None:
    files = [*sorted((ROOT / "rules").rglob("*.yaml")), *sorted((ROOT / "examples").glob("*.yaml"))]
    assert len(files) > 8
    for path in files:
        text = path.read_text(encoding="utf-8")
        data = load_yaml_file(path)
        assert data == yaml.safe_load(text), path
        assert parse_yaml(text) == yaml.load(text, Loader=LineLoader)  # libyaml = pure Python
        if isinstance(data, dict):
            first = next(iter(data))
            assert key_line(data, first) == line_holding_key(text, str(first)), path


def line_holding_key(text: str, key: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(f"{key}:"))


def test_mappings_and_lists_know_where_their_keys_and_items_are() -> None:
    text = ("top: 1\nagent:\n  state_dir: /x\n  checks.ids: {a.b: 1}\nlist:\n  - one\n"
            "  -   k: 2\n      l: 3\nbase: &base {m: 1}\ncopy:\n  <<: *base\n  n: 2\n"
            "alias: *base\n")
    data = parse_yaml(text)
    assert isinstance(data, LineDict) and isinstance(data["list"], LineList)
    assert data.key_positions["agent"] == (2, 1) and data.line == 1
    assert line_of(data["agent"]) == 2 and key_line(data["agent"], "state_dir") == 3
    assert key_line(data["agent"]["checks.ids"], "a.b") == 4
    assert data["list"].item_positions == [(6, 5), (7, 7)]
    assert line_of(data["list"][1]) == 7 and key_line(data["list"][1], "l") == 8
    # A merged key is where its anchor wrote it; an alias stays where its anchor is.
    assert key_line(data["copy"], "m") == 9 and key_line(data["copy"], "n") == 12
    assert data["alias"] is data["base"] and line_of(data["alias"]) == 9
    assert data == yaml.safe_load(text)
    assert yaml.safe_load(yaml.safe_dump(data)) == data  # dumps as plain YAML
    assert pickle.loads(pickle.dumps(data)) == data


def test_plain_data_reads_the_same_without_lines() -> None:
    sec = Section("(embedded)", "agent", {"interval_seconds": "fast"})
    err = raises(sec.number, "interval_seconds")
    assert err.line is None and err.key == "agent.interval_seconds"
    assert err.render("en") == ("(embedded): key 'agent.interval_seconds': expected a number, "
                                'got "fast"')


def test_a_syntax_error_names_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("agent:\n  state_dir: /x\n  bad: [1, 2\nports: {}\n", encoding="utf-8")
    err = raises(load_config, path)
    assert (err.line, err.column) == (4, 6) and err.key == ""
    assert err.render("fr").startswith(f"{path}:4: YAML invalide")
    assert err.render("en").startswith(f"{path}:4: invalid YAML")
    path.write_text("a: *nowhere\n", encoding="utf-8")
    assert "'nowhere'" in raises(load_config, path).render("en")  # PyYAML's fuller words


@pytest.mark.parametrize(("make", "fr", "en"), [
    (lambda p: None, "fichier introuvable", "no such file"),
    (lambda p: p.mkdir(), "c'est un répertoire, pas un fichier", "a directory, not a file"),
    (lambda p: p.write_bytes(b"agent: \xff\n"), "le fichier n'est pas du texte UTF-8",
     "the file is not UTF-8 text"),
])
def test_an_unreadable_file_says_why(tmp_path: Path, make: object, fr: str, en: str) -> None:
    path = tmp_path / "agent.yaml"
    make(path)  # type: ignore[operator]
    err = raises(load_config, path)
    assert err.render("fr") == f"{path}: {fr}"
    assert err.render("en") == f"{path}: {en}"


# The four kinds of configuration


def test_agent_config_error_names_file_line_and_key(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("# comment\nagent:\n  state_dir: /tmp\npush:\n  enabled: true\n"
                    "  spool_max_reports: 0\n", encoding="utf-8")
    err = raises(load_config, path, known_params(load_rules()))
    assert (err.source, err.line, err.key) == (str(path), 6, "push.spool_max_reports")
    assert str(err) == (f"{path}:6: clé « push.spool_max_reports » : attendu un nombre entier "
                        "supérieur ou égal à 1, trouvé 0")
    assert err.render("en") == (f"{path}:6: key 'push.spool_max_reports': expected an integer "
                                ">= 1, got 0")
    assert_one_language(err)
    monkeypatch.setenv("SENTINELLE_LANG", "en")
    assert str(err) == err.render("en")


def test_a_missing_key_names_the_line_of_its_mapping(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("agent: {state_dir: /tmp}\nbackups:\n  locations:\n    - name: nas\n"
                    "      type: directory\n    - name: usb\n      path: /mnt\n",
                    encoding="utf-8")
    err = raises(load_config, path)
    assert (err.line, err.key) == (4, "backups.locations[0].path")
    assert "attendu une valeur (cette clé est obligatoire)" in str(err)
    assert_one_language(err)


def test_collector_config_error_names_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "collector.yaml"
    text = (ROOT / "examples/collector.yaml").read_text(encoding="utf-8")
    old = "  anonymous: {per_second: 20, burst: 120}"
    path.write_text(text.replace(old, "  anonymous: {per_second: 20, burst: 0}"),
                    encoding="utf-8")
    line = line_holding(path, "anonymous: {per_second: 20, burst: 0}")
    err = raises(load_collector_settings, path)
    assert (err.source, err.line, err.key) == (str(path), line, "protection.anonymous.burst")
    assert f"{path}:{line}: clé « protection.anonymous.burst » : attendu un nombre entier" in (
        str(err))
    assert err.render("en").startswith(
        f"{path}:{line}: key 'protection.anonymous.burst': expected an integer >= 1, got 0")
    assert_one_language(err)
    path.write_text(text.replace("workers: 3", "workerz: 3"), encoding="utf-8")
    err = raises(load_collector_settings, path)
    assert (err.line, err.key) == (line_holding(path, "workerz: 3"), "workerz")
    assert "clé inconnue" in str(err) and "unknown key" in err.render("en")
    assert_one_language(err)


def test_report_settings_error_names_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "report.yaml"
    path.write_text("lang: fr\nmail:\n  from: SOC <soc@example.fr>\n  smtp:\n    host: relay\n"
                    "    security: starttls\n    port: 70000\n", encoding="utf-8")
    err = raises(load_report_settings, None, path)
    assert (err.source, err.line, err.key) == (str(path), 7, "mail.smtp.port")
    assert str(err) == (f"{path}:7: clé « mail.smtp.port » : attendu un nombre entier de 1 à "
                        "65535, trouvé 70000")
    assert err.render("en") == (f"{path}:7: key 'mail.smtp.port': expected an integer from 1 "
                                "to 65535, got 70000")
    assert_one_language(err)


def test_report_section_of_the_collector_file_names_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "collector.yaml"
    path.write_text("workers: 2\nreport:\n  timezone: Mars/Olympus\n", encoding="utf-8")
    err = raises(load_report_settings, path, None)
    assert (err.source, err.line, err.key) == (str(path), 3, "report.timezone")
    assert "un fuseau horaire IANA" in str(err) and "an IANA time zone" in err.render("en")
    path.write_text("report:\n  contacts: {phone: '05 00'}\nworkerz: 2\n", encoding="utf-8")
    err = raises(load_report_settings, path, None)  # the collector's own keys keep their lines
    assert (err.line, err.key) == (3, "workerz")
    path.write_text("workers: 2\nreport:\n  mail:\n    smtp: {username: soc}\n",
                    encoding="utf-8")
    err = raises(load_report_settings, path, None)
    assert (err.line, err.key) == (4, "report.mail.smtp")
    assert "username et password_file ensemble, ou aucun des deux" in str(err)
    assert_one_language(err)


def copy_rules(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    return tmp_path / "rules"


def test_rules_directory_error_names_file_line_and_key(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    path = rules / "checks" / "backups.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("    severity: high\n") >= 1
    path.write_text(text.replace("    severity: high\n", "    severity: grave\n", 1),
                    encoding="utf-8")
    line = path.read_text(encoding="utf-8").splitlines().index("    severity: grave") + 1
    err = raises(load_rules, rules)
    assert (err.source, err.line, err.key) == (str(path), line, "checks.backups.freshness.severity")
    assert str(err) == (f"{path}:{line}: clé « checks.backups.freshness.severity » : attendu "
                        "l'une des valeurs critical, high, medium, low, info, trouvé \"grave\"")
    assert err.render("en").endswith(
        "expected one of critical, high, medium, low, info, got \"grave\"")
    assert_one_language(err)


def test_a_framework_pointing_at_an_unknown_check_names_its_line(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    path = rules / "frameworks" / "anssi.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    checks: []\n", "    checks: [nosuch.check]\n", 1),
                    encoding="utf-8")
    err = raises(load_rules, rules)
    assert (err.source, err.key) == (str(path), "measures[0].checks")
    assert err.line == line_holding(path, "checks: [nosuch.check]")
    assert "nosuch.check" in str(err) and "rules/checks" in str(err)


def test_a_bad_message_catalog_names_its_line(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    path = rules / "messages" / "console.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "console.broken: {fr: 'seul'}\n",
                    encoding="utf-8")
    err = raises(load_rules, rules)
    assert (err.source, err.key) == (str(path), "console.broken")
    assert err.line == line_holding(path, "console.broken:")
    assert "attendu un message valide" in str(err)


# The catalog


def test_every_config_message_has_both_languages_with_the_same_placeholders() -> None:
    data = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    assert data and all(str(k).startswith("config.") for k in data)
    for msg_id, entry in data.items():
        message = parse_message(msg_id, entry, str(CATALOG))
        assert set(message.texts) == set(LANGS), msg_id
        assert message.placeholders("fr") == message.placeholders("en"), msg_id
        # Words only (`text`), so that rendering an error loads no Babel.
        assert all(kind == "text" for _, kind in message.placeholders("fr")), msg_id


def used_message_ids() -> set[str]:
    """The ids that expect("…"), problem("…") and word("…") calls name in the package, and the
    frames ConfigError renders itself."""
    prefixes = {"expect": "config.expected.", "problem": "config.problem.", "word": "config.word."}
    ids = set()
    for path in (ROOT / "sentinelle").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    and node.module == "sentinelle.errors" for alias in node.names}
        if path.name == "errors.py":
            imported = set(prefixes)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in prefixes and node.func.id in imported and node.args
                    and isinstance(node.args[0], ast.Constant)):
                ids.add(prefixes[node.func.id] + str(node.args[0].value))
            if isinstance(node, ast.Constant) and str(node.value).startswith("config.frame."):
                ids.add(str(node.value))
    return ids


def test_every_message_the_code_names_is_in_the_catalog_and_every_entry_is_used() -> None:
    used = used_message_ids()
    # number_expected() builds its ids: number, integer and their _min, _max, _range.
    used |= {f"config.expected.{kind}{suffix}" for kind in ("number", "integer")
             for suffix in ("", "_min", "_max", "_range")}
    # ParamSpec.expected names the kinds through a table.
    used |= {f"config.expected.{kind}" for kind in ("boolean", "string", "string_list")}
    # params.validate()'s `what`: its default and the words build_params and config pass.
    used |= {f"config.expected.{what}" for what in ("param_of_check", "param_declared",
                                                    "param_of_family")}
    defined = set(catalog_words())
    assert used - defined == set()
    assert defined - used == set()


def _errors_once_in_english(tmp_path: Path) -> Iterator[ConfigError]:
    """One error of each caller that once wrote its own English words."""
    import copy

    from sentinelle.checks.backups.restore import JOURNAL_NAME, load_restore_tests
    from sentinelle.checks.patching.support import parse_os_support
    from sentinelle.checks.ports.risky import parse_risky_services
    from sentinelle.report.catalog import parse_catalog
    from sentinelle.report.content import Month
    from sentinelle.runner import build_setup
    from sentinelle.scoring import ScoringPolicy

    rules = load_rules()
    scoring = copy.deepcopy(rules.scoring)
    scoring["categories"]["backups"]["families"].append("ports")
    yield raises(ScoringPolicy.from_data, scoring, "rules/scoring.yaml")
    scoring = copy.deepcopy(rules.scoring)
    scoring["status_factors"]["skip"] = 0.5
    yield raises(ScoringPolicy.from_data, scoring, "rules/scoring.yaml")
    risky = copy.deepcopy(rules.data("risky_ports"))
    risky["services"][0]["ports"] = ["30-20"]
    yield raises(parse_risky_services, risky, "rules/risky_ports.yaml")
    support = copy.deepcopy(rules.data("os_support"))
    support["systems"]["debian"]["versions"][12] = support["systems"]["debian"]["versions"]["12"]
    yield raises(parse_os_support, support, "rules/os_support.yaml")
    report = load_yaml_file(ROOT / "rules" / "report.yaml")
    report["routine"] = report["routine"][:2]
    yield raises(parse_catalog, report, "rules/report.yaml", rules.catalog)
    yield raises(Month.parse, "mars")
    (tmp_path / JOURNAL_NAME).write_text('{"locations": {"nas": [{"tested_at": "hier"}]}}')
    yield raises(load_restore_tests, tmp_path)
    yield raises(build_setup, None, ["nosuch"])


def test_the_checks_data_the_scoring_and_the_commands_say_it_in_one_language(
        tmp_path: Path) -> None:
    for err in _errors_once_in_english(tmp_path):
        assert err.message_id is not None, err.render("en")
        assert err.render("fr") != err.render("en")
        assert_one_language(err)


# Modules still to move to the catalog: named here, so that the debt stays in view.
NOT_YET_IN_THE_CATALOG: set[str] = set()
LOGGERS = {"log", "logger", "logging"}


def texts_given_as_expected(tree: ast.AST) -> list[int]:
    """The lines where ConfigError(source, key, expected, …) or a Section's
    error(key, expected, …) is given a text of its own as `expected`."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "ConfigError":
            at = 2
        elif (isinstance(func, ast.Attribute) and func.attr == "error"
              and not (isinstance(func.value, ast.Name) and func.value.id in LOGGERS)):
            at = 1
        else:
            continue
        given = [*node.args[at:at + 1], *(k.value for k in node.keywords if k.arg == "expected")]
        if any(written_text(arg) for arg in given):
            lines.append(node.lineno)
    return lines


def test_configuration_errors_say_what_was_expected_with_catalog_words() -> None:
    """Every ConfigError of the package is given catalog words (expect(), problem()), never an
    English text of its own, which would show as it is on a French screen."""
    found = []
    for path in sorted((ROOT / "sentinelle").rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if name in NOT_YET_IN_THE_CATALOG:
            continue
        found += [f"{name}:{line}" for line in
                  texts_given_as_expected(ast.parse(path.read_text(encoding="utf-8")))]
    assert found == []
    # The scan finds what it looks for.
    sample = ('raise ConfigError("f", "k", "a month", v)\nraise sec.error("k", f"a {x}")\n'
              'raise ConfigError("f", "k", expect("month"), v)\nlog.error("a %s", "b")\n'
              'raise sec.error("k", expected="x" + y)\n')
    assert texts_given_as_expected(ast.parse(sample)) == [1, 2, 5]


def test_rendering_an_error_imports_no_babel() -> None:
    code = ("import sys; from sentinelle.config import load_config\n"
            "from sentinelle.errors import ConfigError\n"
            "import pathlib, tempfile\n"
            "p = pathlib.Path(tempfile.mkdtemp()) / 'agent.yaml'\n"
            "p.write_text('agent: {jitter_fraction: 0.9}\\n')\n"
            "try:\n    load_config(p)\nexcept ConfigError as e:\n"
            "    assert 'de 0 à 0.5' in e.render('fr') and 'from 0 to 0.5' in e.render('en')\n"
            "    assert str(e) == e.render('fr')\n"
            "assert 'babel' not in sys.modules\n")
    env = {k: v for k, v in os.environ.items() if k not in ("SENTINELLE_LANG", "LC_ALL", "LANG")}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env)


def test_errors_survive_pickling_and_old_style_text() -> None:
    err = ConfigError("agent.yaml", "agent.x", expect("string"), 5, line=3)
    again = pickle.loads(pickle.dumps(err))
    assert (again.line, again.key, again.got) == (3, "agent.x", 5)
    assert again.render("en") == err.render("en")
    # A caller still writing its own words: the frame is translated, its words are its own.
    legacy = ConfigError("--month", "--month", "a month as YYYY-MM", "mars")
    assert legacy.render("fr") == "--month: clé « --month » : attendu a month as YYYY-MM, " \
        'trouvé "mars"'
    assert legacy.expected == "a month as YYYY-MM"
