"""A small local HTTP STAND-IN for a Grafana server (no Grafana can run in this environment).

It implements only the Grafana HTTP API endpoints that `sentinelle dashboards push` reaches
through grafana-client 5.x, answering as Grafana's HTTP API documentation describes
(docs/sources/developers/http_api/{dashboard,folder}.md of grafana/grafana):

- GET  /api/frontend/settings   `buildInfo.version` (grafana-client's `health.check()`); needs
                                a signed-in user, so a wrong token fails here
- GET  /api/health              no authentication
- GET  /api/folders             [{id, uid, title}]
- GET  /api/folders/:uid        the folder, or 404 {"message": "folder not found"}
- POST /api/folders             {title, uid?} → the folder; 409 when the uid or the title exists
- GET  /api/dashboards/uid/:uid {"dashboard": …, "meta": {folderUid, url, version…}} or 404
- POST /api/dashboards/db       {dashboard, folderUid, overwrite, message} → {id, uid, url,
                                status, version, slug}; 400 for an unknown folder or an empty
                                title; 412 `version-mismatch` when the dashboard changed since
                                the version sent, 412 `name-exists` when the uid exists and the
                                request does not say `overwrite: true`
- 401 for a missing or wrong credential (Bearer token or basic), 403 when a Viewer writes.

It records every request (method, path, Authorization header) so tests can assert what the
client sent.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

VERSION = "11.6.0"


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str | None


@dataclass
class GrafanaState:
    """What the stand-in Grafana holds: credentials, folders, dashboards, and a request log."""

    tokens: dict[str, str] = field(default_factory=dict)  # token → role (Admin/Editor/Viewer)
    users: dict[tuple[str, str], str] = field(default_factory=dict)  # (user, password) → role
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing -------------------------------------------------------------------------

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _role(self) -> str | None:
        header = self.headers.get("Authorization", "")
        state = self.server.state
        if header.startswith("Bearer "):
            return state.tokens.get(header.removeprefix("Bearer "))
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return state.users.get((user, password))
        return None

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path
        prefix = self.server.prefix
        state = self.server.state
        with self.server.lock:
            state.requests.append(Recorded(method, path, self.headers.get("Authorization")))
        if not path.startswith(prefix + "/api/"):
            self._send(404, {"message": "Not found"})
            return
        path = path[len(prefix) + len("/api"):]
        if method == "GET" and path == "/health":
            self._send(200, {"commit": "stand-in", "database": "ok", "version": VERSION})
            return
        role = self._role()
        if role is None:
            header = self.headers.get("Authorization", "")
            message = ("Invalid API key" if header.startswith("Bearer ")
                       else "Invalid username or password" if header else "Unauthorized")
            self._send(401, {"message": message, "statusCode": 401})
            return
        body: dict[str, Any] = {}
        if method == "POST":
            length = int(self.headers.get("Content-Length", "0"))
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._send(400, {"message": "bad request data"})
                return
            if role == "Viewer":
                self._send(403, {"message": "Access denied"})
                return
        with self.server.lock:
            status, answer = self._dispatch(method, path, body)
        self._send(status, answer)

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    # -- the API --------------------------------------------------------------------------

    def _dispatch(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, object]:
        state = self.server.state
        if method == "GET" and path == "/frontend/settings":
            return 200, {"buildInfo": {"version": VERSION, "commit": "stand-in",
                                       "edition": "Open Source", "env": "production"}}
        if method == "GET" and path == "/folders":
            return 200, [{"id": f["id"], "uid": f["uid"], "title": f["title"]}
                         for f in state.folders.values()]
        m = re.fullmatch(r"/folders/([^/]+)", path)
        if method == "GET" and m:
            folder = state.folders.get(m.group(1))
            if folder is None:
                return 404, {"message": "folder not found", "status": "not-found"}
            return 200, folder
        if method == "POST" and path == "/folders":
            return self._create_folder(body)
        m = re.fullmatch(r"/dashboards/uid/([^/]+)", path)
        if method == "GET" and m:
            stored = state.dashboards.get(m.group(1))
            if stored is None:
                return 404, {"message": "Dashboard not found"}
            return 200, {"dashboard": stored["dashboard"], "meta": stored["meta"]}
        if method == "POST" and path == "/dashboards/db":
            return self._save_dashboard(body)
        return 404, {"message": "Not found"}

    def _create_folder(self, body: dict[str, Any]) -> tuple[int, object]:
        state = self.server.state
        title = str(body.get("title") or "")
        if not title:
            return 400, {"message": "folder title cannot be empty"}
        uid = str(body.get("uid") or f"f{state.next_id:09d}")
        if len(uid) > 40:
            return 400, {"message": "uid too long, max 40 characters"}
        if uid in state.folders:
            return 409, {"message": "a folder with the same uid already exists"}
        if any(f["title"] == title for f in state.folders.values()):
            return 409, {"message": "a folder or dashboard in the general folder with the same "
                                    "name already exists"}
        folder = {"id": state.new_id(), "uid": uid, "title": title,
                  "url": f"/dashboards/f/{uid}/{slugify(title)}", "hasAcl": False,
                  "canSave": True, "canEdit": True, "canAdmin": True, "version": 1}
        state.folders[uid] = folder
        return 200, folder

    def _save_dashboard(self, body: dict[str, Any]) -> tuple[int, object]:
        state = self.server.state
        dashboard = body.get("dashboard")
        if not isinstance(dashboard, dict):
            return 400, {"message": "bad request data"}
        title = str(dashboard.get("title") or "").strip()
        if not title:
            return 400, {"message": "Dashboard title cannot be empty"}
        folder_uid = str(body.get("folderUid") or "")
        if folder_uid and folder_uid not in state.folders:
            return 400, {"message": "folder not found"}
        uid = str(dashboard.get("uid") or f"d{state.next_id:09d}")
        if len(uid) > 40:
            return 400, {"message": "uid too long, max 40 characters"}
        overwrite = bool(body.get("overwrite"))
        existing = state.dashboards.get(uid)
        if existing is not None and not overwrite:
            if dashboard.get("id") is None:
                return 412, {"message": "A dashboard with the same uid already exists",
                             "status": "name-exists"}
            if dashboard.get("version") != existing["dashboard"]["version"]:
                return 412, {"message": "The dashboard has been changed by someone else",
                             "status": "version-mismatch"}
        for other_uid, other in state.dashboards.items():
            if (other_uid != uid and other["meta"]["folderUid"] == folder_uid
                    and other["dashboard"]["title"] == title and not overwrite):
                return 412, {"message": "A dashboard with the same name in the folder already "
                                        "exists", "status": "name-exists"}
        version = existing["dashboard"]["version"] + 1 if existing else 1
        dash_id = existing["dashboard"]["id"] if existing else state.new_id()
        saved = dict(dashboard, id=dash_id, uid=uid, version=version)
        slug = slugify(title)
        meta = {"folderUid": folder_uid,
                "folderId": state.folders[folder_uid]["id"] if folder_uid else 0,
                "folderTitle": state.folders[folder_uid]["title"] if folder_uid else "General",
                "url": f"/d/{uid}/{slug}", "slug": slug, "version": version,
                "message": body.get("message", "")}
        state.dashboards[uid] = {"dashboard": saved, "meta": meta}
        return 200, {"id": dash_id, "uid": uid, "url": f"/d/{uid}/{slug}", "status": "success",
                     "version": version, "slug": slug, "folderUid": folder_uid}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: GrafanaState, prefix: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.prefix = prefix.rstrip("/")
        self.lock = threading.Lock()


class GrafanaStandIn:
    """Run the stand-in on 127.0.0.1 in a thread: `with GrafanaStandIn() as grafana: …`."""

    def __init__(self, state: GrafanaState | None = None, prefix: str = "") -> None:
        self.state = state or GrafanaState(tokens={"glsa_editor": "Editor"})
        self._server = _Server(self.state, prefix)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}{prefix}"
        # A short poll interval keeps shutdown (and so each test) fast.
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> GrafanaStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def writes(self) -> list[Recorded]:
        return [r for r in self.state.requests if r.method != "GET"]
