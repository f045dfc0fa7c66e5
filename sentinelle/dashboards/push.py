"""Send the dashboards to a Grafana server through its HTTP API (library `grafana-client`).

Idempotent: the folder is looked up by uid, then by title, and created only when missing; each
dashboard is saved by its stable uid with `overwrite: true`, so a second push updates the same
dashboards (Grafana bumps their version) and creates nothing. Credentials come from the
environment: `GRAFANA_TOKEN` (a service-account token, sent as a Bearer header), otherwise
`GRAFANA_USER` and `GRAFANA_PASSWORD` (basic authentication).
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
from sentinelle.dashboards import DEFAULT_FOLDER, DEFAULT_TIMEOUT
from sentinelle.errors import SentinelleError

__all__ = ["DEFAULT_FOLDER", "DEFAULT_TIMEOUT", "GrafanaPushError", "push_dashboards"]

UID_MAX = 40  # Grafana's limit for folder and dashboard uids


class GrafanaPushError(SentinelleError):
    """The dashboards could not be sent to Grafana; the message says why and what to check."""


Credential = str | tuple[str, str]


def credential_from_env(env: Mapping[str, str]) -> Credential:
    """GRAFANA_TOKEN, else GRAFANA_USER + GRAFANA_PASSWORD; a clear error when neither is set."""
    token = env.get("GRAFANA_TOKEN", "").strip()
    if token:
        return token
    user, password = env.get("GRAFANA_USER", ""), env.get("GRAFANA_PASSWORD", "")
    if user and password:
        return (user, password)
    raise GrafanaPushError(
        "GRAFANA_TOKEN n'est pas défini : créez un jeton de compte de service dans Grafana "
        "(Administration > Comptes de service, rôle Editor) et exportez-le dans la variable "
        "d'environnement GRAFANA_TOKEN, ou bien définissez GRAFANA_USER et GRAFANA_PASSWORD.")


def folder_uid_for(title: str) -> str:
    """A stable uid derived from the folder title: 'Sentinelle' → 'sentinelle'."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return (slug or "sentinelle")[:UID_MAX]


def _base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise GrafanaPushError(f"adresse de Grafana invalide : {url!r} (attendu http(s)://hôte…)")
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

    def summary(self) -> str:
        lines = [f"Grafana {self.grafana_version} : dossier « {self.folder_title} » "
                 f"({'créé' if self.folder_created else 'existant'}, uid {self.folder_uid})"]
        for d in self.dashboards:
            action = "créé" if d.created else "mis à jour"
            lines.append(f"  {d.title} : {action}, version {d.version} ({d.url})")
        return "\n".join(lines)


def _explain(err: GrafanaException, what: str) -> GrafanaPushError:
    if isinstance(err, GrafanaUnauthorizedError):
        return GrafanaPushError(
            f"{what} : Grafana a refusé l'authentification (401). Vérifiez que GRAFANA_TOKEN "
            "contient un jeton valide, non expiré, de cette instance de Grafana.")
    status = err.status_code
    detail = err.message
    if isinstance(err.response, dict):
        detail = str(err.response.get("message", detail))
        if err.response.get("status"):
            detail += f" [{err.response['status']}]"
    if status == 403:
        return GrafanaPushError(
            f"{what} : accès refusé (403) : le jeton doit avoir le rôle Editor ou Admin "
            f"({detail}).")
    if status == 0:
        return GrafanaPushError(f"{what} : Grafana injoignable ({detail}).")
    return GrafanaPushError(f"{what} : Grafana a répondu {status} : {detail}")


class GrafanaPusher:
    """Pushes dashboards into one folder of one Grafana server."""

    def __init__(self, url: str, credential: Credential, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = _base_url(url)
        self.api = GrafanaApi.from_url(self.url, credential=credential, timeout=timeout)

    def _call(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except GrafanaException as err:
            raise _explain(err, what) from err
        except niquests.exceptions.RequestException as err:
            raise GrafanaPushError(f"{what} : Grafana injoignable à {self.url} ({err}).") from err

    def _get_or_none(self, what: str, call: Any, *args: Any) -> Any:
        """The object, or None when Grafana answers 404 (not found)."""
        try:
            return call(*args)
        except GrafanaClientError as err:
            if err.status_code == 404:
                return None
            raise _explain(err, what) from err
        except GrafanaException as err:
            raise _explain(err, what) from err
        except niquests.exceptions.RequestException as err:
            raise GrafanaPushError(f"{what} : Grafana injoignable à {self.url} ({err}).") from err

    def server_version(self) -> str:
        """Grafana's version, which also proves the credentials work.

        grafana-client's health check reads `buildInfo` from GET /api/frontend/settings, an
        endpoint that needs a signed-in user: a wrong token fails here, before any change.
        """
        info = self._call("connexion à Grafana", self.api.health.check)
        if not isinstance(info, dict):
            raise GrafanaPushError(f"{self.url} ne répond pas comme Grafana : {info!r}")
        return str(info.get("version", "?"))

    def ensure_folder(self, title: str) -> tuple[str, bool]:
        """The folder's uid, and whether it had to be created."""
        uid = folder_uid_for(title)
        found = self._get_or_none("lecture du dossier", self.api.folder.get_folder, uid)
        if found is not None:
            return str(found["uid"]), False
        # A folder with this title but another uid (made by hand in Grafana) is reused.
        folders = self._call("liste des dossiers", self.api.folder.get_all_folders)
        for folder in folders or []:
            if folder.get("title") == title:
                return str(folder["uid"]), False
        created = self._call("création du dossier", self.api.folder.create_folder, title,
                             uid=uid)
        return str(created["uid"]), True

    def push_one(self, dashboard: Mapping[str, Any], folder_uid: str) -> PushedDashboard:
        uid = str(dashboard["uid"])
        title = str(dashboard.get("title", uid))
        existing = self._get_or_none(f"lecture du tableau de bord {uid}",
                                     self.api.dashboard.get_dashboard, uid)
        body = dict(dashboard)
        # id null: Grafana finds the dashboard by its uid; version is Grafana's to manage.
        body["id"] = None
        body.pop("version", None)
        answer = self._call(f"enregistrement du tableau de bord « {title} »",
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
                    timeout: float = DEFAULT_TIMEOUT) -> PushResult:
    """Create the folder if needed, then create or update every dashboard in it."""
    return GrafanaPusher(url, credential_from_env(env), timeout).push(dashboards, folder)
