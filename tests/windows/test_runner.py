"""The command runner as it behaves on Windows (sys.platform pretended, real processes): the
machine's environment is kept (PowerShell needs SystemRoot, TEMP, PSModulePath), and output is
decoded as the UTF-8 the collectors ask PowerShell for."""

from __future__ import annotations

import pytest

from sentinelle.host import subprocess_runner


def test_on_windows_the_environment_is_the_machines_and_output_is_utf8(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.platform", "win32")
    monkeypatch.setenv("SYSTEMROOT", "C:\\Windows")
    # Windows' default text encoding is its ANSI code page: the runner must not use it.
    monkeypatch.setattr("locale.getpreferredencoding", lambda do_setlocale=True: "cp1252")
    monkeypatch.setattr("locale.getencoding", lambda: "cp1252")
    result = subprocess_runner(["/bin/sh", "-c", "echo \"$SYSTEMROOT\"; printf 'Invit\\303\\251'"],
                               10.0, None)
    assert result.stdout.splitlines() == ["C:\\Windows", "Invité"]


def test_elsewhere_the_environment_stays_minimal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYSTEMROOT", "C:\\Windows")
    result = subprocess_runner(["/bin/sh", "-c", "echo \"[$SYSTEMROOT] $LC_ALL\""], 10.0, None)
    assert result.stdout.strip() == "[] C"
