"""The password rules PAM applies: pam_pwquality (or pam_cracklib) and its minimum length,
pam_faillock (or pam_tally2) and its lockout threshold.

Every file of /etc/pam.d is read (Debian puts them in common-password and common-auth, RHEL in
system-auth and password-auth): a module counts when a non-comment line of the right type
(`password` for the quality module, `auth` for the lockout) loads it. A module argument wins over
its configuration file (`minlen=14` on the line over pwquality.conf), as the modules read them:
pwquality.conf first, then pwquality.conf.d/*.conf in order, the last value winning; faillock.conf.
Defaults are the modules' own (pwquality: minlen 8; cracklib: 9; faillock and tally2: no default
lockout for tally2, deny 3 for faillock).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentinelle.host import Host

PAM_DIR = "/etc/pam.d"
PWQUALITY = "/etc/security/pwquality.conf"
PWQUALITY_D = "/etc/security/pwquality.conf.d"
FAILLOCK = "/etc/security/faillock.conf"
QUALITY_MODULES = {"pam_pwquality.so": 8, "pam_cracklib.so": 9}
LOCKOUT_MODULES = {"pam_faillock.so": 3, "pam_tally2.so": 0}
MAX_FILES = 256
MAX_LINES = 5000


@dataclass(frozen=True)
class PamPolicy:
    """What the PAM stacks enforce, and where each value comes from."""

    quality_module: str | None
    quality_file: str | None
    minlen: int
    minlen_from: str
    lockout_module: str | None
    lockout_file: str | None
    deny: int
    deny_from: str


def _module_args(line: str) -> tuple[str, str, list[str]] | None:
    """(type, module, args) of a PAM line, without its leading `-` (load if present)."""
    words = line.split("#", 1)[0].split()
    if len(words) < 3:
        return None
    kind = words[0].lstrip("-").lower()
    control = words[1]
    rest = words[2:]
    if control.startswith("["):  # [success=1 default=ignore]: the bracket runs to "]"
        while rest and not control.endswith("]"):
            control += " " + rest.pop(0)
    if not rest:
        return None
    return kind, rest[0].rsplit("/", 1)[-1], rest[1:]


def _setting(text: str, key: str) -> str | None:
    """The last `key = value` of a module's configuration file."""
    value = None
    for line in text.splitlines()[:MAX_LINES]:
        name, sep, rest = line.split("#", 1)[0].partition("=")
        if sep and name.strip() == key:
            value = rest.strip()
    return value


def _int_arg(args: list[str], key: str) -> int | None:
    for arg in args:
        name, sep, value = arg.partition("=")
        if sep and name == key:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def read_pam_policy(host: Host) -> PamPolicy | None:
    """The policy of this host's PAM stacks; None when it has no /etc/pam.d."""
    if not host.path(PAM_DIR).is_dir():
        return None
    quality: tuple[str, str, list[str]] | None = None
    lockout: tuple[str, str, list[str]] | None = None
    files = sorted(p for p in host.glob(PAM_DIR, "*") if p.is_file())[:MAX_FILES]
    for real in files:
        path = f"{PAM_DIR}/{real.name}"
        for line in host.read_text(path, default="").splitlines()[:MAX_LINES]:
            parsed = _module_args(line)
            if parsed is None:
                continue
            kind, module, args = parsed
            if kind == "password" and module in QUALITY_MODULES and quality is None:
                quality = (module, path, args)
            if kind == "auth" and module in LOCKOUT_MODULES and lockout is None:
                lockout = (module, path, args)

    minlen, minlen_from = 0, ""
    if quality is not None:
        module, path, args = quality
        minlen, minlen_from = QUALITY_MODULES[module], "default"
        if module == "pam_pwquality.so":
            for conf in [PWQUALITY, *(f"{PWQUALITY_D}/{p.name}" for p in
                                      sorted(host.glob(PWQUALITY_D, "*.conf")))]:
                value = _setting(host.read_text(conf, default=""), "minlen")
                if value is not None and value.isdigit():
                    minlen, minlen_from = int(value), conf
        from_args = _int_arg(args, "minlen")
        if from_args is not None:
            minlen, minlen_from = from_args, path

    deny, deny_from = 0, ""
    if lockout is not None:
        module, path, args = lockout
        deny, deny_from = LOCKOUT_MODULES[module], "default"
        if module == "pam_faillock.so":
            value = _setting(host.read_text(FAILLOCK, default=""), "deny")
            if value is not None and value.isdigit():
                deny, deny_from = int(value), FAILLOCK
        from_args = _int_arg(args, "deny")
        if from_args is not None:
            deny, deny_from = from_args, path

    return PamPolicy(
        quality_module=quality[0] if quality else None,
        quality_file=quality[1] if quality else None,
        minlen=minlen, minlen_from=minlen_from,
        lockout_module=lockout[0] if lockout else None,
        lockout_file=lockout[1] if lockout else None,
        deny=deny, deny_from=deny_from,
    )
