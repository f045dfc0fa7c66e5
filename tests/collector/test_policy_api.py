"""GET /api/v1/policy: each agent gets its own scopes' policy and waivers, with its own key;
an unchanged policy costs a 304; the agent's cache survives a collector outage and a corrupt
cached file is set aside."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sentinelle.agent.enroll import Credentials
from sentinelle.agent.policy import POLICY_FILE, PolicyFetcher, load_cached
from sentinelle.collector import server
from sentinelle.collector.policy import new_waiver
from sentinelle.collector.records import PolicyRecord, WaiverRecord
from sentinelle.errors import ConfigError
from sentinelle.syndicate import ServedPolicyError, parse_served
from tests.collector.harness import auth, request, running_collector

STRICT = json.dumps({"checks": {"backups.freshness": {"max_age_hours": 12}}, "policies": []})


def creds_of(url: str, enrolled: dict[str, str]) -> Credentials:
    return Credentials(url, enrolled["agent_id"], enrolled["key"], "", "")


def test_each_agent_gets_its_scopes_and_a_304_when_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "POLICY_CACHE_SECONDS", 0.0)
    with running_collector(tmp_path) as c:
        c.commune("01001", "Abergement")
        c.commune("01004", "Ambérieu")
        mine, theirs = c.enroll("01001", "srv"), c.enroll("01004", "srv")
        now = datetime.now(UTC)
        c.store.set_policy(PolicyRecord("commune:01001", STRICT, now, "Alice"))
        w = new_waiver("ports.risky_services", f"host:{mine['agent_id']}", "VPN", "Alice",
                       (now + timedelta(days=60)).strftime("%F"), now.date(), "rdp")
        c.store.add_waiver(WaiverRecord(w, now, "Alice"))
        status, body, headers = request(c.url + "/api/v1/policy", headers=auth(mine))
        assert status == 200, body
        served = parse_served(body)
        assert served.scopes == ("commune:01001",)
        assert served.checks == {"backups.freshness": {"max_age_hours": 12}}
        assert [x.id for x in served.waivers] == [w.id]
        assert headers["ETag"] == f'"{served.version}"'
        status, _, _ = request(c.url + "/api/v1/policy",
                               headers={**auth(mine), "If-None-Match": headers["ETag"]})
        assert status == 304
        # The other commune's agent: nothing of 01001's.
        status, other, _ = request(c.url + "/api/v1/policy", headers=auth(theirs))
        assert status == 200 and other["checks"] == {} and other["waivers"] == []
        # Wrong key: 401, nothing served.
        status, _, _ = request(c.url + "/api/v1/policy",
                               headers={"Authorization": f"Bearer {mine['agent_id']}:nope"})
        assert status == 401


def test_the_agent_keeps_the_policy_it_holds_when_the_collector_is_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "POLICY_CACHE_SECONDS", 0.0)
    state = tmp_path / "state"
    state.mkdir()
    with running_collector(tmp_path) as c:
        c.commune("01001", "Abergement")
        enrolled = c.enroll("01001", "srv")
        c.store.set_policy(PolicyRecord("commune:01001", STRICT, datetime.now(UTC), "Alice"))
        creds = creds_of(c.url, enrolled)
        fetcher = PolicyFetcher(state, None, 5)
        first = fetcher.fetch(creds)
        assert first is not None and (state / POLICY_FILE).exists()
        assert fetcher.fetch(creds) == first  # a 304
    # Collector gone; a new agent process (a reboot) reads what is on disk.
    again = PolicyFetcher(state, None, 2)
    assert again.fetch(creds) == first and again.last_error


def test_a_corrupt_or_altered_cached_policy_is_set_aside(tmp_path: Path) -> None:
    (tmp_path / POLICY_FILE).write_text("{not json")
    assert load_cached(tmp_path) is None
    assert (tmp_path / (POLICY_FILE + ".bad")).exists() and not (tmp_path / POLICY_FILE).exists()
    document = {"version": "0123456789abcdef", "checks": {"backups": {"enabled": False}},
                "policies": [], "waivers": [], "scopes": []}
    with pytest.raises(ServedPolicyError, match="does not match"):
        parse_served(document)  # a version that is not the content's: altered


def test_hostile_served_policies_are_refused() -> None:
    base = {"checks": {}, "waivers": [], "scopes": []}
    for bad in ({**base, "policies": [{"name": "../../etc/cron.d/x.yaml", "content": ""}]},
                {**base, "policies": [{"name": "a.yaml", "content": "x" * (300 * 1024)}]},
                {**base, "policies": [], "scopes": ["everything"]},
                {**base, "policies": [], "waivers": [{"id": "w"}]}):
        with pytest.raises(ServedPolicyError):
            parse_served({"version": "0123456789abcdef", **bad})


def test_a_waiver_names_a_known_check_and_ends_within_a_year() -> None:
    today = datetime.now(UTC).date()
    with pytest.raises(ConfigError) as err:
        new_waiver("ports.risky_services", "commune:01001", "r", "Alice", "2099-01-01", today)
    assert err.value.key == "--expires"
    with pytest.raises(ConfigError) as err:
        new_waiver("ports.no_such_check", "commune:01001", "r", "Alice",
                   f"{today.year + 1}-01-01", today, known_checks={"ports.risky_services"})
    assert err.value.key == "--check"
    with pytest.raises(ConfigError):
        new_waiver("ports.risky_services", "commune:1", "r", "Alice",
                   f"{today.year + 1}-01-01", today)


def test_a_broken_policy_file_is_refused_at_the_socs_desk(tmp_path: Path) -> None:
    from sentinelle.collector.policy import read_policy_file
    from sentinelle.rules import load_rules
    from sentinelle.runner import known_params

    (tmp_path / "bad.yaml").write_text(
        "family: syndicat\ncategory: {fr: a, en: b}\nchecks:\n  syndicat.x:\n"
        "    severity: high\n    condition:\n      command: {name: rm, args: ['-rf', '/']}\n")
    scope = tmp_path / "scope.yaml"
    scope.write_text("policies: [bad.yaml]\n")
    with pytest.raises(ConfigError) as err:
        read_policy_file(scope, known_params(load_rules()))
    assert "bad.yaml" in err.value.render("en")
