"""`sentinelle collector …`: serve, and manage communes, enrollment tokens and agents.

What the management commands print is catalog text (rules/messages/cli.yaml, `cli.collector.…`)
in the reader's language (SENTINELLE_LANG, LC_ALL or LANG; French by default); codes, ids,
names and times are shown as they are. `token create` prints the secret alone on stdout, and
what it made on stderr, so that `secret=$(sentinelle collector token create …)` keeps only it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Coroutine
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sentinelle.cli.registry import say
from sentinelle.collector.insee import departement_of, is_valid_insee
from sentinelle.collector.records import Commune, EnrollmentToken
from sentinelle.collector.secrets import digest, new_secret, new_token_id
from sentinelle.collector.settings import CollectorSettings, load_settings
from sentinelle.collector.store import Store, open_store
from sentinelle.errors import ConfigError, SentinelleError, expect

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DURATION = re.compile(r"^(\d+)([hdw])$")


def parse_lifetime(text: str) -> timedelta:
    match = DURATION.match(text)
    if not match:
        raise ConfigError("--expires", "--expires", expect("duration"), text)
    n, unit = int(match.group(1)), match.group(2)
    return {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]


def _store(args: argparse.Namespace) -> Store:
    settings = load_settings(args.config)
    store = open_store(args.store or settings.store)
    store.migrate()
    return store


def _commune_add(store: Store, args: argparse.Namespace) -> int:
    code = args.code.upper()
    if not is_valid_insee(code):
        raise ConfigError("commune add", "code", expect("insee_code"), args.code)
    for email in args.emails:
        if not EMAIL.match(email):
            raise ConfigError("commune add", "--mayor-email", expect("email"), email)
    if args.population is not None and args.population < 0:
        raise ConfigError("commune add", "--population", expect("integer_min", minimum=0),
                          args.population)
    store.upsert_commune(
        Commune(code, args.name, departement_of(code), args.population, tuple(args.emails))
    )
    print(say("cli.collector.commune_saved", code=code, name=args.name))
    return 0


def _need_commune(store: Store, code: str, command: str, key: str) -> Commune:
    """The registered commune `code`, given as `key` (an argument) of `command`."""
    commune = store.get_commune(code.upper())
    if commune is None:
        raise ConfigError(command, key, expect("registered_commune"), code)
    return commune


def _when(moment: datetime | None) -> str:
    """A time in the listings, in UTC to the minute; "never" for none."""
    if moment is None:
        return say("cli.collector.never")
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def run_collector(args: argparse.Namespace) -> int:
    if args.collector_command == "serve":
        return serve_forever(args)
    store = _store(args)
    try:
        return _manage(store, args)
    finally:
        store.close()


def _manage(store: Store, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    cmd = args.collector_command
    if cmd == "device":
        from sentinelle.collector.device_cli import manage_devices

        return manage_devices(store, args, _need_commune(store, args.commune, "device",
                                                         "--commune").code)
    if cmd in ("policy", "waiver"):
        from sentinelle.collector.policy_cli import manage_policy, manage_waivers

        return (manage_policy if cmd == "policy" else manage_waivers)(store, args)
    if cmd == "commune":
        if args.commune_command == "add":
            return _commune_add(store, args)
        if args.commune_command == "list":
            for c in store.list_communes():
                print(say("cli.collector.commune_row" if c.population is not None
                          else "cli.collector.commune_row_unknown", code=c.code,
                          departement=f"{c.departement:<3}", name=c.name,
                          count=len(store.list_agents(c.code)), population=c.population))
            return 0
        commune = _need_commune(store, args.code, "commune show", "code")
        agents = store.list_agents(commune.code)
        print(
            json.dumps(
                {
                    "code": commune.code,
                    "name": commune.name,
                    "departement": commune.departement,
                    "population": commune.population,
                    "mayor_emails": list(commune.mayor_emails),
                    "agents": [
                        {
                            "agent_id": a.agent_id,
                            "host": a.host,
                            "revoked": a.revoked_at is not None,
                            "last_report_at": a.last_report_at.isoformat()
                            if a.last_report_at
                            else None,
                        }
                        for a in agents
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    if cmd == "token":
        if args.token_command == "create":
            commune = _need_commune(store, args.commune, "token create", "--commune")
            if args.uses is not None and args.uses < 1:
                raise ConfigError("token create", "--uses", expect("integer_min", minimum=1),
                                  args.uses)
            secret = new_secret()
            token = EnrollmentToken(
                new_token_id(), commune.code, now, now + parse_lifetime(args.expires), args.uses
            )
            store.add_token(token, digest(secret))
            print(secret)
            created = {"token_id": token.token_id, "code": commune.code, "name": commune.name,
                       "expires": f"{token.expires_at:%Y-%m-%d %H:%M}"}
            if args.uses is None:
                print(say("cli.collector.token_created_unlimited", **created), file=sys.stderr)
            else:
                print(say("cli.collector.token_created", uses=args.uses, **created),
                      file=sys.stderr)
            return 0
        if args.token_command == "list":
            for t in store.list_tokens(args.commune):
                print(say("cli.collector.token_row_revoked" if t.revoked
                          else "cli.collector.token_row", token_id=t.token_id,
                          commune=t.commune, expires=_when(t.expires_at),
                          uses=str(t.uses_left) if t.uses_left is not None else "∞"))
            return 0
        if not store.revoke_token(args.token_id):
            raise ConfigError("token revoke", "token_id", expect("existing_token"), args.token_id)
        print(say("cli.collector.token_revoked", token_id=args.token_id))
        return 0
    if args.agent_command == "list":
        for a in store.list_agents(args.commune):
            state = say("cli.collector.agent_revoked_state" if a.revoked_at
                        else "cli.collector.agent_active")
            print(say("cli.collector.agent_row", agent_id=a.agent_id, commune=a.commune,
                      host=a.host, state=state, last=_when(a.last_report_at)))
        return 0
    if not store.revoke_agent(args.agent_id, now):
        raise ConfigError("agent revoke", "agent_id", expect("active_agent"), args.agent_id)
    print(say("cli.collector.agent_revoked", agent_id=args.agent_id))
    return 0


def serve_forever(args: argparse.Namespace) -> int:
    """Run the collector: `workers` processes, each with its own listening socket on the same
    address (SO_REUSEPORT), share the store."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = load_settings(args.config)
    if args.store:
        settings = replace(settings, store=args.store)
    metrics_dir = None
    if settings.workers > 1:
        # The collector's own counters are summed over the workers at each scrape.
        metrics_dir = tempfile.mkdtemp(prefix="sentinelle-collector-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        from prometheus_client import values

        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    from sentinelle.collector.server import listening_sockets

    sockets = listening_sockets(settings, settings.workers)
    children: list[int] = []
    for n in range(1, settings.workers):
        pid = os.fork()
        if pid == 0:  # a worker: serve until the parent stops it (or disappears)
            code = 1
            try:
                # Only its own socket stays open here: a socket no process accepts on would
                # still receive its share of new connections, which would then hang.
                for other in sockets[:n] + sockets[n + 1 :]:
                    other.close()
                _run_worker(settings, sockets[n], primary=False)
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    for other in sockets[1:]:
        other.close()
    try:
        _run_worker(settings, sockets[0], primary=True)
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _run_worker(settings: CollectorSettings, sock: socket.socket, primary: bool) -> None:
    from sentinelle.collector.server import CollectorService, serve
    from sentinelle.rules import load_rules
    from sentinelle.scoring import ScoringPolicy

    store = open_store(settings.store)
    scoring = ScoringPolicy.from_data(load_rules().scoring)
    service = CollectorService(settings, store, scoring, primary=primary)
    parent = os.getppid()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        def ready(host: str, port: int) -> None:
            if primary:
                scheme = "https" if settings.tls_cert_file else "http"
                logging.getLogger("sentinelle.collector").info(
                    "collector listening on %s://%s:%d (%d worker%s)",
                    scheme,
                    host,
                    port,
                    settings.workers,
                    "s" if settings.workers > 1 else "",
                )

        async def orphan_watch() -> None:
            while os.getppid() == parent:
                await asyncio.sleep(2)
            stop.set()

        watch = None if primary else asyncio.create_task(orphan_watch())
        await serve(service, stop, ready, sock)
        if watch is not None:
            watch.cancel()

    try:
        run_event_loop(main())
    finally:
        store.close()


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run the worker on uvloop when it is installed (the collector extra brings it): its
    libuv loop and C transports take about a third less CPU per request than asyncio's."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


__all__ = ["SentinelleError", "run_collector"]
