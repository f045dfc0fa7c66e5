"""Remote-control tools found on this machine, by package or by running program, that the
commune has not declared (its provider's tool, named in the check's `declared` parameter)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentinelle.checks.base import Check, register
from sentinelle.checks.services.catalog import all_packages, load_software
from sentinelle.checks.services.packages import (
    Packages,
    PackagesUnseen,
    installed_packages,
)
from sentinelle.facts import processes as running_processes
from sentinelle.model import Finding, Status
from sentinelle.params import param

if TYPE_CHECKING:
    from sentinelle.host import Host

CATALOG = "remote_tools"


@register
class RemoteControlTools(Check):
    """No remote-control software (AnyDesk, TeamViewer, RustDesk, VNC...) that the commune
    has not declared."""

    id = "remote_access.tools"
    platforms = frozenset({"linux"})

    @dataclass(frozen=True)
    class Params:
        declared: tuple[str, ...] = param(
            doc="tools the commune uses on purpose (names of rules/remote_tools.yaml)")

    params: Params

    def run(self, host: Host) -> Iterable[Finding]:
        tools = load_software(self.context.rules, CATALOG, "tools")
        known = {t.name for t in tools}
        unknown = [name for name in self.params.declared if name not in known]
        if unknown:
            raise ValueError(f"{self.id}: declared names no tool of {CATALOG}.yaml: "
                             f"{', '.join(unknown)}")
        packages: Packages | None = None
        reasons = []
        try:
            packages = installed_packages(host, all_packages(tools))
        except PackagesUnseen as exc:
            reasons.append(str(exc))
        programs = running_processes(host)
        if programs is None:
            reasons.append("no /proc processes in the tree")
        running = {name.lower() for name in programs.names} if programs else set()
        found = 0
        for tool in tools:
            installed = sorted(p for p in tool.packages if packages and p in packages.installed)
            processes = sorted(p for p in tool.processes if p.lower() in running)
            if not installed and not processes:
                continue
            found += 1
            args = {"tool": tool.name, "packages": installed, "processes": processes}
            evidence: dict[str, Any] = {**args, "declared": list(self.params.declared),
                                        "manager": packages.manager if packages else ""}
            declared = tool.name in self.params.declared
            case = "declared" if declared else "undeclared" + (
                "" if installed and processes else "_installed" if installed else "_running")
            status = Status.PASS if declared else Status.FAIL
            yield self.say(status, case, args, evidence, key=tool.name)
        if found:
            return
        if reasons:
            yield self.say(Status.SKIP, "unseen", {}, {"reason": "; ".join(reasons)})
            return
        assert packages is not None and programs is not None
        yield self.say(Status.PASS, "none", {"manager": packages.manager}, {
            "manager": packages.manager, "processes_read": programs.count,
            "looked_for": sorted(known)})
