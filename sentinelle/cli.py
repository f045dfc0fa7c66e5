"""The `sentinelle` command line. SentinelleError is caught here, and only here."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from sentinelle import __version__
from sentinelle.config import load_config
from sentinelle.errors import SentinelleError
from sentinelle.model import Report, Severity
from sentinelle.rules import RuleSet

EXIT_CONFIG = 2


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="YAML configuration (default: embedded)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sentinelle", description="Posture monitoring for town-hall servers."
    )
    parser.add_argument("--version", action="version", version=f"sentinelle {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="run the enabled checks once and print the posture")
    _add_config(check)
    check.add_argument(
        "--only", nargs="+", default=[], metavar="ID", help="run only these check ids or families"
    )
    check.add_argument("--format", choices=("table", "json", "prometheus"), default="table")
    check.add_argument(
        "--root",
        default="/",
        metavar="PATH",
        help="inspect the file tree under PATH instead of / (fixtures, images)",
    )
    check.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity],
        metavar="SEVERITY",
        help="exit 1 when an open finding is at least this severe",
    )
    check.add_argument("--lang", choices=("fr", "en"), help="language of the table")
    check.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    check.add_argument(
        "--refresh-package-lists",
        action="store_true",
        help="refresh apt lists into the agent's state directory first "
        "(the system's own lists are not touched)",
    )

    catalog = sub.add_parser("checks", help="list the check catalog")
    catalog.add_argument("--lang", choices=("fr", "en"))
    catalog.add_argument("--format", choices=("table", "json"), default="table")
    catalog.add_argument("--framework", choices=("anssi",),
                         help="coverage of a framework: each measure, its checks, automated or not")

    agent = sub.add_parser("agent", help="the long-running agent")
    agent_sub = agent.add_subparsers(dest="agent_command", required=True)
    run = agent_sub.add_parser("run", help="check on a schedule and serve /metrics")
    _add_config(run)
    run.add_argument("--once", action="store_true", help="run one cycle, then exit")
    enroll = agent_sub.add_parser("enroll", help="enroll this agent with the syndicate's collector")
    _add_config(enroll)
    enroll.add_argument("--collector", required=True, metavar="URL", help="https://…")
    enroll.add_argument("--token", required=True, help="the commune's enrollment token")
    enroll.add_argument("--hostname", help="host label to ask for (default: this host's name)")
    enroll.add_argument(
        "--ca-bundle",
        metavar="FILE",
        help="PEM CA of a private collector certificate (also set push.ca_bundle)",
    )
    enroll.add_argument(
        "--force",
        action="store_true",
        help="enroll again even though credentials exist (a new agent id)",
    )

    backup = sub.add_parser("backup", help="backup bookkeeping")
    backup_sub = backup.add_subparsers(dest="backup_command", required=True)
    tested = backup_sub.add_parser(
        "restore-tested", help="record that a restore test of a location succeeded"
    )
    _add_config(tested)
    tested.add_argument("--location", required=True, help="backup location name from the config")
    tested.add_argument("--note", default="", help="what was restored, by whom")
    demo = sub.add_parser(
        "demo", help="collector + this machine's agent + Prometheus, on loopback, in one command"
    )
    demo.add_argument(
        "--dir",
        default=None,
        metavar="DIR",
        help="where the demo keeps its files (default: ./sentinelle-demo)",
    )
    demo.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop after this long (default: run until Ctrl-C)",
    )
    demo.add_argument(
        "--interval",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="seconds between the agent's check cycles (default 300)",
    )
    demo.add_argument("--lang", choices=("fr", "en"))

    from sentinelle.collector.arguments import add_collector_parser
    from sentinelle.dashboards.cli import add_dashboards_parser
    from sentinelle.report.arguments import add_report_parser

    add_collector_parser(sub)
    add_dashboards_parser(sub)
    add_report_parser(sub)
    return parser


def fail_on_triggered(report: Report, threshold: Severity) -> bool:
    return any(f.status.is_open and f.severity.rank <= threshold.rank for f in report.results)


def cmd_check(args: argparse.Namespace) -> int:
    from sentinelle.console import default_lang, print_table
    from sentinelle.host import Host
    from sentinelle.runner import build_setup, run_checks

    setup = build_setup(args.config, args.only)
    if args.refresh_package_lists:
        from sentinelle.checks.patching import refresh_package_lists

        refresh_package_lists(Path(setup.config.agent.state_dir))
    report = run_checks(setup, Host(root=args.root))
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
        return 1
    return 0


def cmd_checks(args: argparse.Namespace) -> int:
    from sentinelle.checks.base import registry
    from sentinelle.console import default_lang
    from sentinelle.rules import load_rules

    rules = load_rules()
    lang = args.lang or default_lang()
    if args.framework:
        return print_framework(rules, args.framework, lang, args.format)
    rows = []
    for check_id in registry():
        meta = rules.checks[check_id]
        rows.append(
            {
                "id": check_id,
                "severity": meta.severity.value,
                "anssi": list(meta.anssi),
                "title": meta.title[lang],
            }
        )
    if args.format == "json":
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    from sentinelle.texts import severity_name

    header = rules.catalog.render("console.catalog_header", {}, lang).split("|")
    id_width = max(len(header[0]), *(len(r["id"]) for r in rows))
    severities = [severity_name(str(r["severity"]), rules.catalog, lang) for r in rows]
    sev_width = max(len(header[1]), *(len(s) for s in severities))
    print(f"{header[0]:<{id_width}}  {header[1]:<{sev_width}}  {header[2]:<8}  {header[3]}")
    for r, severity in zip(rows, severities, strict=True):
        anssi = ",".join(str(a) for a in r["anssi"]) or "-"
        print(f"{r['id']:<{id_width}}  {severity:<{sev_width}}  {anssi:<8}  {r['title']}")
    return 0


def print_framework(rules: RuleSet, name: str, lang: str, fmt: str) -> int:
    """Each measure of the framework, whether checks give automated evidence for it, which."""
    from sentinelle.checks.base import registry

    framework = rules.frameworks[name]
    registered = set(registry())
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
        return 0
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
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    if args.agent_command == "enroll":
        return cmd_agent_enroll(args)
    return cmd_agent_run(args)


def cmd_agent_enroll(args: argparse.Namespace) -> int:
    from sentinelle.agent import enroll
    from sentinelle.rules import load_rules
    from sentinelle.runner import known_params

    config = load_config(args.config, known_params(load_rules()))
    creds = enroll.enroll(
        args.collector,
        args.token,
        args.hostname or enroll.default_hostname(),
        config.agent.state_dir,
        ca_bundle=args.ca_bundle or config.push.ca_bundle,
        timeout=config.push.timeout_seconds,
        replace=args.force,
    )
    print(
        f"enrolled as {creds.agent_id}: commune {creds.commune}, host {creds.host}; "
        f"credentials in {enroll.credentials_path(config.agent.state_dir)}"
    )
    return 0


def cmd_agent_run(args: argparse.Namespace) -> int:
    from sentinelle.agent.daemon import Agent
    from sentinelle.agent.push import build_pusher
    from sentinelle.runner import build_setup

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    setup = build_setup(args.config)
    agent = Agent(setup)
    agent.install_signal_handlers()
    pusher = build_pusher(setup.config, stop_event=agent.stop_event)
    if pusher is not None:
        agent.hooks.append(pusher.on_report)
        agent.state.extra.append(pusher.collector())
    try:
        if args.once:
            report = agent.cycle()
            if report is None:
                return 1
            pushed = ""
            if pusher is not None and pusher.credentials() is not None:
                pusher.drain()
                status = pusher.status()
                pushed = f", {status.spool_depth} Report(s) left in the spool"
            print(
                f"{report.host.get('hostname')}: score {report.score.value:.0f}/100, "
                f"grade {report.score.grade}, report in "
                f"{agent.state_dir / 'last-report.json'}{pushed}"
            )
            return 0
        if pusher is not None:
            pusher.start()
        addr, port = agent.serve()
        logging.getLogger("sentinelle.agent").info(
            "serving /metrics on http://%s:%d/metrics", addr, port
        )
        agent.run_forever()
        return 0
    finally:
        if pusher is not None:
            pusher.close()


def cmd_backup_restore_tested(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from sentinelle.checks.backups import record_restore_test
    from sentinelle.config import load_config
    from sentinelle.errors import ConfigError
    from sentinelle.rules import load_rules
    from sentinelle.runner import known_params

    config = load_config(args.config, known_params(load_rules()))
    names = [b.name for b in config.backups]
    if args.location not in names:
        raise ConfigError(
            config.source,
            "backups.locations",
            "a location named " + args.location + f" (known: {names or 'none'})",
        )
    path = record_restore_test(
        Path(config.agent.state_dir), args.location, datetime.now(UTC), args.note
    )
    print(f"restore test of '{args.location}' recorded in {path}")
    return 0


def cmd_collector(args: argparse.Namespace) -> int:
    from sentinelle.collector.cli import run_collector

    return run_collector(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from sentinelle.console import default_lang
    from sentinelle.demo import DemoOptions, run_demo

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    directory = Path(args.dir) if args.dir else Path.cwd() / "sentinelle-demo"
    return run_demo(
        DemoOptions(
            directory=directory.resolve(),
            interval_seconds=args.interval,
            duration_seconds=args.duration,
            lang=args.lang or default_lang(),
        )
    )


def cmd_dashboards(args: argparse.Namespace) -> int:
    from sentinelle.dashboards.cli import run_dashboards

    return run_dashboards(args)


def cmd_report(args: argparse.Namespace) -> int:
    from sentinelle.report.cli import run_report

    return run_report(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {
        "check": cmd_check,
        "checks": cmd_checks,
        "agent": cmd_agent,
        "backup": cmd_backup_restore_tested,
        "collector": cmd_collector,
        "demo": cmd_demo,
        "dashboards": cmd_dashboards,
        "report": cmd_report,
    }
    try:
        return handlers[args.command](args)
    except SentinelleError as exc:
        print(f"sentinelle: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
