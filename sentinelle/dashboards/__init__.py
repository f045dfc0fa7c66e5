"""Grafana dashboards as code: built with the Grafana Foundation SDK, committed as JSON.

`python -m sentinelle.dashboards build` (or `sentinelle dashboards build`) writes
`dashboards/*.json`; a test fails when the committed files differ from what the code builds.
`sentinelle dashboards push` sends them to a Grafana server through its HTTP API.

This module stays light (no Grafana library imported) so that the `sentinelle` command line can
register the `dashboards` sub-command without loading them.
"""

from __future__ import annotations

DEFAULT_FOLDER = "Sentinelle"
DEFAULT_TIMEOUT = 10.0
