"""A real collector (aiohttp server + store) running in a background thread for tests."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sentinelle.collector.embedded import EmbeddedCollector
from sentinelle.collector.records import Commune, EnrollmentToken
from sentinelle.collector.secrets import digest, new_secret, new_token_id
from sentinelle.collector.server import CollectorService
from sentinelle.collector.settings import CollectorSettings
from sentinelle.collector.store import Store


@dataclass
class Running:
    """A started collector: its base URL, service and store."""

    url: str
    service: CollectorService
    store: Store

    def commune(self, code: str, name: str, population: int | None = 1000,
                emails: tuple[str, ...] = ()) -> None:
        from sentinelle.collector.insee import departement_of

        self.store.upsert_commune(Commune(code, name, departement_of(code), population, emails))
        self.service.refresh_registry()

    def token(self, commune: str, uses: int | None = None) -> str:
        from datetime import UTC, datetime, timedelta

        secret = new_secret()
        now = datetime.now(UTC)
        self.store.add_token(EnrollmentToken(new_token_id(), commune, now,
                                             now + timedelta(days=1), uses), digest(secret))
        return secret

    def enroll(self, commune: str, hostname: str) -> dict[str, Any]:
        status, body, _ = request(self.url + "/api/v1/enroll", "POST",
                                  {"token": self.token(commune, 1), "hostname": hostname})
        assert status == 201, body
        return dict(body)


def request(url: str, method: str = "GET", payload: Any = None,
            headers: dict[str, str] | None = None, raw: bytes | None = None,
            gzip_body: bool = False, timeout: float = 30) -> tuple[int, Any, dict[str, str]]:
    """HTTP call returning (status, parsed JSON or text, headers) whatever the status."""
    data = raw if raw is not None else (json.dumps(payload).encode()
                                        if payload is not None else None)
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if gzip_body and data is not None:
        data = gzip.compress(data)
        hdrs["Content-Encoding"] = "gzip"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body, status, rh = resp.read(), resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        body, status, rh = err.read(), err.code, dict(err.headers)
    text = body.decode()
    try:
        return status, json.loads(text), rh
    except ValueError:
        return status, text, rh


def auth(creds: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {creds['agent_id']}:{creds['key']}"}


@contextmanager
def running_collector(tmp_path: Path, store_url: str | None = None,
                      **overrides: Any) -> Iterator[Running]:
    """Start a real collector on a free loopback port; stop it (and its store) on exit."""
    settings = replace(CollectorSettings(), listen_address="127.0.0.1:0",
                       store=store_url or f"sqlite:///{tmp_path / 'collector.db'}", **overrides)
    with EmbeddedCollector(settings) as collector:
        yield Running(collector.url, collector.service, collector.store)
