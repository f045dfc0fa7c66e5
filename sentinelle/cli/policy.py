"""`sentinelle policy show`: the settings this agent runs with, the syndicate's and the local
config's merged, and where each value comes from (no network: the policy held on disk)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sentinelle.cli.registry import EXIT_OK, add_config, command, group, helptext, say

if TYPE_CHECKING:
    from sentinelle.cli.registry import Subparsers


def register(subparsers: Subparsers) -> None:
    _, policy = group(subparsers, "policy", "policy_command", help=helptext("cli.help.policy"))
    show = command(policy, "show", show_policy, help=helptext("cli.help.policy.show"))
    add_config(show)


def show_policy(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sentinelle.agent.policy import load_cached
    from sentinelle.config import load_config
    from sentinelle.rules import load_rules
    from sentinelle.runner import known_params
    from sentinelle.syndicate import served_checks, unknown_checks

    known = known_params(load_rules())
    local = load_config(args.config, known)
    served = load_cached(Path(local.agent.state_dir))
    if served is None:
        print(say("cli.policy.none"))
    else:
        print(say("cli.policy.version", version=served.version,
                  scopes=", ".join(served.scopes) or "-"))
    syndicate = served_checks(served, known) if served is not None else {}
    print(say("cli.policy.checks_heading"))
    for key in sorted(set(syndicate) | set(local.checks)):
        theirs, mine = syndicate.get(key), local.checks.get(key)
        rows: list[tuple[str, object, str]] = []
        for settings, source in ((theirs, "cli.policy.from_syndicate"),
                                 (mine, "cli.policy.from_local")):
            if settings is None:
                continue
            if settings.enabled is not None:
                rows.append(("enabled", settings.enabled, source))
            rows += [(name, value, source) for name, value in settings.params.items()]
        effective: dict[str, tuple[object, str]] = {}
        overridden: dict[str, tuple[object, str]] = {}
        for name, value, source in rows:  # local after syndicate: the later one wins
            if name in effective:
                overridden[name] = effective[name]
            effective[name] = (value, source)
        for name, (value, source) in sorted(effective.items()):
            line = say("cli.policy.setting", key=key, name=name, value=str(value),
                       source=say(source))
            if name in overridden:
                line += " " + say("cli.policy.overrides", value=str(overridden[name][0]))
            print(line)
    if served is not None:
        for key in unknown_checks(served, known):
            print(say("cli.policy.unknown_check", key=key))
        print(say("cli.policy.waivers_heading", count=len(served.waivers)))
        for w in served.waivers:
            print(say("cli.policy.waiver", check=w.check, key=w.key or "*", until=w.expires,
                      by=w.accepted_by, reason=w.reason))
        for f in served.files:
            print(say("cli.policy.file", name=f.name))
    return EXIT_OK
