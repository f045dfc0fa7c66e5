"""`sentinelle collector device list|approve|forget`: a commune's LAN inventory and the SOC's
approvals (by MAC, with a label). An approval reaches the commune's agents with their policy
(lan.unknown_devices' `approved`), so the device's unknown-device finding goes away."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from sentinelle.cli.registry import say
from sentinelle.collector.devices import check_mac
from sentinelle.collector.records import DeviceRecord
from sentinelle.collector.store import Store
from sentinelle.errors import ConfigError, expect


def _when(moment: datetime | None) -> str:
    if moment is None:
        return say("cli.collector.never")
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _row(d: DeviceRecord) -> str:
    state = (say("cli.collector.device_approved", label=d.label or "") if d.approved
             else say("cli.collector.device_unknown"))
    gone = (say("cli.collector.device_missing", since=_when(d.missing_since))
            if d.missing_since else "")
    return say("cli.collector.device_row", mac=d.mac, ip=d.ip or "-",
               device_class=say(f"cli.collector.device_class.{d.device_class}"),
               vendor=d.vendor or "-", first=_when(d.first_seen),
               last=_when(d.last_seen), state=state) + gone


def _json(d: DeviceRecord) -> dict[str, object]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {"mac": d.mac, "ip": d.ip, "vendor": d.vendor, "class": d.device_class,
            "name": d.name, "first_seen": iso(d.first_seen), "last_seen": iso(d.last_seen),
            "missing_since": iso(d.missing_since), "approved": d.approved, "label": d.label,
            "approved_by": d.approved_by, "approved_at": iso(d.approved_at)}


def manage_devices(store: Store, args: argparse.Namespace, commune: str) -> int:
    now = datetime.now(UTC)
    cmd = args.device_command
    if cmd == "approve":
        mac = check_mac(args.mac)
        if not args.label.strip():
            raise ConfigError("device approve", "--label", expect("required"))
        store.approve_device(commune, mac, args.label.strip(), args.by, now)
        print(say("cli.collector.device_approved_now", mac=mac, commune=commune,
                  label=args.label.strip()))
        return 0
    if cmd == "forget":
        mac = check_mac(args.mac)
        if not store.forget_device(commune, mac, args.by, now):
            raise ConfigError("device forget", "--mac", expect("known_device"), mac)
        print(say("cli.collector.device_forgotten", mac=mac, commune=commune))
        return 0
    devices = store.list_devices(commune)
    if args.format == "json":
        print(json.dumps([_json(d) for d in devices], ensure_ascii=False, indent=2))
        return 0
    for d in devices:
        print(_row(d))
    if not devices:
        print(say("cli.collector.device_none", commune=commune))
    return 0
