"""SSH server: root login, password login on a reachable port, empty passwords, allow-list.

Every check judges sshd's effective settings (`sshd.effective_settings`: `sshd -T` on this
machine, the files of a fixture tree, or of this machine when its sshd was never started). No
SSH server is a skip; a server that cannot print its settings (a configuration it refuses) is
an error, with sshd's own words as the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import Check, register
from sentinelle.checks.ports.inventory import NETWORK, collect_inventory
from sentinelle.checks.ssh.sshd import CONFIG, SshdSettings, SshdUnavailable, effective_settings
from sentinelle.model import Finding, Status
from sentinelle.params import param

if TYPE_CHECKING:
    from sentinelle.host import Host

# Programs that may hold sshd's listening socket: sshd itself, or systemd (socket activation).
SSHD_PROGRAMS = frozenset({"sshd", "systemd"})
# Methods that let a password alone in (keyboard-interactive asks it through PAM).
PASSWORD_METHODS = ("password", "keyboard-interactive")
MAX_LISTED = 16


def _overrides(settings: SshdSettings, key: str) -> list[dict[str, str]]:
    return [{"criteria": o.criteria, "value": o.value, "file": o.file}
            for o in settings.conditional(key)][:MAX_LISTED]


class SshCheck(Check):
    """A check of sshd's effective settings: `judge` sees them, the rest is shared."""

    platforms = frozenset({"linux"})

    def run(self, host: Host) -> Iterable[Finding]:
        try:
            settings = effective_settings(host)
        except SshdUnavailable as exc:
            yield self.say(Status.ERROR, exc.case, {"reason": exc.reason},
                           {"reason": exc.reason, "command": f"sshd -T -f {CONFIG}"})
            return
        if settings is None:
            yield self.say(Status.SKIP, "no_sshd", {},
                           {"reason": f"no sshd program and no {CONFIG}"})
            return
        yield from self.judge(host, settings)

    def judge(self, host: Host, settings: SshdSettings) -> Iterator[Finding]:
        raise NotImplementedError

    @staticmethod
    def evidence(settings: SshdSettings, *keys: str) -> dict[str, Any]:
        refused = {"sshd_t_refused": settings.refused} if settings.refused else {}
        return {"source": settings.source, **refused,
                **{key: settings.all(key)[:MAX_LISTED] for key in keys}}


@register
class SshRootLogin(SshCheck):
    """root cannot log in over SSH with a password (sshd's effective PermitRootLogin)."""

    id = "ssh.root_login"

    @dataclass(frozen=True)
    class Params:
        allowed: tuple[str, ...] = param(doc="PermitRootLogin values (as sshd -T prints them) "
                                             "that pass")

    params: Params

    def judge(self, host: Host, settings: SshdSettings) -> Iterator[Finding]:
        value = settings.first("permitrootlogin")
        args = {"value": value}
        evidence = self.evidence(settings, "permitrootlogin") | {
            "file": settings.where("permitrootlogin"), "allowed": list(self.params.allowed)}
        loosened = [o for o in settings.conditional("permitrootlogin")
                    if o.value not in self.params.allowed]
        evidence["match_overrides"] = _overrides(settings, "permitrootlogin")
        if value not in self.params.allowed:
            yield self.say(Status.FAIL, "permitted", args, evidence)
        elif loosened:
            yield self.say(Status.FAIL, "permitted_match",
                           {"value": loosened[0].value, "criteria": loosened[0].criteria},
                           evidence)
        else:
            yield self.say(Status.PASS, "refused", args, evidence)


def password_methods(settings: SshdSettings) -> list[str]:
    """The ways a password alone lets somebody in, per sshd's settings ([] when none)."""
    offered = []
    if settings.first("passwordauthentication") == "yes":
        offered.append("password")
    # keyboard-interactive goes through PAM, which asks for the password (pam_unix).
    if (settings.first("kbdinteractiveauthentication") == "yes"
            and settings.first("usepam") == "yes"):
        offered.append("keyboard-interactive")
    required = settings.first("authenticationmethods")
    if required != "any":
        # AuthenticationMethods lists the chains that suffice: a password counts only in a
        # chain without a key (publickey,password asks for both).
        chains = [set(chain.split(",")) for chain in settings.all("authenticationmethods")]
        alone = {m.split(":", 1)[0] for chain in chains if "publickey" not in chain
                 for m in chain}
        offered = [m for m in offered if m in alone]
    return offered


@register
class SshPasswordLogin(SshCheck):
    """No password login on an SSH port reachable from the network (keys only, or loopback)."""

    id = "ssh.password_login"

    def judge(self, host: Host, settings: SshdSettings) -> Iterator[Finding]:
        methods = password_methods(settings)
        ports = sorted(settings.ports())
        evidence = self.evidence(settings, "passwordauthentication",
                                 "kbdinteractiveauthentication", "usepam",
                                 "authenticationmethods", "port", "listenaddress")
        evidence["password_methods"] = methods
        if not methods:
            yield self.say(Status.PASS, "keys_only", {}, evidence)
            return
        inventory = collect_inventory(host)
        if inventory is None:
            yield self.say(Status.SKIP, "no_sockets", {"methods": methods},
                           evidence | {"reason": "no /proc/net files"})
            return
        sshd_sockets = [
            s for s in inventory.sockets
            if s.protocol == "tcp" and s.port in ports
            and (not s.processes or SSHD_PROGRAMS & set(s.processes))
        ]
        reachable = [s.endpoint for s in sshd_sockets if s.scope == NETWORK]
        local = [s.endpoint for s in sshd_sockets if s.scope != NETWORK]
        evidence |= {"sockets_source": inventory.source, "reachable": reachable[:MAX_LISTED],
                     "loopback": local[:MAX_LISTED]}
        args: dict[str, Any] = {"methods": methods, "ports": [str(p) for p in ports]}
        if reachable:
            yield self.say(Status.FAIL, "reachable",
                           args | {"endpoints": reachable[:MAX_LISTED]}, evidence)
        elif local:
            yield self.say(Status.PASS, "loopback_only",
                           args | {"endpoints": local[:MAX_LISTED]}, evidence)
        else:
            yield self.say(Status.PASS, "not_listening", args, evidence)


@register
class SshEmptyPasswords(SshCheck):
    """sshd refuses accounts whose password is empty (PermitEmptyPasswords no)."""

    id = "ssh.empty_passwords"

    def judge(self, host: Host, settings: SshdSettings) -> Iterator[Finding]:
        value = settings.first("permitemptypasswords")
        args = {"value": value}
        evidence = self.evidence(settings, "permitemptypasswords") | {
            "file": settings.where("permitemptypasswords")}
        loosened = [o for o in settings.conditional("permitemptypasswords") if o.value != "no"]
        evidence["match_overrides"] = _overrides(settings, "permitemptypasswords")
        if value != "no":
            yield self.say(Status.FAIL, "accepted", args, evidence)
        elif loosened:
            yield self.say(Status.FAIL, "accepted_match",
                           {"value": loosened[0].value, "criteria": loosened[0].criteria},
                           evidence)
        else:
            yield self.say(Status.PASS, "refused", args, evidence)


@register
class SshAllowList(SshCheck):
    """sshd lets in only the users or groups it names (AllowUsers or AllowGroups)."""

    id = "ssh.allow_list"

    def judge(self, host: Host, settings: SshdSettings) -> Iterator[Finding]:
        users = settings.all("allowusers")
        groups = settings.all("allowgroups")
        evidence = self.evidence(settings, "allowusers", "allowgroups")
        args = {"users": users[:MAX_LISTED], "groups": groups[:MAX_LISTED]}
        if users and groups:
            yield self.say(Status.PASS, "users_and_groups", args, evidence)
        elif users:
            yield self.say(Status.PASS, "users", {"users": args["users"]}, evidence)
        elif groups:
            yield self.say(Status.PASS, "groups", {"groups": args["groups"]}, evidence)
        else:
            yield self.say(Status.FAIL, "everyone", {}, evidence)
