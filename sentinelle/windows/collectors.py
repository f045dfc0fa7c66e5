"""The Windows collectors: each returns one raw output (ConvertTo-Json text, a command's text,
or the registry values read through winreg as JSON), and nothing else.

Every PowerShell collector runs `powershell.exe -NoProfile -NonInteractive -ExecutionPolicy
Bypass -Command <script>` through `Host.run` with its own timeout, so a recorded capture replays
it command by command (sentinelle.windows.capture). Registry collectors read with winreg on a live
Windows machine and, anywhere else, ask the host's runner for the pseudo-command
`winreg <name>`: only a capture's replay answers it. Nothing here changes the system (the
security-policy export writes one temporary file and removes it).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentinelle.errors import CommandError, CommandNotFound

if TYPE_CHECKING:
    from sentinelle.host import Host

POWERSHELL = "powershell.exe"
REGISTRY_PROGRAM = "winreg"
# Stop at the first error, no progress bars, UTF-8 out (the runner decodes UTF-8 on Windows).
_UTF8 = "[Console]::OutputEncoding = [System.Text.Encoding]::UTF8; "
_PRELUDE = "$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'; " + _UTF8


def _native(program: str, *args: str, status: bool = True) -> str:
    """A native program run from PowerShell: its output is read in the console's code page
    (OEM, 850 on a French Windows) before the output turns to UTF-8, and its exit status is
    kept (`status`) or left to the parser (wbadmin's answer "no backup" is not a failure).
    Quoted with single quotes only: no double quote survives Windows' command line."""
    end = "; exit $code" if status else ""
    return (f"$lines = & {program} {' '.join(args)}; $code = $LASTEXITCODE; " + _UTF8
            + "$lines -join [Environment]::NewLine" + end)


class CollectorFailed(CommandError):
    """A collector ran and failed (a non-zero exit, an error PowerShell printed)."""


@dataclass(frozen=True)
class RegistryKey:
    """A key of HKEY_LOCAL_MACHINE and the values to read under it (all if empty)."""

    path: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Collector:
    """One raw output: a PowerShell script, or registry keys."""

    name: str
    timeout: float = 60.0
    script: str | None = None  # PowerShell
    registry: tuple[RegistryKey, ...] = ()
    # What the file of a capture holds: json (ConvertTo-Json or registry values) or text;
    # native: a program's text, read in the console's code page (see _native).
    kind: str = "json"

    def argv(self) -> tuple[str, ...]:
        if self.script is not None:
            prelude = _PRELUDE.replace(_UTF8, "") if self.kind == "native" else _PRELUDE
            return (POWERSHELL, "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
                    "-Command", prelude + self.script)
        return (REGISTRY_PROGRAM, self.name)

    @property
    def filename(self) -> str:
        return f"{self.name}.{'json' if self.kind == 'json' else 'txt'}"


def _json(expression: str, depth: int = 4) -> str:
    """A script printing `expression` as JSON; -InputObject keeps an array of one an array
    in 7, and psjson.records reads 5.1's single object too."""
    return f"ConvertTo-Json -Depth {depth} -InputObject @({expression})"


_CURRENT_VERSION = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
_TS = r"SYSTEM\CurrentControlSet\Control\Terminal Server"
_TS_POLICY = r"SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services"

COLLECTORS: dict[str, Collector] = {c.name: c for c in (
    Collector("os", registry=(RegistryKey(_CURRENT_VERSION, (
        "ProductName", "EditionID", "InstallationType", "CurrentBuildNumber", "UBR",
        "DisplayVersion", "ReleaseId")),)),
    Collector("environment", timeout=30, script=(
        "[ordered]@{ PSVersion = $PSVersionTable.PSVersion.ToString(); "
        "PSEdition = [string]$PSVersionTable.PSEdition; Culture = (Get-Culture).Name; "
        "UICulture = (Get-UICulture).Name; ComputerName = $env:COMPUTERNAME; "
        "Domain = $env:USERDOMAIN; PartOfDomain = (Get-CimInstance Win32_ComputerSystem)"
        ".PartOfDomain } | ConvertTo-Json")),
    Collector("update_history", timeout=120, script=(
        "$searcher = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher(); "
        "$count = $searcher.GetTotalHistoryCount(); "
        "$entries = if ($count -gt 0) { $searcher.QueryHistory(0, [Math]::Min($count, 100)) } "
        "else { @() }; "
        + _json("$entries | Where-Object { $_.Operation -eq 1 } | ForEach-Object { [ordered]@{ "
                "Date = $_.Date; Title = $_.Title; ResultCode = $_.ResultCode; "
                "HResult = $_.HResult } }"))),
    Collector("update_search", timeout=600, script=(
        "$searcher = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher(); "
        "$found = $searcher.Search('IsInstalled=0 and IsHidden=0 and Type=''Software'''); "
        + _json("$found.Updates | ForEach-Object { [ordered]@{ Title = $_.Title; "
                "KB = @($_.KBArticleIDs); MsrcSeverity = $_.MsrcSeverity; "
                "Categories = @($_.Categories | ForEach-Object { $_.CategoryID }); "
                "Released = $_.LastDeploymentChangeTime } }"))),
    Collector("reboot", registry=(
        RegistryKey(r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing"
                    r"\RebootPending"),
        RegistryKey(r"SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update"
                    r"\RebootRequired"),
    )),
    Collector("defender", script=_json(
        "Get-MpComputerStatus | Select-Object 'AMServiceEnabled', 'AntivirusEnabled', "
        "'RealTimeProtectionEnabled', 'AMRunningMode', 'AntivirusSignatureLastUpdated', "
        "'AntivirusSignatureAge', 'AntivirusSignatureVersion', 'IsTamperProtected'")),
    Collector("security_center", script=(
        "if (Get-CimClass -Namespace root/SecurityCenter2 -ClassName AntiVirusProduct "
        "-ErrorAction SilentlyContinue) { $products = @(Get-CimInstance -Namespace "
        "root/SecurityCenter2 -ClassName AntiVirusProduct | Select-Object 'displayName', "
        "'productState', 'timestamp'); $available = $true } else { $products = @(); "
        "$available = $false }; "
        "ConvertTo-Json -Depth 4 -InputObject ([ordered]@{ Available = $available; "
        "Products = $products })")),
    Collector("firewall", script=_json(
        "Get-NetFirewallProfile -PolicyStore ActiveStore | Select-Object 'Name', 'Enabled', "
        "'DefaultInboundAction', 'DefaultOutboundAction'")),
    Collector("rdp", registry=(
        RegistryKey(_TS, ("fDenyTSConnections",)),
        RegistryKey(_TS + r"\WinStations\RDP-Tcp", ("UserAuthentication", "PortNumber",
                                                     "SecurityLayer")),
        RegistryKey(_TS_POLICY, ("fDenyTSConnections", "UserAuthentication")),
    )),
    Collector("rdp_network", script=(
        "$listen = @(Get-NetTCPConnection -State Listen -ErrorAction SilentlyContinue | "
        "Select-Object 'LocalAddress', 'LocalPort', 'OwningProcess'); "
        # The "Remote Desktop" rule group by its resource id: the same on every language.
        "$rules = @(Get-NetFirewallRule -Group '@FirewallAPI.dll,-28752' "
        "-ErrorAction SilentlyContinue | Select-Object 'Name', 'Enabled', 'Direction', 'Action', "
        "'Profile'); "
        "ConvertTo-Json -Depth 4 -InputObject ([ordered]@{ Listeners = $listen; "
        "Rules = $rules })")),
    Collector("installed_programs", script=_json(
        "Get-ItemProperty -Path 'HKLM:\\Software\\Microsoft\\Windows\\CurrentVersion\\"
        "Uninstall\\*', 'HKLM:\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\"
        "Uninstall\\*' -ErrorAction SilentlyContinue | Where-Object { $_.DisplayName } | "
        "Select-Object 'DisplayName', 'DisplayVersion', 'Publisher'")),
    Collector("services", script=_json(
        "Get-Service | Select-Object 'Name', 'DisplayName', 'Status', 'StartType'")),
    Collector("smb_server", script=_json(
        "Get-SmbServerConfiguration | Select-Object 'EnableSMB1Protocol', "
        "'EnableSMB2Protocol', 'RequireSecuritySignature', 'EncryptData'")),
    Collector("smb1_feature", timeout=120, script=_json(
        "Get-WindowsOptionalFeature -Online -FeatureName SMB1Protocol | "
        # FeatureState by name: Enabled, Disabled, DisabledWithPayloadRemoved, *Pending.
        "Select-Object 'FeatureName', @{ Name = 'State'; Expression = { [string]$_.State } }")),
    Collector("smb_shares", script=_json(
        "Get-SmbShare -Special $false | ForEach-Object { $share = $_; [ordered]@{ "
        "Name = $share.Name; Path = $share.Path; Access = @(Get-SmbShareAccess -Name "
        "$share.Name | ForEach-Object { $sid = try { (New-Object "
        "System.Security.Principal.NTAccount($_.AccountName)).Translate("
        "[System.Security.Principal.SecurityIdentifier]).Value } catch { $null }; "
        "[ordered]@{ Account = $_.AccountName; Sid = $sid; Control = $_.AccessControlType; "
        "Right = $_.AccessRight } }) } }", depth=5)),
    Collector("local_users", script=_json(
        "Get-LocalUser | Select-Object 'Name', 'Enabled', @{ Name = 'SID'; Expression = "
        "{ $_.SID.Value } }, 'LastLogon', 'PasswordLastSet', 'PasswordRequired'")),
    Collector("local_admins", script=_json(
        # The Administrators group by its well-known SID: its name is translated.
        "Get-LocalGroupMember -SID 'S-1-5-32-544' | Select-Object 'Name', @{ Name = 'SID'; "
        "Expression = { $_.SID.Value } }, 'PrincipalSource', 'ObjectClass'")),
    Collector("security_policy", kind="text", script=(
        # secedit writes the policy into a file (UTF-16); the keys are the same in every
        # language, unlike `net accounts`.
        "$file = Join-Path $env:TEMP ('sentinelle-' + [guid]::NewGuid().ToString() + '.inf'); "
        "try { $null = secedit.exe /export /cfg $file /areas SECURITYPOLICY /quiet; "
        "Get-Content -LiteralPath $file -Raw } "
        "finally { Remove-Item -LiteralPath $file -Force -ErrorAction SilentlyContinue }")),
    Collector("bitlocker", script=_json(
        "Get-BitLockerVolume | Select-Object 'MountPoint', "
        "@{ Name = 'VolumeType'; Expression = { [string]$_.VolumeType } }, "
        "@{ Name = 'ProtectionStatus'; Expression = { [string]$_.ProtectionStatus } }, "
        "@{ Name = 'VolumeStatus'; Expression = { [string]$_.VolumeStatus } }, "
        "'EncryptionPercentage'")),
    Collector("security_log", script=(
        "$log = Get-WinEvent -ListLog Security; "
        "$oldest = Get-WinEvent -LogName Security -MaxEvents 1 -Oldest "
        "-ErrorAction SilentlyContinue; "
        "ConvertTo-Json -InputObject ([ordered]@{ LogName = $log.LogName; "
        "IsEnabled = $log.IsEnabled; MaximumSizeInBytes = $log.MaximumSizeInBytes; "
        "LogMode = $log.LogMode; FileSize = $log.FileSize; RecordCount = $log.RecordCount; "
        "OldestEvent = $(if ($oldest) { $oldest.TimeCreated.ToUniversalTime() } "
        "else { $null }) })")),
    Collector("time_status", kind="native", timeout=30,
              script=_native("w32tm.exe", "/query", "/status")),
    Collector("server_backup", kind="native", timeout=120,
              script=_native("wbadmin.exe", "get", "versions", status=False)),
)}


def script_of(name: str) -> str | None:
    """A PowerShell collector's script, as it runs (for the tests that parse it)."""
    collector = COLLECTORS[name]
    return None if collector.script is None else collector.argv()[-1]


def collect(host: Host, name: str) -> str:
    """The raw output of one collector on this host (live, or a replayed capture).

    Raises CommandNotFound when it cannot run here (not Windows, not recorded, a module
    missing) and CollectorFailed when it ran and failed."""
    collector = COLLECTORS[name]
    if collector.registry and _live_windows(host):
        return json.dumps(read_registry(collector.registry), ensure_ascii=False)
    result = host.run(collector.argv(), timeout=collector.timeout)
    if not result.ok:
        if "CommandNotFoundException" in result.stderr:  # a module this edition lacks
            raise CommandNotFound(f"{name}: a cmdlet is missing on this system")
        message = (result.stderr or result.stdout).strip().splitlines()
        raise CollectorFailed(f"{name}: exit {result.returncode}: "
                              f"{message[-1] if message else 'no output'}")
    return result.stdout


def _live_windows(host: Host) -> bool:
    return host.is_live and host.is_windows and sys.platform == "win32"


def read_registry(keys: Sequence[RegistryKey]) -> dict[str, Any]:
    """The values under each key of HKEY_LOCAL_MACHINE: `{path: {"exists": bool, "values":
    {name: value}}}` (a value that is not set is left out)."""
    if sys.platform != "win32":
        raise CommandNotFound("winreg: not a Windows machine")
    import winreg

    out: dict[str, Any] = {}
    for key in keys:
        entry: dict[str, Any] = {"exists": False, "values": {}}
        try:
            handle = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key.path, 0,
                                    winreg.KEY_READ | winreg.KEY_WOW64_64KEY)
        except FileNotFoundError:
            out[key.path] = entry
            continue
        with handle:
            entry["exists"] = True
            names = list(key.values)
            if not names:
                count = winreg.QueryInfoKey(handle)[1]
                names = [winreg.EnumValue(handle, i)[0] for i in range(min(count, 256))]
            for value_name in names:
                try:
                    value, _kind = winreg.QueryValueEx(handle, value_name)
                except FileNotFoundError:
                    continue
                entry["values"][value_name] = value if isinstance(value, int | str) else (
                    list(value) if isinstance(value, list) else repr(value))
        out[key.path] = entry
    return out


def registry_value(data: Any, path: str, value: str) -> Any:
    """One value of a registry collector's output, or None when not set."""
    if not isinstance(data, dict):
        return None
    entry = data.get(path)
    if not isinstance(entry, dict):
        return None
    values = entry.get("values")
    return values.get(value) if isinstance(values, dict) else None


def registry_key_exists(data: Any, path: str) -> bool:
    entry = data.get(path) if isinstance(data, dict) else None
    return bool(isinstance(entry, dict) and entry.get("exists"))
