"""A broken policy file is a ConfigError naming the file, the line and the key, in the words of
rules/messages/config.yaml (French by default, English too)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sentinelle.errors import ConfigError
from sentinelle.policies.loader import add_policy_dirs
from sentinelle.rules import load_rules
from tests.policies.helpers import BASE, check_yaml, policy_file

ROOT = Path(__file__).resolve().parents[2]
GOOD = check_yaml("essai.bon", "file_exists: {path: /etc/issue}", ["path"])


def broken(tmp_path: Path, checks: str, family: str = "essai") -> ConfigError:
    directory = tmp_path / "policies"
    policy_file(directory, checks, family)
    with pytest.raises(ConfigError) as err:
        add_policy_dirs(BASE, [directory])
    return err.value


def line_of(path: Path, needle: str) -> int:
    """The line of the first line holding `needle` in the policy file."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


def where(tmp_path: Path) -> Path:
    return tmp_path / "policies" / "essai.yaml"


@pytest.mark.parametrize(("condition", "key", "needle", "words"), [
    # one kind per condition
    ("{file_exists: {path: /a}, file_absent: {path: /b}}", "condition", "condition:",
     "exactly one of these keys"),
    ("{file_exsts: {path: /a}}", "condition", "condition:", "exactly one of these keys"),
    # paths: absolute, no `..`, a pattern in the last part of a settings path only
    ("file_exists: {path: /etc/../../home/x}", "condition.file_exists.path", "file_exists",
     "without '..'"),
    ("file_exists: {path: etc/shadow}", "condition.file_exists.path", "file_exists",
     "absolute path"),
    ("file_exists: {path: /etc/*.conf}", "condition.file_exists.path", "file_exists",
     "without '..' or a pattern"),
    ("setting: {path: /etc/*/x.conf, key: A, equals: b}", "condition.setting.path", "setting",
     "in its last part only"),
    # values
    ("file_mode: {path: /etc/shadow, max: 0640}", "condition.file_mode.max", "file_mode",
     "quoted string"),
    ("setting: {path: /etc/ssh/sshd_config, key: PermitEmptyPasswords, equals: no}",
     "condition.setting.equals", "setting", "bare yes or no"),
    ("setting: {path: /etc/x, key: A, equals: b, one_of: [c]}", "condition.setting",
     "setting", "exactly one comparison"),
    ("setting: {path: /etc/x, key: A}", "condition.setting", "setting",
     "exactly one comparison"),
    ("setting: {path: /etc/x, format: ini, key: A, equals: b}", "condition.setting.section",
     "setting", "ini format"),
    ("setting: {path: /etc/x, key: A, equals: b, repeated: middle}",
     "condition.setting.repeated", "setting", "one of first, last"),
    ("sysctl: {key: ../../etc/passwd, equals: 1}", "condition.sysctl.key", "sysctl",
     "kernel parameter"),
    ("package: {name: Telnetd;rm, installed: false}", "condition.package.name", "package",
     "package name"),
    ("service: {unit: ssh}", "condition.service.enabled", "service", "enabled, active, or both"),
    ("port: {port: 70000, listening: false}", "condition.port.port", "port",
     "an integer from 1 to 65535"),
    ("file_owner: {path: /etc/shadow}", "condition.file_owner.owner", "file_owner",
     "owner, group, or both"),
    ("file_exists: {path: /etc/issue, mode: '0644'}", "condition.file_exists.mode",
     "file_exists", "unknown key"),
    ("file_exists: {path: /etc/issue, as: Sshd}", "condition.file_exists.as", "file_exists",
     "lower-case name"),
    # regular expressions
    ("file_content: {path: /etc/x, matches: '([a-z]'}", "condition.file_content.matches",
     "file_content", "valid regular expression"),
    ("file_content: {path: /etc/x, matches: '^(a+)+$'}", "condition.file_content.matches",
     "file_content", "unbounded time"),
    ("file_content: {path: /etc/x, matches: '(x|xy)*z'}", "condition.file_content.matches",
     "file_content", "unbounded time"),
    ("file_content: {path: /etc/x, matches: a, max_bytes: 999999999}",
     "condition.file_content.max_bytes", "file_content", "an integer from 1 to 16777216"),
    # commands: the allow-list only, its arguments checked
    ("command: {name: rm_rf, equals: ''}", "condition.command.name", "command",
     "a command allowed in rules/policy_commands.yaml"),
    ("command: {name: systemctl_is_enabled, args: {unit: '--root=/x'}, exit_code: 0}",
     "condition.command.args.unit", "command", "does not start with '-'"),
    ("command: {name: systemctl_is_enabled, args: {unit: 'a b'}, exit_code: 0}",
     "condition.command.args.unit", "command", "a value matching"),
    ("command: {name: systemctl_is_enabled, exit_code: 0}", "condition.command.args.unit",
     "command", "this key is required"),
    ("command: {name: sshd_effective}", "condition.command", "command", "at least one test"),
    # combinations
    ("all: []", "condition.all", "all:", "a non-empty list of conditions"),
    ("all: [{any: [{none: [{all: [{any: [{file_exists: {path: /a}}]}]}]}]}]",
     "condition.all[0].any[0].none[0].all[0].any", "all:", "at most 4 levels"),
])
def test_a_broken_condition_names_file_line_and_key(
    tmp_path: Path, condition: str, key: str, needle: str, words: str
) -> None:
    err = broken(tmp_path, GOOD + check_yaml("essai.cas", condition))
    assert err.source == str(where(tmp_path))
    assert err.key == f"checks.essai.cas.{key}"
    # The line of `condition:` or of the condition's own first line.
    start = line_of(where(tmp_path), "essai.cas:")
    assert err.line in (start + 8, start + 9), (err.line, err.render("en"))
    assert words in err.render("en"), err.render("en")
    french = err.render("fr")
    assert f"clé « checks.essai.cas.{key} »" in french and words not in french


def test_a_condition_on_several_lines_names_the_line_of_its_key(tmp_path: Path) -> None:
    err = broken(tmp_path, check_yaml("essai.cas", """
        all:
          - file_exists: {path: /etc/issue}
          - any:
              - sysctl: {key: kernel.randomize_va_space, equals: 2}
              - command: {name: nc_listen, equals: x}
        """))
    assert err.key == "checks.essai.cas.condition.all[1].any[1].command.name"
    assert err.line == line_of(where(tmp_path), "nc_listen")
    assert "(kernel_release, sshd_effective, systemctl_is_enabled)" in err.render("en")


def test_too_many_conditions(tmp_path: Path) -> None:
    many = "all:\n" + "".join(f"  - file_exists: {{path: /etc/f{i}}}\n" for i in range(33))
    err = broken(tmp_path, check_yaml("essai.cas", many))
    assert "at most 32 conditions" in err.render("en")
    assert err.line == line_of(where(tmp_path), "/etc/f32}")


@pytest.mark.parametrize(("extra", "key", "needle", "words"), [
    ("    severty: high\n", "severty", "severty", "unknown key"),
    ("    on_fail: error\n", "on_fail", "on_fail", "one of fail, warn"),
    ("    params: {max: 1}\n", "params.max", "params", "a parameter no condition"),
    ("    params: {Max: 1}\n", "params.Max", "params", "lower-case name"),
    ("    anssi: [99]\n", "anssi", "anssi", "measure numbers from 1 to 42"),
])
def test_broken_metadata(tmp_path: Path, extra: str, key: str, needle: str, words: str) -> None:
    err = broken(tmp_path, check_yaml("essai.cas", "file_exists: {path: /etc/issue}",
                                      extra=extra))
    assert (err.key, err.line) == (f"checks.essai.cas.{key}", line_of(where(tmp_path), needle))
    assert words in err.render("en")


def test_a_sentence_naming_an_argument_no_condition_gives(tmp_path: Path) -> None:
    text = check_yaml("essai.cas", "file_exists: {path: /etc/issue}", ["path"])
    err = broken(tmp_path, text.replace("Non conforme {path}", "Non conforme {chemin}"))
    assert (err.key, err.line) == ("checks.essai.cas.messages.fail",
                                   line_of(where(tmp_path), "fail:"))
    assert err.render("en").endswith(
        "expected arguments the check's conditions give (path), got \"chemin\"")
    err = broken(tmp_path, text.replace("Fix {path}", "Fix {mode}"))
    assert (err.key, err.line) == ("checks.essai.cas.remediation",
                                   line_of(where(tmp_path), "remediation:"))


def test_the_pass_and_fail_sentences_and_no_other(tmp_path: Path) -> None:
    text = check_yaml("essai.cas", "file_exists: {path: /etc/issue}")
    err = broken(tmp_path, text.replace("      fail:", "      failed:"))
    assert (err.key, err.line) == ("checks.essai.cas.messages.failed",
                                   line_of(where(tmp_path), "failed:"))
    assert "one of the cases pass, fail" in err.render("en")
    lines = [line for line in text.splitlines(keepends=True) if "fail:" not in line]
    err = broken(tmp_path, "".join(lines))
    assert (err.key, err.line) == ("checks.essai.cas.messages.fail",
                                   line_of(where(tmp_path), "messages:"))


def test_ids_are_unique_across_python_checks_and_policies(tmp_path: Path) -> None:
    err = broken(tmp_path, check_yaml("ports.listening", "file_exists: {path: /a}"), "ports")
    assert (err.key, err.line) == ("checks.ports.listening", 4)
    assert "rules/checks/ports.yaml" in err.render("en")
    err = broken(tmp_path, check_yaml("hardening.aslr", "file_exists: {path: /a}"), "hardening")
    assert "rules/policies/hardening.yaml" in err.render("en")
    # Two files of one directory, or two directories.
    directory = tmp_path / "two"
    policy_file(directory, GOOD, name="a.yaml")
    policy_file(directory, GOOD, name="b.yaml")
    with pytest.raises(ConfigError) as two:
        add_policy_dirs(BASE, [directory])
    assert two.value.source == str(directory / "b.yaml") and str(directory / "a.yaml") in str(
        two.value)
    first, second = tmp_path / "first", tmp_path / "second"
    policy_file(first, GOOD)
    policy_file(second, GOOD)
    with pytest.raises(ConfigError) as again:
        add_policy_dirs(BASE, [first, second])
    assert again.value.source == str(second / "essai.yaml") and str(first) in str(again.value)


def test_an_id_outside_its_family(tmp_path: Path) -> None:
    err = broken(tmp_path, check_yaml("autre.cas", "file_exists: {path: /a}"))
    assert (err.key, err.line) == ("checks.autre.cas", 4)
    assert "starting with 'essai.'" in err.render("en")


def test_yaml_syntax_and_a_missing_directory(tmp_path: Path) -> None:
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "x.yaml").write_text("family: essai\nchecks: {a: [\n")
    with pytest.raises(ConfigError) as err:
        add_policy_dirs(BASE, [directory])
    assert err.value.source == str(directory / "x.yaml") and err.value.line == 3
    with pytest.raises(ConfigError) as missing:
        add_policy_dirs(BASE, [tmp_path / "absent"])
    assert missing.value.source == str(tmp_path / "absent")
    assert "un répertoire de politiques" in missing.value.render("fr")


def test_policies_of_the_rules_directory_leave_their_measures_to_the_framework(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    text = check_yaml("essai.cas", "file_exists: {path: /a}", extra="    anssi: [11]\n")
    policy_file(rules / "policies", text)
    with pytest.raises(ConfigError) as err:
        load_rules(rules)
    assert err.value.key == "checks.essai.cas.anssi"
    assert "rules/frameworks/anssi.yaml" in err.value.render("en")
    # Outside the rules directory, a policy names its measures, and they show in the framework.
    outside = tmp_path / "outside"
    policy_file(outside, text)
    added = add_policy_dirs(BASE, [outside])
    assert added.checks["essai.cas"].anssi == (11,)
    measure = next(m for m in added.frameworks["anssi"].measures if m.id == 11)
    assert "essai.cas" in measure.checks and "essai.cas" not in next(
        m for m in BASE.frameworks["anssi"].measures if m.id == 11).checks


def test_a_command_allow_list_entry_is_checked_too(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    (rules / "policy_commands.yaml").write_text(
        "commands:\n  bad:\n    argv: [sh, -c, '{script}']\n")
    policy_file(rules / "policies", check_yaml(
        "essai.cas", "command: {name: bad, args: {script: x}, exit_code: 0}"))
    with pytest.raises(ConfigError) as err:
        load_rules(rules)
    assert (err.value.key, err.value.line) == ("commands.bad.argv", 3)
