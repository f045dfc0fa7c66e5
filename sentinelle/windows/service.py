"""The agent as a Windows service ("SentinelleAgent"), with pywin32 (an optional dependency on
Windows only: `pip install sentinelle` installs it there). Windows' service manager starts
pywin32's host (pythonservice.exe), which runs `SentinelleService.SvcDoRun`: the same daemon as
`sentinelle agent run --config <config>`, stopped by the service manager's stop request.

Nothing here was run on a real Windows machine (docs/windows.md).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

SERVICE_NAME = "SentinelleAgent"
DISPLAY_NAME = "Sentinelle agent"
DESCRIPTION = "Sentinelle: read-only security posture checks, pushed to the syndicate's collector."
# Where the service finds its configuration (written by `agent service install`).
CONFIG_OPTION = "config"


def available() -> bool:
    """pywin32 is installed (its modules exist only on Windows)."""
    return importlib.util.find_spec("win32serviceutil") is not None


def default_config() -> str:
    """%ProgramData%\\Sentinelle\\agent.yaml, beside the state directory."""
    base = os.environ.get("PROGRAMDATA") or r"C:\ProgramData"
    return str(Path(base) / "Sentinelle" / "agent.yaml")


def _class_string() -> str:
    return f"{__name__}.SentinelleService"


def install(config: str) -> None:
    """Register the service, started automatically at boot, with its configuration file."""
    import win32service
    import win32serviceutil

    win32serviceutil.InstallService(
        _class_string(), SERVICE_NAME, DISPLAY_NAME,
        startType=win32service.SERVICE_AUTO_START, description=DESCRIPTION,
    )
    win32serviceutil.SetServiceCustomOption(SERVICE_NAME, CONFIG_OPTION, config)


def start() -> None:
    import win32serviceutil

    win32serviceutil.StartService(SERVICE_NAME)


def stop() -> None:
    import win32serviceutil

    win32serviceutil.StopService(SERVICE_NAME)


def remove() -> None:
    import win32serviceutil

    win32serviceutil.RemoveService(SERVICE_NAME)


def _service_class() -> type[Any]:
    import servicemanager
    import win32serviceutil

    class SentinelleService(win32serviceutil.ServiceFramework):
        """Runs the agent's daemon until the service manager asks it to stop."""

        _svc_name_ = SERVICE_NAME
        _svc_display_name_ = DISPLAY_NAME
        _svc_description_ = DESCRIPTION

        def __init__(self, args: Any) -> None:
            super().__init__(args)
            self.agent: Any = None
            self.stopping = False

        def SvcStop(self) -> None:
            import win32service

            self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING)
            self.stopping = True
            if self.agent is not None:
                self.agent.stop_event.set()

        def SvcDoRun(self) -> None:
            from sentinelle.cli.agent import serve_agent

            config = win32serviceutil.GetServiceCustomOption(SERVICE_NAME, CONFIG_OPTION,
                                                             default_config())
            servicemanager.LogInfoMsg(f"{SERVICE_NAME}: {config}")

            def started(agent: Any) -> None:
                self.agent = agent
                if self.stopping:
                    agent.stop_event.set()

            serve_agent(config if Path(config).is_file() else None, started=started)

    return SentinelleService


if sys.platform == "win32" and available():  # pythonservice.exe imports the class by name
    SentinelleService = _service_class()
