"""The commune's LAN inventory at the collector: the devices a Report's lan.devices finding
lists, recorded per commune (the store's lan_devices), approved or forgotten by the SOC."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sentinelle.checks.lan.classes import CLASSES, UNKNOWN
from sentinelle.checks.lan.neighbours import normal_mac
from sentinelle.collector.records import SeenDevice
from sentinelle.errors import ConfigError, expect

INVENTORY_MESSAGES = ("lan.devices.inventory", "lan.devices.inventory_passive")
MAX_DEVICES_PER_REPORT = 4096
MAX_TEXT = 200


def _text(value: Any) -> str:
    return value[:MAX_TEXT] if isinstance(value, str) else ""


def seen_devices(results: Iterable[Any]) -> list[SeenDevice] | None:
    """The devices listed by a Report's lan.devices inventory; None when it has none (the lan
    checks did not run: the inventory is left as it is, nothing is noted missing)."""
    for f in results:
        if getattr(f, "check", None) != "lan.devices":
            continue
        if getattr(f, "message", None) not in INVENTORY_MESSAGES:
            continue
        evidence = getattr(f, "evidence", None) or {}
        listed = evidence.get("devices") if isinstance(evidence, dict) else None
        if not isinstance(listed, list):
            return None
        found: dict[str, SeenDevice] = {}
        for item in listed[:MAX_DEVICES_PER_REPORT]:
            if not isinstance(item, dict):
                continue
            mac = normal_mac(_text(item.get("mac")))
            if mac is None:
                continue
            device_class = _text(item.get("class"))
            if device_class not in CLASSES:
                device_class = UNKNOWN
            found.setdefault(mac, SeenDevice(mac, _text(item.get("ip")), _text(item.get("vendor")),
                                             device_class, _text(item.get("name"))))
        return list(found.values())
    return None


def check_mac(text: str) -> str:
    """A MAC address as the CLI takes it (any case, ':' or '-'); ConfigError otherwise."""
    mac = normal_mac(text)
    if mac is None:
        raise ConfigError("device", "--mac", expect("mac_address"), text)
    return mac
