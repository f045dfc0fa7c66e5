"""`sentinelle agent service install|start|stop|remove` without pywin32 (not installed here):
the arguments, the refusals in words, and what each action asks pywin32 for."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinelle.cli import main
from sentinelle.windows import service
from tests.cli.speech import say


def test_off_windows_it_says_so(capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINELLE_LANG", "fr")
    assert main(["agent", "service", "install"]) == 2
    assert say("cli.windows.not_windows", "fr", command="agent service") in (
        capsys.readouterr().err)


def test_an_unknown_action_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agent", "service", "restart"]) == 2
    err = capsys.readouterr().err
    assert "usage: sentinelle agent service" in err and "restart" in err


def test_without_pywin32_it_says_what_to_install(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINELLE_LANG", "en")
    monkeypatch.setattr("sys.platform", "win32")
    assert not service.available()  # pywin32 exists only on Windows
    assert main(["agent", "service", "start"]) == 2
    assert "pip install pywin32" in capsys.readouterr().err


@pytest.mark.parametrize("action", ["install", "start", "stop", "remove"])
def test_each_action_reaches_pywin32_with_the_config(
    action: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, ...]] = []
    monkeypatch.setenv("SENTINELLE_LANG", "fr")
    monkeypatch.setattr("sys.platform", "win32")
    monkeypatch.setattr(service, "available", lambda: True)
    monkeypatch.setattr(service, "install", lambda config: calls.append(("install", config)))
    for name in ("start", "stop", "remove"):
        monkeypatch.setattr(service, name, lambda name=name: calls.append((name,)))
    config = tmp_path / "agent.yaml"
    assert main(["agent", "service", action, "--config", str(config)]) == 0
    expected = [("install", str(config.resolve()))] if action == "install" else [(action,)]
    assert calls == expected
    out = capsys.readouterr().out
    assert service.SERVICE_NAME in out


def test_the_default_config_is_under_programdata(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROGRAMDATA", "D:\\Data")
    assert service.default_config().replace("/", "\\") == "D:\\Data\\Sentinelle\\agent.yaml"
