"""Send the dashboards to a Grafana server through its HTTP API (library `grafana-client`).

Idempotent: the folder is looked up by uid, then by title, and created only when missing; each
dashboard is saved by its stable uid with `overwrite: true`, so a second push updates the same
dashboards (Grafana bumps their version) and creates nothing. Credentials come from the
environment: `GRAFANA_TOKEN` (a service-account token, sent as a Bearer header), otherwise
`GRAFANA_USER` and `GRAFANA_PASSWORD` (basic authentication).

What it says, done or refused, is in the catalog (rules/messages/cli.yaml, `cli.grafana.*`), in
the language passed as `lang` (by default the reader's, `sentinelle.console.default_lang`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import niquests
from grafana_client.api import GrafanaApi
from grafana_client.client import (
    GrafanaClientError,
    GrafanaException,
    GrafanaUnauthorizedError,
)

from sentinelle import __version__
from sentinelle.cli.registry import say
from sentinelle.dashboards import DEFAULT_FOLDER, DEFAULT_TIMEOUT
from sentinelle.errors import SentinelleError

__all__ = ["DEFAULT_FOLDER", "DEFAULT_TIMEOUT", "GrafanaPushError", "push_dashboards"]

UID_MAX = 40  # Grafana's limit for folder and dashboard uids


class GrafanaPushError(SentinelleError):
    """The dashboards could not be sent to Grafana; the message says why and what to check."""


Credential = str | tuple[str, str]


def credential_from_env(env: Mapping[str, str], lang: str | None = None) -> Credential:
    """GRAFANA_TOKEN, else GRAFANA_USER + GRAFANA_PASSWORD; a clear error when neither is set."""
    token = env.get("GRAFANA_TOKEN", "").strip()
    if token:
        return token
    user, password = env.get("GRAFANA_USER", ""), env.get("GRAFANA_PASSWORD", "")
    if user and password:
        return (user, password)
    raise GrafanaPushError(say("cli.grafana.no_credentials", lang))


def folder_uid_for(title: str) -> str:
    """A stable uid derived from the folder title: 'Sentinelle' → 'sentinelle'."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return (slug or "sentinelle")[:UID_MAX]


def _base_url(url: str, lang: str | None = None) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise GrafanaPushError(say("cli.grafana.bad_url", lang, url=url))
    # grafana-client appends "api" to the path as is: a sub-path needs its trailing slash.
    path = parts.path if parts.path.endswith("/") or not parts.path else parts.path + "/"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


@dataclass(frozen=True)
class PushedDashboard:
    """One dashboard as Grafana saved it."""

    uid: str
    title: str
    version: int
    created: bool
    url: str


@dataclass
class PushResult:
    """What a push did: the folder used (created or not) and each dashboard saved."""

    grafana_version: str
    folder_uid: str
    folder_title: str
    folder_created: bool
    dashboards: list[PushedDashboard] = field(default_factory=list)

    def summary(self, lang: str | None = None) -> str:
        """What the push did, a line for the folder and one for each dashboard."""
        state = say("cli.grafana.created" if self.folder_created else "cli.grafana.existing",
                    lang)
        lines = [say("cli.grafana.folder", lang, version=self.grafana_version,
                     title=self.folder_title, state=state, uid=self.folder_uid)]
        for d in self.dashboards:
            action = say("cli.grafana.created" if d.created else "cli.grafana.updated", lang)
            lines.append(say("cli.grafana.dashboard", lang, title=d.title, state=action,
                             version=d.version, url=d.url))
        return "\n".join(lines)


def _explain(err: GrafanaException, what: str, lang: str | None = None) -> GrafanaPushError:
    if isinstance(err, GrafanaUnauthorizedError):
        return GrafanaPushError(say("cli.grafana.unauthorized", lang, step=what))
    status = err.status_code
    detail = err.message
    if isinstance(err.response, dict):
        detail = str(err.response.get("message", detail))
        if err.response.get("status"):
            detail += f" [{err.response['status']}]"
    if status == 403:
        return GrafanaPushError(say("cli.grafana.forbidden", lang, step=what, detail=detail))
    if status == 0:
        return GrafanaPushError(say("cli.grafana.unreachable", lang, step=what, detail=detail))
    return GrafanaPushError(say("cli.grafana.answered", lang, step=what, status=str(status),
                                detail=detail))


class GrafanaPusher:
    """Pushes dashboards into one folder of one Grafana server."""

    def __init__(self, url: str, credential: Credential, timeout: float = DEFAULT_TIMEOUT,
                 lang: str | None = None) -> None:
        self.lang = lang
        self.url = _base_url(url, lang)
        self.api = GrafanaApi.from_url(self.url, credential=credential, timeout=timeout)

    def _step(self, key: str, **args: object) -> str:
        """What was being done, for an error: `cli.grafana.step.KEY`."""
        return say(f"cli.grafana.step.{key}", self.lang, **args)

    def _unreachable(self, what: str, err: Exception) -> GrafanaPushError:
        return GrafanaPushError(say("cli.grafana.unreachable_at", self.lang, step=what,
                                    url=self.url, detail=str(err)))

    def _call(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except GrafanaException as err:
            raise _explain(err, what, self.lang) from err
        except niquests.exceptions.RequestException as err:
            raise self._unreachable(what, err) from err

    def _get_or_none(self, what: str, call: Any, *args: Any) -> Any:
        """The object, or None when Grafana answers 404 (not found)."""
        try:
            return call(*args)
        except GrafanaClientError as err:
            if err.status_code == 404:
                return None
            raise _explain(err, what, self.lang) from err
        except GrafanaException as err:
            raise _explain(err, what, self.lang) from err
        except niquests.exceptions.RequestException as err:
            raise self._unreachable(what, err) from err

    def server_version(self) -> str:
        """Grafana's version, which also proves the credentials work.

        grafana-client's health check reads `buildInfo` from GET /api/frontend/settings, an
        endpoint that needs a signed-in user: a wrong token fails here, before any change.
        """
        info = self._call(self._step("connect"), self.api.health.check)
        if not isinstance(info, dict):
            raise GrafanaPushError(say("cli.grafana.not_grafana", self.lang, url=self.url,
                                       answer=repr(info)))
        return str(info.get("version", "?"))

    def ensure_folder(self, title: str) -> tuple[str, bool]:
        """The folder's uid, and whether it had to be created."""
        uid = folder_uid_for(title)
        found = self._get_or_none(self._step("read_folder"), self.api.folder.get_folder, uid)
        if found is not None:
            return str(found["uid"]), False
        # A folder with this title but another uid (made by hand in Grafana) is reused.
        folders = self._call(self._step("list_folders"), self.api.folder.get_all_folders)
        for folder in folders or []:
            if folder.get("title") == title:
                return str(folder["uid"]), False
        created = self._call(self._step("create_folder"), self.api.folder.create_folder, title,
                             uid=uid)
        return str(created["uid"]), True

    def push_one(self, dashboard: Mapping[str, Any], folder_uid: str) -> PushedDashboard:
        uid = str(dashboard["uid"])
        title = str(dashboard.get("title", uid))
        existing = self._get_or_none(self._step("read_dashboard", uid=uid),
                                     self.api.dashboard.get_dashboard, uid)
        body = dict(dashboard)
        # id null: Grafana finds the dashboard by its uid; version is Grafana's to manage.
        body["id"] = None
        body.pop("version", None)
        answer = self._call(self._step("save_dashboard", title=title),
                            self.api.dashboard.update_dashboard, {
                                "dashboard": body,
                                "folderUid": folder_uid,
                                "overwrite": True,
                                "message": f"sentinelle dashboards push ({__version__})",
                            })
        return PushedDashboard(uid=str(answer.get("uid", uid)), title=title,
                               version=int(answer.get("version", 0)), created=existing is None,
                               url=str(answer.get("url", "")))

    def push(self, dashboards: Sequence[Mapping[str, Any]],
             folder: str = DEFAULT_FOLDER) -> PushResult:
        version = self.server_version()
        folder_uid, created = self.ensure_folder(folder)
        result = PushResult(version, folder_uid, folder, created)
        for dashboard in dashboards:
            result.dashboards.append(self.push_one(dashboard, folder_uid))
        return result


def push_dashboards(url: str, dashboards: Sequence[Mapping[str, Any]], *,
                    folder: str = DEFAULT_FOLDER, env: Mapping[str, str],
                    timeout: float = DEFAULT_TIMEOUT, lang: str | None = None) -> PushResult:
    """Create the folder if needed, then create or update every dashboard in it; errors say
    why in `lang` (by default the reader's)."""
    return GrafanaPusher(url, credential_from_env(env, lang), timeout, lang).push(dashboards,
                                                                                  folder)
