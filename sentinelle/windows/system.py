"""Which Windows this is: the registry's CurrentVersion key (winreg), as os-release-like facts
for the Report header and for patching.os_support's table (rules/os_support.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sentinelle.windows import psjson
from sentinelle.windows.collectors import registry_value

CURRENT_VERSION = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
# EditionID values (the registry's, not translated) by the lifecycle they follow
# (learn.microsoft.com/lifecycle: Home and Pro; Enterprise and Education; LTSC).
_LTSC = {"enterprises", "enterprisesn"}
_IOT_LTSC = {"iotenterprises", "iotenterprisesk"}
_ENTERPRISE = {"enterprise", "enterprisen", "education", "educationn", "iotenterprise",
               "enterpriseg", "enterprisegn"}


@dataclass(frozen=True)
class WindowsRelease:
    """The installed Windows as the registry names it."""

    product_name: str
    edition: str
    installation_type: str
    build: int
    ubr: int | None
    display_version: str

    @property
    def is_server(self) -> bool:
        return self.installation_type.lower().startswith("server")

    @property
    def os_id(self) -> str:
        """The key of rules/os_support.yaml's `systems` whose dates apply to this edition."""
        edition = self.edition.lower()
        if self.is_server:
            return "windows-server"
        if edition in _IOT_LTSC:
            return "windows-iot-ltsc"
        if edition in _LTSC:
            return "windows-ltsc"
        if edition in _ENTERPRISE:
            return "windows-enterprise"
        return "windows"

    @property
    def version(self) -> str:
        """`10.0.<build>`, the form os_support.yaml's aliases use."""
        return f"10.0.{self.build}"

    @property
    def name(self) -> str:
        """A readable name: the registry still says "Windows 10" on Windows 11 (from build
        22000 on), so the build decides."""
        product = self.product_name
        if not self.is_server and self.build >= 22000 and product.startswith("Windows 10"):
            product = "Windows 11" + product[len("Windows 10"):]
        return f"{product} {self.display_version}".strip()


def parse_release(raw: str) -> WindowsRelease:
    data = psjson.loads(raw)

    def value(name: str) -> Any:
        return registry_value(data, CURRENT_VERSION, name)

    build = psjson.integer(value("CurrentBuildNumber"))
    if build is None:
        raise psjson.PsJsonError("no CurrentBuildNumber under " + CURRENT_VERSION)
    return WindowsRelease(
        product_name=str(value("ProductName") or "Windows"),
        edition=str(value("EditionID") or ""),
        installation_type=str(value("InstallationType") or "Client"),
        build=build,
        ubr=psjson.integer(value("UBR")),
        display_version=str(value("DisplayVersion") or value("ReleaseId") or ""),
    )
