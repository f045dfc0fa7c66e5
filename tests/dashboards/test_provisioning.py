"""deploy/grafana/provisioning: the files Grafana reads at start-up to find Prometheus and the
dashboards (format of Grafana's "Provision Grafana" documentation, apiVersion 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sentinelle.dashboards.push import DEFAULT_FOLDER, folder_uid_for

PROVISIONING = Path(__file__).resolve().parents[2] / "deploy/grafana/provisioning"


def load(relative: str) -> dict[str, Any]:
    data = yaml.safe_load((PROVISIONING / relative).read_text(encoding="utf-8"))
    assert isinstance(data, dict) and data["apiVersion"] == 1
    return data


def test_prometheus_datasource_is_the_default() -> None:
    (source,) = load("datasources/sentinelle.yaml")["datasources"]
    assert source["type"] == "prometheus" and source["access"] == "proxy"
    # The dashboards' ${datasource} variable starts on the default Prometheus data source.
    assert source["isDefault"] is True
    assert source["url"].startswith(("http://", "https://", "$"))
    assert source["jsonData"]["timeInterval"].endswith("s")


def test_dashboard_provider_matches_the_push_folder() -> None:
    (provider,) = load("dashboards/sentinelle.yaml")["providers"]
    assert provider["type"] == "file"
    assert provider["folder"] == DEFAULT_FOLDER
    assert provider["folderUid"] == folder_uid_for(DEFAULT_FOLDER)
    assert provider["options"]["path"].startswith("/")
    # The files are generated: edits in the UI would be lost at the next start.
    assert provider["allowUiUpdates"] is False
