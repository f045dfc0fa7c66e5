"""`sentinelle backup restore-tested`: the bookkeeping the backup checks read."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from sentinelle.cli.registry import EXIT_OK, add_config, command, group, helptext, say

if TYPE_CHECKING:
    from sentinelle.cli.registry import Subparsers


def register(subparsers: Subparsers) -> None:
    _, backup = group(subparsers, "backup", "backup_command", help=helptext("cli.help.backup"))
    tested = command(backup, "restore-tested", restore_tested,
                     help=helptext("cli.help.backup.restore_tested"))
    add_config(tested)
    tested.add_argument("--location", required=True,
                        help=helptext("cli.help.backup.restore_tested.location"))
    tested.add_argument("--note", default="",
                        help=helptext("cli.help.backup.restore_tested.note"))


def restore_tested(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from sentinelle.checks.backups.checks import record_restore_test
    from sentinelle.config import load_config
    from sentinelle.errors import ConfigError, expect, word
    from sentinelle.rules import load_rules
    from sentinelle.runner import known_params

    config = load_config(args.config, known_params(load_rules()))
    names = [b.name for b in config.backups]
    if args.location not in names:
        # Not a usage error: which names exist depends on the configuration file.
        raise ConfigError(config.source, "backups.locations",
                          expect("backup_location", known=names or word("no_location")),
                          args.location)
    path = record_restore_test(
        Path(config.agent.state_dir), args.location, datetime.now(UTC), args.note
    )
    print(say("cli.backup.recorded", location=args.location, path=str(path)))
    return EXIT_OK
