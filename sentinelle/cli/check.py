"""`sentinelle check` (run the checks once) and `sentinelle checks` (the catalog, a framework's
coverage)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sentinelle.cli.registry import EXIT_FAILURE, EXIT_OK, add_config, command, helptext
from sentinelle.model import Severity

if TYPE_CHECKING:
    from sentinelle.cli.registry import Subparsers
    from sentinelle.model import Report
    from sentinelle.rules import RuleSet


def register(subparsers: Subparsers) -> None:
    check = command(subparsers, "check", run_check,
                    help=helptext("cli.help.check"))
    add_config(check)
    check.add_argument(
        "--only", nargs="+", default=[], metavar="ID", help=helptext("cli.help.check.only")
    )
    check.add_argument("--format", choices=("table", "json", "prometheus"), default="table",
                       help=helptext("cli.help.check.format"))
    check.add_argument(
        "--root",
        default="/",
        metavar="PATH",
        help=helptext("cli.help.check.root"),
    )
    check.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity],
        metavar="SEVERITY",
        help=helptext("cli.help.check.fail_on"),
    )
    check.add_argument("--capture", metavar="DIR", help=helptext("cli.help.check.capture"))
    check.add_argument("--lang", choices=("fr", "en"), help=helptext("cli.help.check.lang"))
    check.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                       help=helptext("cli.help.check.color"))
    check.add_argument(
        "--refresh-package-lists",
        action="store_true",
        help=helptext("cli.help.check.refresh_package_lists"),
    )

    catalog = command(subparsers, "checks", run_checks, help=helptext("cli.help.checks"))
    add_config(catalog)
    catalog.add_argument("--lang", choices=("fr", "en"),
                         help=helptext("cli.help.checks.lang"))
    catalog.add_argument("--format", choices=("table", "json"), default="table",
                         help=helptext("cli.help.checks.format"))
    catalog.add_argument("--framework", choices=("anssi",),
                         help=helptext("cli.help.checks.framework"))


def fail_on_triggered(report: Report, threshold: Severity) -> bool:
    return any(f.status.is_open and f.severity.rank <= threshold.rank for f in report.results)


def run_check(args: argparse.Namespace) -> int:
    from sentinelle.console import default_lang, print_table
    from sentinelle.host import Host
    from sentinelle.runner import build_setup, run_checks

    setup = build_setup(args.config, args.only)
    if args.refresh_package_lists:
        from sentinelle.checks.patching.checks import refresh_package_lists

        refresh_package_lists(Path(setup.config.agent.state_dir))
    if args.capture:  # a Windows machine's capture, judged as at its recording
        import dataclasses

        from sentinelle.windows.capture import answers_from_capture, replay_host

        host = replay_host(Path(args.capture))
        setup = dataclasses.replace(setup, checks=tuple(
            c for c in setup.checks if answers_from_capture(c)))
    else:
        host = Host(root=args.root)
    report = run_checks(setup, host)
    lang = args.lang or default_lang()
    if args.format == "json":
        from sentinelle.console import localized_report

        json.dump(localized_report(report, setup.rules, lang), sys.stdout, ensure_ascii=False,
                  indent=2)
        sys.stdout.write("\n")
    elif args.format == "prometheus":
        from prometheus_client import generate_latest

        from sentinelle.agent.exporter import single_report_registry

        sys.stdout.write(generate_latest(single_report_registry(report, lang)).decode())
    else:
        print_table(report, setup.rules, lang, args.color)
    if args.fail_on and fail_on_triggered(report, Severity(args.fail_on)):
        return EXIT_FAILURE
    return EXIT_OK


def runnable(rules: RuleSet) -> list[str]:
    """The ids of the checks that can run: the registered Python checks and the declarative
    ones, sorted."""
    from sentinelle.checks.base import registry

    return sorted({*registry(), *rules.policies})


def run_checks(args: argparse.Namespace) -> int:
    from sentinelle.console import default_lang
    from sentinelle.runner import load_rules_and_config

    # The config's policy directories add their declarative checks to the catalog.
    rules, _ = load_rules_and_config(args.config)
    lang = args.lang or default_lang()
    if args.framework:
        return print_framework(rules, args.framework, lang, args.format)
    rows = []
    for check_id in runnable(rules):
        meta = rules.checks[check_id]
        rows.append(
            {
                "id": check_id,
                "severity": meta.severity.value,
                "anssi": list(meta.anssi),
                "title": meta.title[lang],
                "kind": "policy" if check_id in rules.policies else "python",
                "source": meta.source,
            }
        )
    if args.format == "json":
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    from sentinelle.texts import severity_name

    header = rules.catalog.render("console.catalog_header", {}, lang).split("|")
    id_width = max(len(header[0]), *(len(r["id"]) for r in rows))
    severities = [severity_name(str(r["severity"]), rules.catalog, lang) for r in rows]
    sev_width = max(len(header[1]), *(len(s) for s in severities))
    print(f"{header[0]:<{id_width}}  {header[1]:<{sev_width}}  {header[2]:<8}  {header[3]}")
    for r, severity in zip(rows, severities, strict=True):
        anssi = ",".join(str(a) for a in r["anssi"]) or "-"
        print(f"{r['id']:<{id_width}}  {severity:<{sev_width}}  {anssi:<8}  {r['title']}")
    return EXIT_OK


def print_framework(rules: RuleSet, name: str, lang: str, fmt: str) -> int:
    """Each measure of the framework, whether checks give automated evidence for it, which."""
    framework = rules.frameworks[name]
    registered = set(runnable(rules))
    say = rules.catalog.render
    rows = [
        {
            "id": m.id,
            "title": m.title[lang],
            "automatable": m.automatable,
            "automated": any(c in registered for c in m.checks),
            "checks": [c for c in m.checks if c in registered],
        }
        for m in framework.measures
    ]
    if fmt == "json":
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    head = say("console.framework_header", {}, lang).split("|")
    states = [
        say("console.yes" if r["automated"] else
            "console.no" if r["automatable"] else "console.not_automatable", {}, lang)
        for r in rows
    ]
    width = max(len(head[1]), *(len(s) for s in states))
    checks = [", ".join(c for c in m.checks if c in registered) or "-"
              for m in framework.measures]
    check_width = min(60, max(len(head[2]), *(len(c) for c in checks)))
    print(f"{head[0]:<7}  {head[1]:<{width}}  {head[2]:<{check_width}}  {head[3]}")
    for r, state, names in zip(rows, states, checks, strict=True):
        print(f"{r['id']:<7}  {state:<{width}}  {names:<{check_width}}  {r['title']}")
    print()
    print(say("console.framework_coverage", {
        "title": framework.title[lang],
        "automated": sum(1 for r in rows if r["automated"]),
        "total": len(rows),
        "automatable": sum(1 for r in rows if r["automatable"]),
    }, lang))
    return EXIT_OK
