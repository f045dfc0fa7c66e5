"""The collector's configuration: embedded defaults, overridden by one strict YAML file."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sentinelle.collector.guard import Bucket, parse_networks
from sentinelle.collector.validate import Limits
from sentinelle.errors import expect
from sentinelle.validation import Section, load_yaml_file

DEFAULT_STORE = "sqlite:///var/lib/sentinelle-collector/collector.db"


@dataclass(frozen=True)
class RateLimit:
    """Per-agent token bucket: `burst` pushes at once, refilled at `per_second`."""

    per_second: float = 1.0
    burst: int = 60


ANONYMOUS = Bucket(per_second=20.0, burst=120)
ENROLL = Bucket(per_second=0.1, burst=10)
ENROLL_TOTAL = Bucket(per_second=5.0, burst=50)


@dataclass(frozen=True)
class Protection:
    """Bounds that hold before authentication (docs/security.md)."""

    header_timeout_seconds: float = 15.0  # idle or half-sent request headers are cut after it
    body_timeout_seconds: float = 30.0  # to receive a whole request body
    max_connections: int = 1024
    max_connections_per_address: int = 32  # trusted proxies count only toward the total
    max_enroll_body_bytes: int = 4096
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")  # their X-Forwarded-For counts
    # Per source address: requests that carry no valid agent key (enrollment, failed
    # authentication, /metrics, /sd...), and enrollment attempts among them.
    anonymous: Bucket = ANONYMOUS
    enroll: Bucket = ENROLL
    enroll_total: Bucket = ENROLL_TOTAL  # all addresses together


@dataclass(frozen=True)
class RemoteWriteSettings:
    """Optional remote-write output (Mimir, VictoriaMetrics)."""

    url: str
    interval_seconds: float = 60.0
    bearer_token_file: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    ca_bundle: str | None = None


@dataclass(frozen=True)
class CollectorSettings:
    """The whole collector configuration."""

    source: str = "(embedded defaults)"
    listen_address: str = "127.0.0.1:8470"
    store: str = DEFAULT_STORE
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    silent_after_seconds: float = 6 * 3600
    raw_report_retention_days: int = 90
    snapshot_retention_days: int = 400
    registry_refresh_seconds: float = 10.0  # how soon a revocation from the CLI applies
    snapshot_interval_seconds: float = 300.0
    agent_port: int = 9830  # for /sd: where agents serve /metrics in pull setups
    limits: Limits = field(default_factory=Limits)
    rate_limit: RateLimit = field(default_factory=RateLimit)
    batch_max: int = 256
    workers: int = 1  # processes sharing the listening port (SO_REUSEPORT) and the store
    remote_write: RemoteWriteSettings | None = None
    protection: Protection = field(default_factory=Protection)
    lang: str = "fr"  # of the fleet page's HELP texts (and the collector's other words)


def _bucket(section: Section, name: str, default: Bucket) -> Bucket:
    sec = section.section(name)
    bucket = Bucket(
        per_second=sec.number("per_second", default.per_second, minimum=0.001),
        burst=sec.number("burst", default.burst, minimum=1, integer=True),
    )
    sec.done()
    return bucket


def parse_protection(top: Section) -> Protection:
    sec = top.section("protection")
    d = Protection()
    proxies = tuple(sec.str_list("trusted_proxies", list(d.trusted_proxies)))
    try:
        parse_networks(proxies)
    except ValueError as exc:
        raise sec.error("trusted_proxies", expect("networks"), str(exc)) from exc
    protection = Protection(
        header_timeout_seconds=sec.number(
            "header_timeout_seconds", d.header_timeout_seconds, minimum=1, maximum=3600
        ),
        body_timeout_seconds=sec.number(
            "body_timeout_seconds", d.body_timeout_seconds, minimum=1, maximum=3600
        ),
        max_connections=sec.number("max_connections", d.max_connections, minimum=1, integer=True),
        max_connections_per_address=sec.number(
            "max_connections_per_address", d.max_connections_per_address, minimum=1, integer=True
        ),
        max_enroll_body_bytes=sec.number(
            "max_enroll_body_bytes", d.max_enroll_body_bytes, minimum=256, integer=True
        ),
        trusted_proxies=proxies,
        anonymous=_bucket(sec, "anonymous", d.anonymous),
        enroll=_bucket(sec, "enroll", d.enroll),
        enroll_total=_bucket(sec, "enroll_total", d.enroll_total),
    )
    sec.done()
    return protection


def parse_settings(data: Any, source: str) -> CollectorSettings:
    top = Section(source, "", data)
    d = CollectorSettings()
    listen = top.str("listen_address", d.listen_address)
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise top.error("listen_address", expect("host_port", example=d.listen_address), listen)
    tls = top.section("tls")
    cert, key = tls.str("cert_file", None), tls.str("key_file", None)
    tls.done()
    if (cert is None) != (key is None):
        raise top.error("tls", expect("both_or_neither", first="cert_file", second="key_file"))
    lim = top.section("limits")
    limits = Limits(
        **{
            f.name: lim.number(f.name, getattr(Limits(), f.name), minimum=1, integer=True)
            for f in fields(Limits)
        }
    )
    lim.done()
    rl = top.section("rate_limit")
    rate = RateLimit(
        per_second=rl.number("per_second", 1.0, minimum=0.001),
        burst=rl.number("burst", 60, minimum=1, integer=True),
    )
    rl.done()
    rw_sec = top.section("remote_write")
    remote_write = None
    if rw_sec.data:
        headers = rw_sec.raw("headers", {}) or {}
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise rw_sec.error("headers", expect("header_mapping"), headers)
        remote_write = RemoteWriteSettings(
            url=rw_sec.str("url"),
            interval_seconds=rw_sec.number("interval_seconds", 60.0, minimum=5),
            bearer_token_file=rw_sec.str("bearer_token_file", None),
            headers=headers,
            ca_bundle=rw_sec.str("ca_bundle", None),
        )
    rw_sec.done()
    settings = CollectorSettings(
        source=source,
        listen_address=listen,
        store=top.str("store", d.store),
        tls_cert_file=cert,
        tls_key_file=key,
        silent_after_seconds=top.number("silent_after_seconds", d.silent_after_seconds, minimum=60),
        raw_report_retention_days=top.number(
            "raw_report_retention_days", d.raw_report_retention_days, minimum=1, integer=True
        ),
        snapshot_retention_days=top.number(
            "snapshot_retention_days", d.snapshot_retention_days, minimum=397, integer=True
        ),
        registry_refresh_seconds=top.number(
            "registry_refresh_seconds", d.registry_refresh_seconds, minimum=1
        ),
        snapshot_interval_seconds=top.number(
            "snapshot_interval_seconds", d.snapshot_interval_seconds, minimum=1
        ),
        agent_port=top.number("agent_port", d.agent_port, minimum=1, maximum=65535, integer=True),
        limits=limits,
        rate_limit=rate,
        batch_max=top.number("batch_max", d.batch_max, minimum=1, integer=True),
        workers=top.number("workers", d.workers, minimum=1, maximum=64, integer=True),
        remote_write=remote_write,
        protection=parse_protection(top),
        lang=top.choice("lang", ("fr", "en"), d.lang),
    )
    top.raw("report", None)  # the monthly report's section, read by sentinelle.report.config
    top.done()
    return settings


def load_settings(path: str | Path | None) -> CollectorSettings:
    if path is None:
        return CollectorSettings()
    return parse_settings(load_yaml_file(Path(path)), str(path))
