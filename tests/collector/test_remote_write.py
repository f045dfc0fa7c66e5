"""Remote-write output: the wire format, the retry policy, and real Prometheus / VictoriaMetrics.

The round trips go through a real Prometheus (remote-write receiver) and a real VictoriaMetrics,
queried back with PromQL. The retry policy needs a receiver that answers 503, 429 or 400 on
demand, which neither real server does on request: `ScriptedReceiver`, a tiny loopback
http.server, stands in for that error injection only (and for checking the request headers).
"""

from __future__ import annotations

import http.server
import json
import math
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import cramjam
import pytest

from sentinelle import __version__
from sentinelle.collector.remote_write import (
    RemoteWriter,
    Series,
    decode_write_request,
    encode_write_request,
    encode_write_request_proto,
    families_to_series,
    parse_retry_after,
)
from sentinelle.metrics import report_metrics, reports_metrics
from sentinelle.model import CheckRun, Finding, Measurement, Report, Score, Severity, Status
from tests.collector.tsdb_servers import (
    TsdbServer,
    free_port,
    http_get,
    running_prometheus,
    running_victoria_metrics,
)
from tests.conftest import need_tool

# --- a Report built from the model ------------------------------------------------------------


def make_report(hostname: str, when: datetime, score: float = 62.5) -> Report:
    findings = (
        Finding(
            "patching.pending_updates",
            Status.FAIL,
            Severity.HIGH,
            "3 mises à jour de sécurité en attente",
            measurements=(
                Measurement("pending_updates", 3, {"kind": "security"}),
                Measurement("pending_updates", 12, {"kind": "other"}),
                Measurement("reboot_required", 1),
            ),
        ),
        Finding(
            "ports.listening",
            Status.WARN,
            Severity.MEDIUM,
            "SMB écoute sur le réseau",
            measurements=(
                Measurement(
                    "listening_port_info",
                    1,
                    # service="" : Prometheus has no empty labels, so it must arrive absent.
                    {
                        "address": "0.0.0.0",
                        "port": "445",
                        "protocol": "tcp",
                        "process": "smbd",
                        "scope": "network",
                        "service": "",
                    },
                ),
            ),
        ),
        Finding(
            "backup.freshness",
            Status.PASS,
            Severity.INFO,
            "Sauvegarde récente",
            measurements=(Measurement("backup_age_seconds", 7200.5, {"location": "nas"}),),
        ),
    )
    return Report(
        report_id="3f1c6f0e-5a1b-4c1e-9a53-1d2f0e8c7b6a",
        generated_at=when.isoformat(timespec="seconds").replace("+00:00", "Z"),
        agent_version=__version__,
        host={"hostname": hostname, "os_id": "debian", "os_version": "12", "kernel": "6.1.0"},
        checks=(
            CheckRun("patching.pending_updates", Status.FAIL, 0.125),
            CheckRun("ports.listening", Status.WARN, 0.0625),
            CheckRun("backup.freshness", Status.PASS, 0.03125),
        ),
        results=findings,
        score=Score(score, "C", None, {"high": 1, "medium": 1}),
    )


def expected_series(series: list[Series]) -> dict[frozenset[tuple[str, str]], float]:
    """What a TSDB should hold: label sets without empty values, mapped to their value."""
    out: dict[frozenset[tuple[str, str]], float] = {}
    for labels, value, _ in series:
        out[frozenset((k, v) for k, v in labels.items() if v != "")] = value
    return out


def as_stored(result: list[dict[str, Any]]) -> dict[frozenset[tuple[str, str]], float]:
    return {frozenset(r["metric"].items()): float(r["value"][1]) for r in result}


# --- wire format --------------------------------------------------------------------------------


def test_encoding_matches_the_protobuf_wire_format_byte_for_byte() -> None:
    # Hand-assembled from the remote-write 1.0 .proto, independently of the encoder.
    name_label = b"\x0a\x0e" + b"\x0a\x08__name__" + b"\x12\x02up"
    job_label = b"\x0a\x08" + b"\x0a\x03job" + b"\x12\x01x"
    sample = b"\x12\x0c" + b"\x09" + b"\x00\x00\x00\x00\x00\x00\xf0\x3f" + b"\x10\xe8\x07"
    expected = b"\x0a\x28" + name_label + job_label + sample

    raw = encode_write_request_proto([({"job": "x", "__name__": "up"}, 1.0, 1000)])

    assert raw == expected
    compressed = encode_write_request([({"job": "x", "__name__": "up"}, 1.0, 1000)])
    assert bytes(cramjam.snappy.decompress_raw(compressed)) == expected


def test_round_trip_sorts_labels_drops_empty_ones_and_groups_samples() -> None:
    series: list[Series] = [
        ({"zone": "b", "__name__": "m", "commune": "01001", "empty": ""}, 2.0, 2000),
        ({"__name__": "other", "host": "srv-é"}, -1.5, -5),  # negative int64 timestamp
        ({"commune": "01001", "__name__": "m", "zone": "b"}, 1.0, 1000),  # same set, earlier
        ({"__name__": "special"}, math.inf, 3),
        ({"__name__": "big"}, 1e300, 2**62),
    ]

    decoded = decode_write_request(encode_write_request(series))

    assert decoded[0] == (
        {"__name__": "m", "commune": "01001", "zone": "b"},
        [(1.0, 1000), (2.0, 2000)],
    )
    assert list(decoded[0][0]) == ["__name__", "commune", "zone"]  # sent sorted by name
    assert decoded[1] == ({"__name__": "other", "host": "srv-é"}, [(-1.5, -5)])
    assert decoded[2] == ({"__name__": "special"}, [(math.inf, 3)])
    assert decoded[3] == ({"__name__": "big"}, [(1e300, 2**62)])
    nan = decode_write_request(encode_write_request([({"__name__": "n"}, math.nan, 0)]))
    assert math.isnan(nan[0][1][0][0])


def test_one_value_per_label_set_and_timestamp_the_last_wins() -> None:
    series: list[Series] = [
        ({"__name__": "m", "host": "a"}, 1.0, 1000),
        ({"__name__": "m", "host": "a", "empty": ""}, 2.0, 1000),  # same set once "" is dropped
        ({"__name__": "m", "host": "a"}, 3.0, 2000),
    ]

    decoded = decode_write_request(encode_write_request(series))

    assert decoded == [({"__name__": "m", "host": "a"}, [(2.0, 1000), (3.0, 2000)])]


def test_a_series_without_a_name_is_refused() -> None:
    with pytest.raises(ValueError, match="__name__"):
        encode_write_request([({"job": "x"}, 1.0, 0)])
    with pytest.raises(ValueError, match="__name__"):
        encode_write_request([({"__name__": ""}, 1.0, 0)])


def test_families_to_series_yields_every_sample_of_a_report() -> None:
    when = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    report = make_report("mairie-srv", when)
    families = list(report_metrics(report, {"commune": "01001", "host": "mairie-srv"}))

    series = list(families_to_series(families, when))

    assert len(series) == sum(len(f.samples) for f in families)
    assert all(ts == 1_795_867_200_000 for _, _, ts in series)
    assert all(labels["commune"] == "01001" for labels, _, _ in series)
    by_name = {(labels["__name__"], labels.get("kind", "")): v for labels, v, _ in series}
    assert by_name[("sentinelle_host_risk_score", "")] == 62.5
    assert by_name[("sentinelle_pending_updates", "security")] == 3
    grade = next(lab for lab, _, _ in series if lab["__name__"] == "sentinelle_host_grade_info")
    assert grade["grade"] == "C"
    # A plain Unix timestamp works too, to the millisecond.
    first = next(families_to_series(families, 1234.5678))
    assert first[2] == 1_234_568


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = 1_800_000_000.0
    later = format_datetime(datetime.fromtimestamp(now + 30, UTC), usegmt=True)
    assert parse_retry_after(later, now=now) == pytest.approx(30.0)
    earlier = format_datetime(datetime.fromtimestamp(now - 30, UTC), usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0


def test_writer_refuses_contradictory_settings() -> None:
    with pytest.raises(ValueError, match="exclusive"):
        RemoteWriter("http://127.0.0.1:1/", basic_auth=("u", "p"), bearer_token="t")
    with pytest.raises(ValueError, match="cannot be configured"):
        RemoteWriter("http://127.0.0.1:1/", headers={"content-type": "text/plain"})
    with pytest.raises(ValueError, match="http"):
        RemoteWriter("ftp://127.0.0.1/")
    with pytest.raises(ValueError, match="invalid header"):
        RemoteWriter("http://127.0.0.1:1/", headers={"X-Scope-OrgID": "a\r\nX-Evil: 1"})


# --- real Prometheus and VictoriaMetrics --------------------------------------------------------


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TsdbServer]:
    binary = need_tool("prometheus")
    with running_prometheus(binary, tmp_path_factory.mktemp("prometheus")) as server:
        yield server


@pytest.fixture(scope="module")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TsdbServer]:
    binary = need_tool("victoria-metrics")
    with running_victoria_metrics(binary, tmp_path_factory.mktemp("victoria")) as server:
        yield server


@pytest.fixture(params=["prometheus", "victoria"])
def tsdb(request: pytest.FixtureRequest) -> TsdbServer:
    server: TsdbServer = request.getfixturevalue(request.param)
    return server


def test_report_series_are_queryable_with_their_values_and_labels(tsdb: TsdbServer) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    at = now.timestamp()
    host = f"mairie-{tsdb.kind}"
    report = make_report(host, now)
    series = list(
        families_to_series(report_metrics(report, {"commune": "01001", "host": host}), now)
    )
    writer = RemoteWriter(tsdb.write_url)

    result = writer.write(series)

    assert result.ok and result.samples_sent == len(series), writer.stats()
    stats = writer.stats()
    assert stats.samples_sent == len(series) and stats.batches_sent == 1
    assert stats.requests == 1 and stats.samples_failed == 0
    assert stats.last_success_timestamp == pytest.approx(time.time(), abs=30)
    score = tsdb.query_until(f'sentinelle_host_risk_score{{commune="01001",host="{host}"}}', at, 1)
    assert [float(r["value"][1]) for r in score] == [62.5], tsdb.log_tail()
    assert score[0]["metric"] == {
        "__name__": "sentinelle_host_risk_score",
        "commune": "01001",
        "host": host,
    }
    security = tsdb.query(f'sentinelle_pending_updates{{host="{host}",kind="security"}}', at)
    assert [float(r["value"][1]) for r in security] == [3.0]
    grade = tsdb.query(f'sentinelle_host_grade_info{{host="{host}"}}', at)
    assert grade[0]["metric"]["grade"] == "C"
    port = tsdb.query(f'sentinelle_listening_port_info{{host="{host}",port="445"}}', at)
    assert "service" not in port[0]["metric"]  # the empty label arrived as absent
    assert port[0]["metric"]["process"] == "smbd"
    # Everything written, and nothing else, is stored for this host.
    stored = as_stored(tsdb.query(f'{{host="{host}"}}', at))
    assert stored == expected_series(series)


def test_a_fleet_is_sent_in_bounded_batches(tsdb: TsdbServer) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    hosts = [f"batch-{tsdb.kind}-{i}" for i in range(3)]
    items = [
        (make_report(h, now, score=10.0 * i), {"commune": "01002", "host": h})
        for i, h in enumerate(hosts)
    ]
    series = list(families_to_series(reports_metrics(items), now))
    writer = RemoteWriter(tsdb.write_url, max_series_per_request=7)

    result = writer.write(series)

    batches = math.ceil(len(series) / 7)
    assert result.ok and result.batches_sent == batches and writer.stats().requests == batches
    scores = tsdb.query_until('sentinelle_host_risk_score{commune="01002"}', now.timestamp(), 3)
    assert {r["metric"]["host"]: float(r["value"][1]) for r in scores} == {
        h: 10.0 * i for i, h in enumerate(hosts)
    }
    stored = as_stored(tsdb.query('{commune="01002"}', now.timestamp()))
    assert stored == expected_series(series)


def test_prometheus_refuses_out_of_order_and_duplicate_samples_without_retries(
    prometheus: TsdbServer,
) -> None:
    now_ms = int(time.time() * 1000)
    name = {"__name__": "sentinelle_rw_order_test", "commune": "01003"}
    writer = RemoteWriter(prometheus.write_url, min_backoff_seconds=0.5)
    assert writer.write([(name, 1.0, now_ms)]).ok

    started = time.monotonic()
    older = writer.write([(name, 2.0, now_ms - 60_000)])  # out of order: a real 400
    clash = writer.write([(name, 3.0, now_ms)])  # same timestamp, other value: a real 400
    same = writer.write([(name, 1.0, now_ms)])  # exact duplicate: accepted

    assert (older.ok, clash.ok, same.ok) == (False, False, True)
    assert older.samples_failed == 1 and clash.batches_dropped == 1
    stats = writer.stats()
    assert stats.requests == 4 and stats.samples_retried == 0  # one request per batch: no retry
    assert stats.batches_dropped == 2 and stats.samples_failed == 2
    assert "400" in stats.last_error and "duplicate" in stats.last_error
    assert time.monotonic() - started < 2  # no backoff was waited
    # The writer carries on, and the stored value is the first one.
    later = writer.write([(name, 5.0, now_ms + 1000)])
    assert later.ok
    stored = prometheus.query('sentinelle_rw_order_test{commune="01003"}', now_ms / 1000)
    assert [float(r["value"][1]) for r in stored] == [1.0]


def test_a_duplicate_within_one_batch_stores_the_last_value(prometheus: TsdbServer) -> None:
    # Given two values for one series and timestamp in one request, Prometheus would silently
    # keep the first (checked by hand with a request built without the encoder's merge).
    now_ms = int(time.time()) * 1000
    twice = {"__name__": "sentinelle_rw_dup_test", "commune": "01006"}
    other = {"__name__": "sentinelle_rw_dup_test", "commune": "01007"}
    writer = RemoteWriter(prometheus.write_url)

    result = writer.write([(twice, 1.0, now_ms), (other, 7.0, now_ms), (twice, 2.0, now_ms)])

    assert result.ok, writer.stats().last_error
    stored = as_stored(prometheus.query("sentinelle_rw_dup_test", now_ms / 1000))
    assert stored == {
        frozenset({*twice.items()}): 2.0,
        frozenset({*other.items()}): 7.0,
    }


def test_victoria_metrics_accepts_out_of_order_and_duplicate_samples(victoria: TsdbServer) -> None:
    # Whole seconds: VictoriaMetrics rounds a query's time to 10 ms, which would hide a sample
    # written a few milliseconds after it.
    now_ms = int(time.time()) * 1000
    name = {"__name__": "sentinelle_rw_order_test", "commune": "01004"}
    writer = RemoteWriter(victoria.write_url)

    results = [
        writer.write([(name, 1.0, now_ms)]),
        writer.write([(name, 2.0, now_ms - 60_000)]),
        writer.write([(name, 3.0, now_ms)]),
        writer.write([(name, 1.0, now_ms)]),
    ]

    assert all(r.ok for r in results) and writer.stats().requests == 4
    older = victoria.query_until('sentinelle_rw_order_test{commune="01004"}', now_ms / 1000 - 60, 1)
    assert [float(r["value"][1]) for r in older] == [2.0]
    # The raw store holds every sample sent, duplicates included (VictoriaMetrics deduplicates
    # only at query time, and only when configured to).
    match = urllib.parse.urlencode({"match[]": 'sentinelle_rw_order_test{commune="01004"}'})
    status, body = http_get(f"{victoria.base_url}/api/v1/export?{match}")
    assert status == 200, body
    raw = json.loads(body)
    assert sorted(zip(raw["timestamps"], raw["values"], strict=True)) == [
        (now_ms - 60_000, 2.0),
        (now_ms, 1.0),
        (now_ms, 1.0),
        (now_ms, 3.0),
    ]


# --- retry policy, against a scripted loopback receiver (error injection only) -----------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class ScriptedReceiver:
    """Answers each POST with the next scripted (status, headers), then repeats the last one."""

    script: list[tuple[int, dict[str, str]]]
    received: list[Received] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[ScriptedReceiver]:
    state = ScriptedReceiver(script=[(204, {})])
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state.received.append(Received(dict(self.headers.items()), body, time.monotonic()))
                status, headers = state.script[0]
                if len(state.script) > 1:
                    state.script.pop(0)
            payload = json.dumps({"status": status}).encode() if status >= 400 else b""
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/push"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


ONE: list[Series] = [({"__name__": "sentinelle_host_risk_score", "commune": "01001"}, 80.0, 1000)]


def test_requests_carry_the_protocol_headers_and_configured_auth(
    receiver: ScriptedReceiver,
) -> None:
    basic = RemoteWriter(
        receiver.url, basic_auth=("syndicat", "s3cret"), headers={"X-Scope-OrgID": "syndicat-01"}
    )
    bearer = RemoteWriter(receiver.url, bearer_token="tok-123")

    assert basic.write(ONE).ok and bearer.write(ONE).ok

    first, second = receiver.received
    assert first.headers["Content-Encoding"] == "snappy"
    assert first.headers["Content-Type"] == "application/x-protobuf"
    assert first.headers["X-Prometheus-Remote-Write-Version"] == "0.1.0"
    assert first.headers["User-Agent"] == f"sentinelle/{__version__}"
    assert first.headers["X-Scope-Orgid"] == "syndicat-01"  # http.server capitalizes like this
    assert first.headers["Authorization"] == "Basic c3luZGljYXQ6czNjcmV0"
    assert second.headers["Authorization"] == "Bearer tok-123"
    assert decode_write_request(first.body) == [
        ({"__name__": "sentinelle_host_risk_score", "commune": "01001"}, [(80.0, 1000)])
    ]


def test_a_4xx_refusal_is_dropped_and_counted_not_retried(receiver: ScriptedReceiver) -> None:
    receiver.script = [(400, {}), (204, {})]
    writer = RemoteWriter(receiver.url, min_backoff_seconds=0.01)

    result = writer.write(ONE)

    assert not result.ok and result.samples_failed == 1
    assert len(receiver.received) == 1
    stats = writer.stats()
    assert (stats.batches_dropped, stats.samples_failed, stats.samples_retried) == (1, 1, 0)
    assert stats.last_success_timestamp == 0.0 and "HTTP 400" in stats.last_error
    # The next batch goes through: a refusal does not stop the writer.
    assert writer.write(ONE).ok and writer.stats().samples_sent == 1


def test_5xx_is_retried_with_growing_backoff_then_succeeds(receiver: ScriptedReceiver) -> None:
    receiver.script = [(503, {}), (500, {}), (503, {}), (204, {})]
    writer = RemoteWriter(receiver.url, min_backoff_seconds=0.1, max_backoff_seconds=5)

    result = writer.write(ONE)

    assert result.ok and len(receiver.received) == 4
    gaps = [b.at - a.at for a, b in zip(receiver.received, receiver.received[1:], strict=False)]
    # Jittered backoff lies in [base/2, base) for base 0.1, 0.2, 0.4.
    for gap, base in zip(gaps, (0.1, 0.2, 0.4), strict=True):
        assert base / 2 - 0.01 <= gap < base + 0.15, gaps
    stats = writer.stats()
    assert (stats.samples_sent, stats.samples_retried, stats.batches_dropped) == (1, 3, 0)
    assert stats.last_success_timestamp > 0


def test_429_honours_retry_after_unless_disabled(receiver: ScriptedReceiver) -> None:
    receiver.script = [(429, {"Retry-After": "1"}), (204, {})]
    writer = RemoteWriter(receiver.url, min_backoff_seconds=0.01)

    assert writer.write(ONE).ok
    gap = receiver.received[1].at - receiver.received[0].at
    assert 0.95 <= gap < 2.0

    receiver.script = [(429, {"Retry-After": "1"}), (204, {})]
    strict = RemoteWriter(receiver.url, retry_on_http_429=False)
    assert not strict.write(ONE).ok and len(receiver.received) == 3
    assert strict.stats().samples_retried == 0


def test_retries_are_bounded_in_count_and_in_time(receiver: ScriptedReceiver) -> None:
    receiver.script = [(503, {})]
    counted = RemoteWriter(receiver.url, max_retries=3, min_backoff_seconds=0.01)
    assert not counted.write(ONE).ok and len(receiver.received) == 4
    assert counted.stats().samples_retried == 3 and counted.stats().batches_dropped == 1

    # A Retry-After beyond the retry budget is not waited for.
    receiver.script = [(503, {"Retry-After": "3600"})]
    timed = RemoteWriter(receiver.url, max_retry_seconds=2)
    started = time.monotonic()
    assert not timed.write(ONE).ok
    assert time.monotonic() - started < 1 and len(receiver.received) == 5
    assert "retry time" in timed.stats().last_error


def test_network_errors_are_retried_then_dropped() -> None:
    port = free_port()  # nothing listens there: connection refused
    writer = RemoteWriter(
        f"http://127.0.0.1:{port}/api/v1/write", max_retries=2, min_backoff_seconds=0.01
    )

    result = writer.write(ONE)

    assert not result.ok
    stats = writer.stats()
    assert (stats.requests, stats.samples_retried, stats.batches_dropped) == (3, 2, 1)
    assert "network error" in stats.last_error


def test_close_interrupts_a_backoff_wait(receiver: ScriptedReceiver) -> None:
    receiver.script = [(503, {"Retry-After": "30"})]
    writer = RemoteWriter(receiver.url, max_retry_seconds=60)
    timer = threading.Timer(0.2, writer.close)
    timer.start()
    started = time.monotonic()
    try:
        result = writer.write(ONE)
    finally:
        timer.cancel()
    assert not result.ok and time.monotonic() - started < 2
    assert "closed" in writer.stats().last_error


# --- TLS ----------------------------------------------------------------------------------------


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[str, Path, list[bytes]]]:
    """An HTTPS loopback receiver with a throwaway CA-signed certificate made by openssl."""
    import ssl

    openssl = need_tool("openssl")
    ca_key, ca_crt = tmp_path / "ca.key", tmp_path / "ca.crt"
    key, csr, crt = tmp_path / "srv.key", tmp_path / "srv.csr", tmp_path / "srv.crt"
    ext = tmp_path / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    for argv in (
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Test CA",
            "-keyout",
            ca_key,
            "-out",
            ca_crt,
        ],
        [
            openssl,
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            key,
            "-out",
            csr,
        ],
        [
            openssl,
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca_crt,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            ext,
            "-out",
            crt,
        ],
    ):
        subprocess.run([str(a) for a in argv], check=True, capture_output=True, timeout=30)
    bodies: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/api/v1/write", ca_crt, bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_tls_is_verified_against_the_configured_ca_bundle(
    tls_receiver: tuple[str, Path, list[bytes]],
) -> None:
    url, ca, bodies = tls_receiver

    trusted = RemoteWriter(url, ca_bundle=str(ca))
    untrusted = RemoteWriter(url, min_backoff_seconds=0.01)  # system CAs only

    assert trusted.write(ONE).ok and len(bodies) == 1
    assert not untrusted.write(ONE).ok
    stats = untrusted.stats()
    # An untrusted certificate is a configuration error: retrying cannot fix it.
    assert stats.requests == 1 and stats.samples_retried == 0
    assert "TLS verification failed" in stats.last_error
    assert len(bodies) == 1
    unverified = RemoteWriter(url, verify_tls=False)
    assert unverified.write(ONE).ok and len(bodies) == 2


def test_timestamps_sent_are_the_snapshot_time(prometheus: TsdbServer) -> None:
    # A snapshot taken 10 minutes ago lands at that time, not at the time of sending.
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    host = "mairie-past"
    report = make_report(host, when, score=41.0)
    writer = RemoteWriter(prometheus.write_url)

    assert writer.write_families(
        report_metrics(report, {"commune": "01005", "host": host}), when
    ).ok

    at_snapshot = prometheus.query(f'sentinelle_host_risk_score{{host="{host}"}}', when.timestamp())
    assert [float(r["value"][1]) for r in at_snapshot] == [41.0]
    before = prometheus.query(f'sentinelle_host_risk_score{{host="{host}"}}', when.timestamp() - 1)
    assert before == []
