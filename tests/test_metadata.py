"""Check ids, their code and their metadata in rules/ must agree (prowler's validator habit)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from sentinelle.checks.base import CHECK_ID, registry
from sentinelle.errors import ConfigError
from sentinelle.metrics import MEASUREMENTS
from sentinelle.rules import load_rules

ROOT = Path(__file__).resolve().parent.parent


def test_every_registered_check_has_metadata_and_back() -> None:
    """Metadata describes a registered Python check or is a declarative check's own
    (rules/policies, whose metadata and condition are one)."""
    rules = load_rules()
    registered = set(registry())
    described = set(rules.checks)
    assert registered, "no check registered"
    assert registered - described == set(), "registered checks without metadata"
    assert described - registered == set(rules.policies), "metadata naming no check"
    assert not registered & set(rules.policies), "a policy with a Python check's id"
    for check_id in rules.policies:
        assert Path(rules.checks[check_id].source).parent.name == "policies", check_id


def test_family_of_id_matches_module_and_file() -> None:
    rules = load_rules()
    for check_id, cls in registry().items():
        assert CHECK_ID.match(check_id)
        family = check_id.split(".")[0]
        assert cls.__module__.startswith(f"sentinelle.checks.{family}."), cls.__module__
        # A Windows-only check's metadata sits in windows_<family>.yaml beside the family's.
        expected = (f"windows_{family}.yaml" if cls.platforms == frozenset({"windows"})
                    else f"{family}.yaml")
        assert Path(rules.checks[check_id].source).name == expected, check_id
        assert cls.__doc__, f"{cls.__name__} needs a docstring"


def test_families_are_packages_with_metadata_and_tests() -> None:
    """A family is a package (sentinelle/checks/<family>/checks.py holds its checks), has its
    metadata in rules/checks/<family>.yaml and its tests in tests/checks/<family>/: the three
    agree, and every registered check lives in its family's checks module."""
    checks_dir = ROOT / "sentinelle" / "checks"
    packages = {p.parent.name for p in checks_dir.glob("*/__init__.py")}
    families = {check_id.split(".")[0] for check_id in registry()}
    metadata = {p.stem.removeprefix("windows_")
                for p in (ROOT / "rules" / "checks").glob("*.yaml")}
    tested = {p.name for p in (ROOT / "tests" / "checks").iterdir() if p.is_dir()
              and any(p.glob("test_*.py"))}
    assert packages == families == metadata, (packages, families, metadata)
    # Families with only Windows checks so far are tested in tests/checks/on_windows/ (named
    # to run before test_messages.py, which renders what they said).
    windows_only = {f for f in families if all(
        cls.platforms == frozenset({"windows"}) for cid, cls in registry().items()
        if cid.startswith(f + "."))}
    assert families - windows_only <= tested, families - tested
    if windows_only:
        assert (ROOT / "tests" / "checks" / "on_windows" / "test_windows_checks.py").is_file()
    for family in families:
        assert any((checks_dir / family / f"{m}.py").is_file() for m in ("checks", "windows")), (
            family)
    for check_id, cls in registry().items():
        family = check_id.split(".")[0]
        # Windows-only checks live in the family's windows module (their collectors and
        # parsers in sentinelle/windows/).
        module = "windows" if cls.platforms == frozenset({"windows"}) else "checks"
        assert cls.__module__ == f"sentinelle.checks.{family}.{module}", (check_id,
                                                                          cls.__module__)
    # A family split over two files names itself the same way in both.
    categories: dict[str, dict[str, str]] = {}
    for meta in load_rules().checks.values():
        assert categories.setdefault(meta.family, meta.category) == meta.category, meta.id
    # No check module left flat beside the framework's own files.
    flat = {p.name for p in checks_dir.glob("*.py")}
    assert flat <= {"__init__.py", "base.py", "privileges.py"}, flat


def test_texts_exist_in_both_languages_and_anssi_is_real() -> None:
    anssi = (
        yaml.safe_load((ROOT.parent / "shared/anssi-hygiene-measures.yaml").read_text())
        if (ROOT.parent / "shared/anssi-hygiene-measures.yaml").exists()
        else None
    )
    known = {m["id"] for m in anssi["measures"]} if anssi else set(range(1, 43))
    for meta in load_rules().checks.values():
        for texts in (meta.title, meta.rationale, meta.remediation, meta.category):
            assert texts["fr"].strip() and texts["en"].strip(), meta.id
            assert texts["fr"] != texts["en"], f"{meta.id}: French text is a copy of English"
        assert set(meta.anssi) <= known, meta.id


def test_metadata_naming_unknown_field_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "checks").mkdir()
    (tmp_path / "scoring.yaml").write_text((ROOT / "rules/scoring.yaml").read_text())
    shutil.copytree(ROOT / "rules/frameworks", tmp_path / "frameworks")
    text = (ROOT / "rules/checks/patching.yaml").read_text()
    data = yaml.safe_load(text)
    first = next(iter(data["checks"]))
    data["checks"][first]["severty"] = "high"
    (tmp_path / "checks/patching.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=rf"checks\.{first}\.severty"):
        load_rules(tmp_path)


def test_metadata_for_a_check_outside_its_family_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "checks").mkdir()
    (tmp_path / "scoring.yaml").write_text((ROOT / "rules/scoring.yaml").read_text())
    shutil.copytree(ROOT / "rules/frameworks", tmp_path / "frameworks")
    data = yaml.safe_load((ROOT / "rules/checks/patching.yaml").read_text())
    meta = next(iter(data["checks"].values()))
    data["checks"] = {"ports.stray": meta}
    (tmp_path / "checks/patching.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_rules(tmp_path)
    assert "starting with 'patching.'" in err.value.render("en")
    assert err.value.line == 5 and err.value.key == "checks.ports.stray"


def test_docs_list_every_metric() -> None:
    doc = (ROOT / "docs/metrics.md").read_text()
    for name in MEASUREMENTS:
        assert f"sentinelle_{name}" in doc, name
    for name in (
        "check_status",
        "check_success",
        "check_duration_seconds",
        "host_risk_score",
        "host_grade_info",
        "findings_open",
        "report_timestamp_seconds",
        "host_info",
        "agent_info",
        "findings_waived",
        "waiver_expiry_timestamp_seconds",
        "waivers_expired_open",
    ):
        assert f"sentinelle_{name}" in doc, name


def test_the_anssi_framework_points_at_registered_checks() -> None:
    """prowler's direction: measures name check ids; every id is a registered check, every
    check gives evidence for at least one measure, and the measures are the guide's 42."""
    from pathlib import Path

    import yaml

    from sentinelle.checks.base import registry
    from sentinelle.rules import load_rules

    rules = load_rules()
    framework = rules.frameworks["anssi"]
    named = {c for m in framework.measures for c in m.checks}
    runnable = set(registry()) | set(rules.policies)
    assert named <= runnable
    assert runnable <= named, runnable - named
    assert [m.id for m in framework.measures] == list(range(1, 43))
    shared = Path(__file__).resolve().parents[2] / "shared" / "anssi-hygiene-measures.yaml"
    if shared.is_file():  # the guide as the design notes carry it
        guide = {m["id"]: m for m in yaml.safe_load(shared.read_text())["measures"]}
        for m in framework.measures:
            assert m.title["fr"] == guide[m.id]["title"] and m.automatable == guide[m.id][
                "automatable"], m.id
            assert m.title["en"] and m.title["en"] != m.title["fr"]
    # A check's measures come from the framework (its metadata no longer says them).
    assert rules.checks["ports.risky_services"].anssi == (21, 23)


def test_checks_framework_prints_the_coverage(capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from sentinelle.cli import main

    assert main(["checks", "--framework", "anssi", "--lang", "fr"]) == 0
    out = capsys.readouterr().out
    assert "MESURE" in out and "Guide d'hygiène informatique de l'ANSSI" in out
    assert "mesures sur 42" in out and "MEASURE" not in out
    assert main(["checks", "--framework", "anssi", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 42
    by_id = {r["id"]: r for r in rows}
    assert by_id[37]["automated"] and "backups.freshness" in by_id[37]["checks"]
    assert not by_id[1]["automatable"] and not by_id[1]["automated"]


def test_a_framework_naming_an_unknown_check_is_an_error(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    path = tmp_path / "rules/frameworks/anssi.yaml"
    path.write_text(path.read_text().replace("checks: [backups.freshness",
                                             "checks: [backups.freshnes", 1))
    with pytest.raises(ConfigError, match=r"backups\.freshnes") as err:
        load_rules(tmp_path / "rules")
    assert str(path) in str(err.value)
