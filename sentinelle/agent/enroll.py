"""`sentinelle agent enroll`: exchange a commune's enrollment token for this agent's credentials.

The collector answers with an agent id and a key it generated (docs/api.md); the agent keeps them
in `<state_dir>/credentials.json`, mode 0600, and authenticates every push with them. TLS is
always verified (a private CA is given with `ca_bundle`); plain http is refused except to a
loopback address, where nothing crosses a network (demo, tests).

One step for the technician of a packaged agent (docs/agent.md): run as root, enroll writes the
credentials owned by the user that owns the state directory (the service user `sentinelle`),
restarts the running service so that it pushes its first Report at once, and says so.

What it says, and why an enrollment or a credentials file failed, are catalog entries
(rules/messages/cli.yaml, `cli.enroll.…`): an error keeps its message id and arguments and is
rendered when shown, in its `lang` (the command's) or else the reader's, so the daemon, which
only logs a broken credentials file, renders nothing until then. The words of others (the
collector's answer, the system's and OpenSSL's reasons) are shown as they are.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import logging
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentinelle import __version__
from sentinelle.errors import SentinelleError

log = logging.getLogger("sentinelle.agent.enroll")
# Windows has neither O_NOFOLLOW nor text-free reads by default (O_BINARY keeps bytes as
# they are there).
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
BINARY = getattr(os, "O_BINARY", 0)

CREDENTIALS_FILE = "credentials.json"
SERVICE_UNIT = "sentinelle-agent.service"  # the packaged service (packaging/)
ENROLL_PATH = "/api/v1/enroll"
HOST_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")  # what the collector accepts
MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = f"sentinelle-agent/{__version__}"


class SaidError(SentinelleError):
    """An error whose message is a catalog entry: its id and arguments, rendered when shown.

    An argument that is itself a SaidError (why credentials are invalid, say) is rendered in
    the same language as the message around it."""

    def __init__(self, msg_id: str, /, **args: object) -> None:
        super().__init__(msg_id)
        self.message_id = msg_id
        self.message_args: Mapping[str, object] = args
        self.lang: str | None = None  # None: the reader's (sentinelle.console.default_lang)

    def render(self, lang: str | None = None) -> str:
        from sentinelle.cli.registry import say

        lang = lang or self.lang
        args = {k: v.render(lang) if isinstance(v, SaidError) else v
                for k, v in self.message_args.items()}
        return say(self.message_id, lang, **args)

    def __str__(self) -> str:
        return self.render()

    def __reduce__(self) -> Any:
        return (_restore, (type(self), self.args, dict(self.__dict__)))


def _restore(cls: type[SaidError], args: tuple[Any, ...], state: dict[str, Any]) -> SaidError:
    err = cls.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


class EnrollmentError(SaidError):
    """Enrollment did not give this agent credentials; the message says why and what to do."""


class InsecureCollectorURL(EnrollmentError):
    """The collector URL is not https (and not a loopback address)."""


class EnrollmentRefused(EnrollmentError):
    """The collector refused the token or the request."""

    def __init__(self, status: int, msg_id: str, /, **args: object) -> None:
        super().__init__(msg_id, **args)
        self.status = status


class CollectorUnreachable(EnrollmentError):
    """No answer from the collector: network, DNS, TLS or a server error."""


class CredentialsError(SaidError):
    """credentials.json exists but cannot be used."""


class CABundleError(SaidError):
    """The CA bundle given for a private collector certificate cannot be loaded."""


class _Unusable(SaidError):
    """Why a JSON document is not the credentials it should be (the detail of another error)."""


@dataclass(frozen=True)
class Credentials:
    """What enrollment gave this agent; the key is never shown in reprs or logs."""

    collector_url: str
    agent_id: str
    key: str = field(repr=False)
    commune: str
    host: str

    def authorization(self) -> str:
        """The Authorization header value of every push."""
        return f"Bearer {self.agent_id}:{self.key}"

    def to_dict(self) -> dict[str, str]:
        return {
            "collector_url": self.collector_url,
            "agent_id": self.agent_id,
            "key": self.key,
            "commune": self.commune,
            "host": self.host,
        }


def credentials_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / CREDENTIALS_FILE


def check_collector_url(url: str) -> str:
    """The normalized base URL; InsecureCollectorURL unless https, or http to a loopback host."""
    parts = urllib.parse.urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise InsecureCollectorURL("cli.enroll.bad_url", url=url)
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InsecureCollectorURL("cli.enroll.url_extras", url=url)
    if scheme == "http" and not is_loopback(parts.hostname):
        raise InsecureCollectorURL("cli.enroll.plain_http", url=url)
    return urllib.parse.urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def ssl_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """A verifying client context: the system CAs, or only `ca_bundle` when given."""
    try:
        ctx = ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise CABundleError("cli.enroll.bad_ca_bundle", path=str(ca_bundle),
                            detail=str(exc)) from exc
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answered as errors: a POST turned into a GET, or the bearer key sent to
    another host, would be worse than a clear failure."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def build_opener(ca_bundle: str | None = None) -> urllib.request.OpenerDirector:
    """The agent's HTTP client: verified TLS, no redirects, the environment's proxy if any."""
    return urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ssl_context(ca_bundle)), _NoRedirect()
    )


def read_problem(err: urllib.error.HTTPError) -> str:
    """The `detail` (or `title`) of an RFC 9457 problem answer, else the start of the body."""
    try:
        raw = err.read(MAX_ANSWER_BYTES)
    except (OSError, ValueError):
        return err.reason if isinstance(err.reason, str) else ""
    try:
        data = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace").strip()[:300]
    if isinstance(data, dict):
        for key in ("detail", "title"):
            if isinstance(data.get(key), str) and data[key]:
                return str(data[key])[:500]
    return raw.decode("utf-8", "replace").strip()[:300]


def default_hostname() -> str:
    """This machine's short host name, in the characters the collector accepts."""
    name = socket.gethostname().split(".", 1)[0]
    name = re.sub(r"[^A-Za-z0-9._-]", "-", name).strip("-._")[:63]
    return name or "host"


def enroll(
    collector_url: str,
    token: str,
    hostname: str,
    state_dir: str | Path,
    ca_bundle: str | None = None,
    timeout: float = 30,
    replace: bool = False,
    lang: str | None = None,
) -> Credentials:
    """Enroll with the collector and store the credentials (0600); returns them.

    Refuses to replace existing credentials unless `replace`: enrolling twice registers a second
    agent for the same machine at the collector. What it prints, and its errors, are in `lang`
    (None: the reader's language)."""
    try:
        return _enroll(collector_url, token, hostname, state_dir, ca_bundle, timeout, replace,
                       lang)
    except SaidError as exc:
        if exc.lang is None:
            exc.lang = lang
        raise


def _enroll(collector_url: str, token: str, hostname: str, state_dir: str | Path,
            ca_bundle: str | None, timeout: float, replace: bool,
            lang: str | None) -> Credentials:
    base = check_collector_url(collector_url)
    if not HOST_LABEL.match(hostname):
        raise EnrollmentError("cli.enroll.bad_hostname", hostname=hostname)
    token = token.strip()
    if not token:
        raise EnrollmentError("cli.enroll.empty_token")
    path = credentials_path(state_dir)
    if not replace:
        existing = load_credentials(state_dir)
        if existing is not None:
            raise EnrollmentError("cli.enroll.already_enrolled", agent_id=existing.agent_id,
                                  url=existing.collector_url, path=str(path))
    body = json.dumps({"token": token, "hostname": hostname}).encode()
    request = urllib.request.Request(
        base + ENROLL_PATH,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        },
    )
    try:
        with build_opener(ca_bundle).open(request, timeout=timeout) as response:
            status = int(response.status)
            raw = response.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as err:
        raise _refusal(base, err) from None
    except urllib.error.URLError as err:
        raise _unreachable(base, err.reason, ca_bundle) from None
    except (OSError, http.client.HTTPException, ValueError) as err:  # timeouts, resets
        raise _unreachable(base, err, ca_bundle) from None
    if status != 201:
        raise CollectorUnreachable("cli.enroll.unexpected_status", url=base, status=str(status))
    creds = _parse_answer(base, raw)
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    owner = service_owner(state_dir)
    write_credentials(path, json.dumps(creds.to_dict(), indent=2).encode() + b"\n", owner)
    log.info(
        "enrolled with %s as agent %s (commune %s, host %s)",
        base,
        creds.agent_id,
        creds.commune,
        creds.host,
    )
    if owner is not None:
        for line in hand_over_to_service(path, owner, creds, lang):
            print(line)
    return creds


def service_owner(state_dir: str | Path) -> tuple[int, int] | None:
    """(uid, gid) of the state directory when root enrolls for another user's agent (the
    packaged service's), else None: the credentials then belong to whoever enrolls. On
    Windows, None: the directory's ACL (docs/windows.md) says who reads them."""
    if sys.platform == "win32":
        return None
    if os.geteuid() != 0:
        return None
    try:
        st = os.stat(state_dir)
    except OSError:
        return None
    return (st.st_uid, st.st_gid) if st.st_uid != 0 else None


def write_credentials(path: Path, data: bytes, owner: tuple[int, int] | None) -> None:
    """Write the credentials atomically, mode 0600, owned by `owner` before they appear.

    The running agent re-reads credentials.json when it changes: it must never see a version it
    cannot read, so the ownership is set on the temporary file, before the rename.
    """
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | BINARY, 0o600)
    try:
        try:
            if owner is not None and sys.platform != "win32":
                os.fchown(fd, *owner)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    from sentinelle.agent.spool import fsync_dir

    fsync_dir(path.parent)


def hand_over_to_service(path: Path, owner: tuple[int, int], creds: Credentials,
                         lang: str | None = None) -> list[str]:
    """Restart the packaged service if it runs (its next cycle would be up to an hour away) and
    say what happens next, in `lang` (None: the reader's language)."""
    from sentinelle.cli.registry import say

    user = str(owner[0])
    if sys.platform != "win32":
        import pwd

        with contextlib.suppress(KeyError):
            user = pwd.getpwuid(owner[0]).pw_name
    lines = [say("cli.enroll.handed_over", lang, user=user, path=str(path))]
    where = {"unit": SERVICE_UNIT, "url": creds.collector_url}
    systemctl = shutil.which("systemctl")
    if systemctl is None or not os.path.isdir("/run/systemd/system"):
        lines.append(say("cli.enroll.no_systemd", lang, **where))
        return lines
    active = _systemctl(systemctl, "is-active", "--quiet", SERVICE_UNIT)
    if active.returncode != 0:
        lines.append(say("cli.enroll.not_running", lang, **where))
        return lines
    restarted = _systemctl(systemctl, "try-restart", SERVICE_UNIT)
    if restarted.returncode != 0:
        detail = restarted.stderr.strip() or say("cli.enroll.no_detail", lang)
        lines.append(say("cli.enroll.not_restarted", lang, detail=detail, **where))
        return lines
    lines.append(say("cli.enroll.restarted", lang, **where))
    return lines


def _systemctl(systemctl: str, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [systemctl, *args], capture_output=True, text=True, timeout=90, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess([systemctl, *args], 1, "", str(exc))


def _refusal(base: str, err: urllib.error.HTTPError) -> EnrollmentError:
    detail = read_problem(err)
    status = err.code
    if status == 401:
        return EnrollmentRefused(401, "cli.enroll.unknown_token", url=base, detail=detail)
    if status == 403:
        return EnrollmentRefused(403, "cli.enroll.spent_token", url=base, detail=detail)
    if status in (400, 413, 415, 422):
        return EnrollmentRefused(status, "cli.enroll.refused", url=base, detail=detail)
    if 300 <= status < 400:
        return CollectorUnreachable("cli.enroll.redirected", url=base, status=str(status),
                                    location=err.headers.get("Location", "?"))
    return CollectorUnreachable("cli.enroll.failed_status", url=base, status=str(status),
                                detail=detail)


def _unreachable(base: str, reason: object, ca_bundle: str | None) -> CollectorUnreachable:
    if isinstance(reason, ssl.SSLCertVerificationError):
        hint = (_Unusable("cli.enroll.untrusted_ca", path=ca_bundle) if ca_bundle
                else _Unusable("cli.enroll.untrusted_hint"))
        return CollectorUnreachable("cli.enroll.untrusted", url=base,
                                    detail=str(reason.verify_message), hint=hint)
    return CollectorUnreachable("cli.enroll.unreachable", url=base, detail=str(reason))


def _parse_answer(base: str, raw: bytes) -> Credentials:
    try:
        data = _json_object(raw)
        return Credentials(
            collector_url=base,
            agent_id=_text(data, "agent_id"),
            key=_text(data, "key"),
            commune=_text(data, "commune"),
            host=_text(data, "host"),
        )
    except _Unusable as why:
        raise EnrollmentError("cli.enroll.unusable_answer", url=base, detail=why) from None


def _json_object(raw: bytes) -> Mapping[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:  # UnicodeDecodeError included
        raise _Unusable("cli.enroll.not_json") from None
    if not isinstance(data, dict):
        raise _Unusable("cli.enroll.not_json")
    return data


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise _Unusable("cli.enroll.bad_field", field=key)
    return value


def load_credentials(state_dir: str | Path) -> Credentials | None:
    """The stored credentials, or None when this agent never enrolled.

    A file readable by group or others is tightened to 0600 (with a warning): the key lets
    anyone push Reports in this town hall's name.
    """
    path = credentials_path(state_dir)
    try:
        # No symlinks: root reads (and may chmod) this file in a directory the service owns.
        fd = os.open(path, os.O_RDONLY | NOFOLLOW | BINARY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        # Windows has no mode bits to tighten (its ACLs are the state directory's).
        if sys.platform != "win32" and mode & 0o077:
            log.warning(
                "%s was readable by others (mode %04o); set to 0600: the key it holds "
                "lets anyone push Reports in this host's name",
                path,
                mode,
            )
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            raw = fh.read(MAX_ANSWER_BYTES)
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    finally:
        os.close(fd)
    try:
        data = _json_object(raw)
        return Credentials(
            collector_url=check_collector_url(_text(data, "collector_url")),
            agent_id=_text(data, "agent_id"),
            key=_text(data, "key"),
            commune=_text(data, "commune"),
            host=_text(data, "host"),
        )
    except (_Unusable, InsecureCollectorURL) as why:
        raise CredentialsError("cli.enroll.credentials_invalid", path=str(path),
                               detail=why) from None


def _unreadable(path: Path, exc: OSError) -> CredentialsError:
    return CredentialsError("cli.enroll.credentials_unreadable", path=str(path),
                            detail=exc.strerror or str(exc))
