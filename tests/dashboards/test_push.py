"""`sentinelle dashboards push` against a local Grafana HTTP API stand-in (tests/dashboards/
grafana_standin.py): no Grafana server can run here, the real grafana-client library is used."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sentinelle.dashboards.build import build_all
from sentinelle.dashboards.push import (
    GrafanaPushError,
    credential_from_env,
    folder_uid_for,
    push_dashboards,
)
from tests.dashboards.grafana_standin import GrafanaStandIn, GrafanaState

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "glsa_editor"
ENV = {"GRAFANA_TOKEN": TOKEN}


@pytest.fixture(scope="module")
def dashboards() -> list[dict[str, Any]]:
    return list(build_all().values())


@pytest.fixture
def grafana() -> Iterator[GrafanaStandIn]:
    with GrafanaStandIn() as standin:
        yield standin


def test_first_push_creates_the_folder_and_every_dashboard(
        grafana: GrafanaStandIn, dashboards: list[dict[str, Any]]) -> None:
    result = push_dashboards(grafana.url, dashboards, env=ENV)
    assert result.folder_created and result.folder_uid == "sentinelle"
    assert result.grafana_version == "11.6.0"
    assert grafana.state.folders["sentinelle"]["title"] == "Sentinelle"
    assert [(d.uid, d.created, d.version) for d in result.dashboards] == [
        (d["uid"], True, 1) for d in dashboards]
    for sent in dashboards:
        stored = grafana.state.dashboards[sent["uid"]]
        assert stored["meta"]["folderUid"] == "sentinelle"
        # Grafana assigns id and version; everything else is the generated JSON, unchanged.
        assert {k: v for k, v in stored["dashboard"].items() if k not in ("id", "version")} == {
            k: v for k, v in sent.items() if k not in ("id", "version")}
    # Every request carried the token as a Bearer header.
    assert grafana.state.requests
    assert {r.authorization for r in grafana.state.requests} == {f"Bearer {TOKEN}"}


def test_second_push_updates_versions_and_creates_nothing(
        grafana: GrafanaStandIn, dashboards: list[dict[str, Any]]) -> None:
    push_dashboards(grafana.url, dashboards, env=ENV)
    writes_before = len(grafana.writes())
    again = push_dashboards(grafana.url, dashboards, env=ENV)
    assert not again.folder_created
    assert len(grafana.state.folders) == 1 and len(grafana.state.dashboards) == len(dashboards)
    assert [(d.created, d.version) for d in again.dashboards] == [(False, 2)] * len(dashboards)
    new_writes = grafana.writes()[writes_before:]
    # Only dashboard saves, one per dashboard: the folder was found, not created again.
    assert [(w.method, w.path) for w in new_writes] == [
        ("POST", "/api/dashboards/db")] * len(dashboards)


def test_push_overwrites_a_dashboard_edited_in_grafana(
        grafana: GrafanaStandIn, dashboards: list[dict[str, Any]]) -> None:
    push_dashboards(grafana.url, dashboards, env=ENV)
    uid = dashboards[0]["uid"]
    edited = grafana.state.dashboards[uid]["dashboard"]
    edited.update(title="Modifié à la main", version=7)  # someone saved it in the UI
    result = push_dashboards(grafana.url, dashboards, env=ENV)
    assert result.dashboards[0].version == 8
    assert grafana.state.dashboards[uid]["dashboard"]["title"] == dashboards[0]["title"]


def test_standin_refuses_a_stale_save_without_overwrite(grafana: GrafanaStandIn) -> None:
    """The 412 behaviour that `overwrite: true` avoids is really there in the stand-in."""
    from grafana_client.api import GrafanaApi
    from grafana_client.client import GrafanaClientError

    api = GrafanaApi.from_url(grafana.url, credential=TOKEN)
    api.dashboard.update_dashboard({"dashboard": {"uid": "x", "title": "X"}, "overwrite": False})
    current = api.dashboard.get_dashboard("x")["dashboard"]
    api.dashboard.update_dashboard({"dashboard": current, "overwrite": False})  # version 1 → 2
    with pytest.raises(GrafanaClientError) as stale:
        api.dashboard.update_dashboard({"dashboard": current, "overwrite": False})
    assert stale.value.status_code == 412
    assert stale.value.response["status"] == "version-mismatch"
    with pytest.raises(GrafanaClientError) as exists:
        api.dashboard.update_dashboard({"dashboard": {"uid": "x", "title": "X"}})
    assert exists.value.status_code == 412 and exists.value.response["status"] == "name-exists"


def test_an_existing_folder_of_that_title_is_reused(dashboards: list[dict[str, Any]]) -> None:
    state = GrafanaState(tokens={TOKEN: "Editor"})
    state.folders["k3S1cklGk"] = {"id": 1, "uid": "k3S1cklGk", "title": "Sentinelle"}
    with GrafanaStandIn(state) as grafana:
        result = push_dashboards(grafana.url, dashboards, env=ENV)
    assert (result.folder_uid, result.folder_created) == ("k3S1cklGk", False)
    assert list(state.folders) == ["k3S1cklGk"]
    assert {d["meta"]["folderUid"] for d in state.dashboards.values()} == {"k3S1cklGk"}


def test_folder_name_option(grafana: GrafanaStandIn, dashboards: list[dict[str, Any]]) -> None:
    result = push_dashboards(grafana.url, dashboards, env=ENV, folder="SOC — Mairies")
    assert result.folder_uid == folder_uid_for("SOC — Mairies") == "soc-mairies"
    assert grafana.state.folders["soc-mairies"]["title"] == "SOC — Mairies"


def test_missing_token_is_a_clear_error_before_any_request(
        grafana: GrafanaStandIn, dashboards: list[dict[str, Any]]) -> None:
    with pytest.raises(GrafanaPushError, match="GRAFANA_TOKEN n'est pas défini"):
        push_dashboards(grafana.url, dashboards, env={"GRAFANA_USER": "admin"})
    assert grafana.state.requests == []


def test_wrong_token_401_is_a_clear_error_and_changes_nothing(
        grafana: GrafanaStandIn, dashboards: list[dict[str, Any]]) -> None:
    with pytest.raises(GrafanaPushError) as err:
        push_dashboards(grafana.url, dashboards, env={"GRAFANA_TOKEN": "glsa_revoked"})
    assert "401" in str(err.value) and "GRAFANA_TOKEN" in str(err.value)
    assert grafana.state.folders == {} and grafana.state.dashboards == {}
    assert grafana.writes() == []


def test_viewer_token_403_says_which_role_is_needed(dashboards: list[dict[str, Any]]) -> None:
    with GrafanaStandIn(GrafanaState(tokens={"glsa_viewer": "Viewer"})) as grafana, \
            pytest.raises(GrafanaPushError, match=r"403.*Editor"):
        push_dashboards(grafana.url, dashboards, env={"GRAFANA_TOKEN": "glsa_viewer"})


def test_basic_auth_fallback_and_token_precedence(dashboards: list[dict[str, Any]]) -> None:
    state = GrafanaState(tokens={TOKEN: "Editor"}, users={("soc", "s3cret"): "Editor"})
    with GrafanaStandIn(state) as grafana:
        push_dashboards(grafana.url, dashboards,
                        env={"GRAFANA_USER": "soc", "GRAFANA_PASSWORD": "s3cret"})
        basic = "Basic " + base64.b64encode(b"soc:s3cret").decode()
        assert {r.authorization for r in state.requests} == {basic}
    assert credential_from_env({"GRAFANA_TOKEN": "t", "GRAFANA_USER": "u",
                                "GRAFANA_PASSWORD": "p"}) == "t"


def test_grafana_under_a_sub_path(dashboards: list[dict[str, Any]]) -> None:
    with GrafanaStandIn(prefix="/grafana") as grafana:
        assert grafana.url.endswith("/grafana")  # no trailing slash, as people type it
        result = push_dashboards(grafana.url, dashboards, env=ENV)
    assert len(result.dashboards) == len(dashboards)


def test_unreachable_grafana_is_a_clear_error(dashboards: list[dict[str, Any]]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GrafanaPushError, match="injoignable"):
        push_dashboards(f"http://127.0.0.1:{port}", dashboards, env=ENV, timeout=2)


def test_cli_push(grafana: GrafanaStandIn) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAFANA_")}
    args = [sys.executable, "-m", "sentinelle.dashboards", "push", "--grafana-url", grafana.url,
            "--folder", "Sentinelle"]
    missing = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True,
                             timeout=60, check=False)
    assert missing.returncode == 1 and "GRAFANA_TOKEN" in missing.stderr
    done = subprocess.run(args, env=dict(env, GRAFANA_TOKEN=TOKEN), cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "dossier « Sentinelle » (créé" in done.stdout
    assert done.stdout.count(": créé, version 1") == len(grafana.state.dashboards) == 4
