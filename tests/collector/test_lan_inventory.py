"""The commune's LAN inventory at the collector: the store's contract on both backends
(SQLite and PostgreSQL, the `store` fixture), what is read from a Report, and how approvals
reach one commune's agents and no other's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from sentinelle.collector.devices import check_mac, seen_devices
from sentinelle.collector.policy import approved_by_commune, effective_policy
from sentinelle.collector.records import AgentRecord, Commune, PolicyRecord, SeenDevice
from sentinelle.collector.store import Store
from sentinelle.errors import ConfigError

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
CAM = SeenDevice("44:19:b6:00:00:01", "192.168.1.20", "Hikvision", "camera")
NAS = SeenDevice("00:11:32:00:00:02", "192.168.1.30", "Synology Incorporated", "nas")


def test_devices_are_seen_approved_missed_and_forgotten_per_commune(store: Store) -> None:
    store.observe_devices("01001", "agt_a", [CAM, NAS], T0)
    store.observe_devices("01002", "agt_b", [CAM], T0)  # the same MAC in another commune
    later = T0 + timedelta(hours=4)
    moved = SeenDevice(CAM.mac, "192.168.1.21", CAM.vendor, CAM.device_class)
    store.observe_devices("01001", "agt_a", [moved], later)  # the NAS is gone
    a = {d.mac: d for d in store.list_devices("01001")}
    assert [d.mac for d in store.list_devices("01001")] == sorted(a)
    assert a[CAM.mac].first_seen == T0 and a[CAM.mac].last_seen == later
    assert a[CAM.mac].ip == "192.168.1.21" and a[CAM.mac].missing_since is None
    assert a[NAS.mac].missing_since == later and a[NAS.mac].last_seen == T0
    store.approve_device("01001", CAM.mac, "Caméra de l'accueil", "soc", later)
    # Approved before it is ever seen: kept, with no times yet.
    store.approve_device("01001", "00:80:77:00:00:03", "Imprimante", "soc", later)
    a = {d.mac: d for d in store.list_devices("01001")}
    assert a[CAM.mac].approved and a[CAM.mac].label == "Caméra de l'accueil"
    assert a["00:80:77:00:00:03"].first_seen is None and a["00:80:77:00:00:03"].approved
    (b,) = store.list_devices("01002")
    assert not b.approved and b.missing_since is None  # another commune's row is untouched
    # Seen again: no longer missing, first seen unchanged.
    store.observe_devices("01001", "agt_a", [moved, NAS], later + timedelta(hours=4))
    a = {d.mac: d for d in store.list_devices("01001")}
    assert a[NAS.mac].missing_since is None and a[NAS.mac].first_seen == T0
    assert a[CAM.mac].approved  # a Report never clears an approval
    assert store.forget_device("01001", NAS.mac, "soc", later) is True
    assert store.forget_device("01001", NAS.mac, "soc", later) is False
    assert NAS.mac not in {d.mac for d in store.list_devices("01001")}
    actions = [c.action for c in store.policy_changes()]
    assert actions[:3] == ["device_forgotten", "device_approved", "device_approved"]
    assert approved_by_commune(store.list_devices()) == {
        "01001": ["00:80:77:00:00:03", CAM.mac]}


def finding(check: str, message: str, evidence: object) -> SimpleNamespace:
    return SimpleNamespace(check=check, message=message, evidence=evidence)


def test_the_inventory_is_read_from_the_lan_devices_finding_only() -> None:
    devices = [{"mac": "44:19:B6:00:00:01", "ip": "192.168.1.20", "vendor": "Hikvision",
                "class": "camera"},
               {"mac": "not a mac", "ip": "x"},
               {"mac": "00:11:32:00:00:02", "ip": "192.168.1.30", "class": "toaster"}]
    results = [finding("ports.listening", "ports.listening.inventory", {"devices": devices}),
               finding("lan.devices", "lan.devices.inventory", {"devices": devices})]
    seen = seen_devices(results)
    assert seen == [SeenDevice("44:19:b6:00:00:01", "192.168.1.20", "Hikvision", "camera"),
                    SeenDevice("00:11:32:00:00:02", "192.168.1.30", "", "unknown")]
    assert seen_devices(results[:1]) is None  # no lan inventory: nothing to record or miss
    skipped = [finding("lan.devices", "lan.devices.no_subnet", {})]
    assert seen_devices(skipped) is None
    assert check_mac("44-19-B6-00-00-01") == "44:19:b6:00:00:01"
    with pytest.raises(ConfigError):
        check_mac("44:19:b6")


def agent(commune: str) -> AgentRecord:
    return AgentRecord(f"agt_{commune}", commune, f"srv-{commune}", "hash", T0)


def test_approvals_are_served_to_the_communes_agents_only() -> None:
    commune = Commune("01001", "Saint-Exemple", "01", 800, ())
    served = effective_policy(agent("01001"), commune, {}, [], [CAM.mac])
    assert served.checks == {"lan.unknown_devices": {"approved": [CAM.mac]}}
    # A scope's own list and the inventory's approvals add up.
    scoped = {"commune:01001": PolicyRecord(
        "commune:01001", json.dumps({"checks": {"lan.unknown_devices": {
            "approved": [NAS.mac]}}}), T0, "soc")}
    both = effective_policy(agent("01001"), commune, scoped, [], [CAM.mac])
    assert both.checks["lan.unknown_devices"]["approved"] == sorted([CAM.mac, NAS.mac])
    other = effective_policy(agent("01002"), commune, {}, [], [])
    assert other.checks == {} and other.version != served.version
