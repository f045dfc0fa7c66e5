"""`sentinelle collector policy …` and `… waiver …`: the SOC's choices, each change recorded
with who and when (the store's policy history)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from sentinelle.cli.registry import say
from sentinelle.collector.policy import (
    check_scope,
    effective_policy,
    expiring,
    new_waiver,
    read_policy_file,
)
from sentinelle.collector.records import PolicyRecord, WaiverRecord
from sentinelle.collector.store import Store
from sentinelle.errors import ConfigError, expect
from sentinelle.rules import load_rules
from sentinelle.runner import known_params


def manage_policy(store: Store, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    cmd = args.policy_command
    if cmd == "set":
        scope = check_scope(args.scope)
        document = read_policy_file(Path(args.file), known_params(load_rules()))
        text = json.dumps(document, ensure_ascii=False, sort_keys=True)
        store.set_policy(PolicyRecord(scope, text, now, args.by))
        print(say("cli.collector.policy_set", scope=scope, count=len(document["checks"]),
                  files=len(document["policies"])))
        return 0
    if cmd == "clear":
        scope = check_scope(args.scope)
        if not store.clear_policy(scope, args.by, now):
            raise ConfigError("policy clear", "--scope", expect("scope_with_policy"), scope)
        print(say("cli.collector.policy_cleared", scope=scope))
        return 0
    if cmd == "history":
        for change in store.policy_changes(args.limit):
            print(say("cli.collector.policy_change", when=f"{change.at:%Y-%m-%d %H:%M}",
                      who=change.who, action=change.action, scope=change.scope,
                      detail=change.detail[:200]))
        return 0
    # show: one agent's effective policy, or every scope's own
    if args.agent:
        agent = store.get_agent(args.agent)
        if agent is None:
            raise ConfigError("policy show", "--agent", expect("known_agent"), args.agent)
        policies = {p.scope: p for p in store.list_policies()}
        served = effective_policy(agent, store.get_commune(agent.commune), policies,
                                  store.list_waivers())
        print(json.dumps(served.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(json.dumps({p.scope: {"updated_at": p.updated_at.isoformat(),
                                "updated_by": p.updated_by, **json.loads(p.document)}
                      for p in store.list_policies()}, ensure_ascii=False, indent=2))
    return 0


def manage_waivers(store: Store, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    cmd = args.waiver_command
    if cmd == "add":
        waiver = new_waiver(args.check, args.scope, args.reason, args.by, args.expires,
                            now.date(), args.key, known_checks=known_params(load_rules()))
        store.add_waiver(WaiverRecord(waiver, now, args.by))
        print(waiver.id)
        print(say("cli.collector.waiver_added", waiver=waiver.id, check=waiver.check,
                  scope=waiver.scope, until=waiver.expires), flush=True)
        return 0
    if cmd == "revoke":
        if not store.revoke_waiver(args.waiver_id, args.by, now):
            raise ConfigError("waiver revoke", "waiver_id", expect("active_waiver"),
                              args.waiver_id)
        print(say("cli.collector.waiver_revoked", waiver=args.waiver_id))
        return 0
    records = store.list_waivers()
    if args.expiring_within is not None:
        records = expiring(records, now.date(), args.expiring_within)
    for r in records:
        w = r.waiver
        print(say("cli.collector.waiver_row", waiver=w.id, until=w.expires, check=w.check,
                  key=w.key or "*", scope=w.scope, by=w.accepted_by, reason=w.reason))
    return 0
