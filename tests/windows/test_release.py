"""Which Windows the registry says this is, and which lifecycle row of rules/os_support.yaml
applies to it."""

from __future__ import annotations

import json

import pytest

from sentinelle.checks.patching.checks import load_os_support
from sentinelle.rules import load_rules
from sentinelle.windows.system import CURRENT_VERSION, parse_release

RULES = load_rules()
WINDOWS = ("windows", "windows-enterprise", "windows-ltsc", "windows-iot-ltsc", "windows-server")


def registry(edition: str, build: int, kind: str = "Client",
             product: str = "Windows 10 Pro", display: str = "24H2") -> str:
    return json.dumps({CURRENT_VERSION: {"exists": True, "values": {
        "ProductName": product, "EditionID": edition, "InstallationType": kind,
        "CurrentBuildNumber": str(build), "UBR": 1, "DisplayVersion": display}}})


@pytest.mark.parametrize(("edition", "build", "kind", "os_id", "name", "end"), [
    ("Professional", 26100, "Client", "windows", "Windows 11 24H2", "2026-10-13"),
    ("Core", 19045, "Client", "windows", "Windows 10 22H2", "2025-10-14"),
    ("Enterprise", 26100, "Client", "windows-enterprise", "Windows 11 Entreprise 24H2",
     "2027-10-12"),
    ("Education", 22631, "Client", "windows-enterprise", "Windows 11 Entreprise 23H2",
     "2026-11-10"),
    ("EnterpriseS", 19044, "Client", "windows-ltsc", "Windows 10 Entreprise LTSC 2021",
     "2027-01-12"),
    ("IoTEnterpriseS", 26100, "Client", "windows-iot-ltsc",
     "Windows 11 IoT Entreprise LTSC 2024", "2034-10-10"),
    ("ServerStandard", 26100, "Server", "windows-server", "Windows Server 2025", "2034-11-14"),
    ("ServerDatacenter", 14393, "Server Core", "windows-server", "Windows Server 2016",
     "2027-01-12"),
])
def test_edition_and_build_find_their_end_of_support(edition: str, build: int, kind: str,
                                                      os_id: str, name: str, end: str) -> None:
    release = parse_release(registry(edition, build, kind))
    assert release.os_id == os_id
    window = load_os_support(RULES).lookup(release.os_id, release.version)
    assert window is not None and (window.name, window.end.isoformat()) == (name, end)


def test_windows_11_is_named_so_though_the_registry_says_10() -> None:
    assert parse_release(registry("Professional", 26100)).name == "Windows 11 Pro 24H2"
    assert parse_release(registry("Professional", 19045, display="22H2")).name == (
        "Windows 10 Pro 22H2")


def test_every_windows_end_of_support_is_a_patch_tuesday() -> None:
    """Microsoft ends servicing on the second Tuesday of a month: a date typed one day off
    (a UTC conversion of Microsoft's Pacific-time dates) is caught here."""
    systems = RULES.data("os_support")["systems"]
    for system in WINDOWS:
        for version, entry in systems[system]["versions"].items():
            end = entry["end"]
            assert end.weekday() == 1 and 8 <= end.day <= 14, (system, version, end)
