"""Antivirus, firewall and disk encryption as Windows reports them in effect.

- Defender: Get-MpComputerStatus (MSFT_MpComputerStatus), which exists on Windows Server too.
- Another antivirus: Security Center's AntiVirusProduct (root/SecurityCenter2), which exists
  only on client editions; on Server its absence is not a failure.
- Firewall: Get-NetFirewallProfile -PolicyStore ActiveStore, the profiles as they apply (local
  settings and Group Policy merged), not the Group Policy registry keys alone.
- BitLocker: Get-BitLockerVolume.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sentinelle.windows import psjson


@dataclass(frozen=True)
class DefenderStatus:
    """The fields of MSFT_MpComputerStatus the checks read."""

    service_enabled: bool | None
    antivirus_enabled: bool | None
    realtime: bool | None
    running_mode: str | None  # Normal, Passive Mode, EDR Block Mode, SxS Passive Mode
    signatures_updated: datetime | None
    signature_age_days: int | None
    signature_version: str | None

    @property
    def active(self) -> bool:
        return bool(self.service_enabled and self.antivirus_enabled
                    and (self.running_mode or "Normal") == "Normal")


def parse_defender(raw: str) -> DefenderStatus | None:
    """None when the cmdlet printed nothing (Defender removed from a Server)."""
    found = psjson.records(psjson.loads(raw))
    if not found:
        return None
    s = found[0]
    age = psjson.integer(s.get("AntivirusSignatureAge"))
    return DefenderStatus(
        service_enabled=psjson.boolean(s.get("AMServiceEnabled")),
        antivirus_enabled=psjson.boolean(s.get("AntivirusEnabled")),
        realtime=psjson.boolean(s.get("RealTimeProtectionEnabled")),
        running_mode=psjson.text(s.get("AMRunningMode")),
        signatures_updated=psjson.timestamp(s.get("AntivirusSignatureLastUpdated")),
        # 65535 (or 4294967295) is "never updated".
        signature_age_days=None if age is None or age >= 65535 else age,
        signature_version=psjson.text(s.get("AntivirusSignatureVersion")),
    )


@dataclass(frozen=True)
class AntivirusProduct:
    """A product registered in Security Center, decoded from its productState bit field."""

    name: str
    enabled: bool
    up_to_date: bool


def parse_security_center(raw: str) -> list[AntivirusProduct] | None:
    """The registered products, or None where Security Center does not exist (Server)."""
    data = psjson.loads(raw)
    if not isinstance(data, dict):
        raise psjson.PsJsonError("expected {Available, Products}")
    if not psjson.boolean(data.get("Available")):
        return None
    out = []
    for product in psjson.records(data.get("Products")):
        state = psjson.integer(product.get("productState")) or 0
        # productState: byte 2 is the scanner state (0x10 on, 0x00/0x01 off or snoozed),
        # byte 1 the signatures (0x00 up to date, 0x10 out of date). Documented by the
        # vendors who register there; Microsoft's WSC API (wscapi.h) gives the same states.
        out.append(AntivirusProduct(str(product.get("displayName") or ""),
                                    (state >> 12) & 0xF == 1, (state >> 4) & 0xF == 0))
    return out


# NetSecurity enumerations as ConvertTo-Json prints them.
GPO_BOOLEAN = {0: "False", 1: "True", 2: "NotConfigured"}
ACTION = {0: "NotConfigured", 2: "Allow", 4: "Block"}


@dataclass(frozen=True)
class FirewallProfile:
    """One profile (Domain, Private, Public) as it applies."""

    name: str
    enabled: bool
    inbound: str  # Block or Allow

    @property
    def blocks_inbound(self) -> bool:
        return self.enabled and self.inbound == "Block"


def parse_firewall(raw: str) -> list[FirewallProfile]:
    out = []
    for p in psjson.records(psjson.loads(raw)):
        enabled = psjson.enum(p.get("Enabled"), GPO_BOOLEAN)
        inbound = psjson.enum(p.get("DefaultInboundAction"), ACTION)
        # NotConfigured in the active store: no store sets it, Windows applies its defaults
        # (firewall on, inbound blocked; learn.microsoft.com, Set-NetFirewallProfile).
        out.append(FirewallProfile(
            name=str(p.get("Name") or "?"),
            enabled=enabled in ("True", "NotConfigured"),
            inbound="Block" if inbound in ("Block", "NotConfigured") else str(inbound),
        ))
    return out


# BitLocker module enumerations (learn.microsoft.com, BitLocker PowerShell module).
VOLUME_TYPE = {0: "OperatingSystem", 1: "Data"}
PROTECTION = {0: "Off", 1: "On", 2: "Unknown"}
VOLUME_STATUS = {0: "FullyDecrypted", 1: "FullyEncrypted", 2: "EncryptionInProgress",
                 3: "DecryptionInProgress", 4: "EncryptionPaused", 5: "DecryptionPaused"}


@dataclass(frozen=True)
class BitLockerVolume:
    mount_point: str
    system: bool
    protected: bool
    status: str
    percent: int


def parse_bitlocker(raw: str) -> list[BitLockerVolume]:
    out = []
    for v in psjson.records(psjson.loads(raw)):
        out.append(BitLockerVolume(
            mount_point=str(v.get("MountPoint") or "?"),
            system=psjson.enum(v.get("VolumeType"), VOLUME_TYPE) == "OperatingSystem",
            protected=psjson.enum(v.get("ProtectionStatus"), PROTECTION) == "On",
            status=psjson.enum(v.get("VolumeStatus"), VOLUME_STATUS) or "?",
            percent=int(float(v.get("EncryptionPercentage") or 0)),
        ))
    return out
