"""`sentinelle agent enroll`: exchange a commune's enrollment token for this agent's credentials.

The collector answers with an agent id and a key it generated (docs/api.md); the agent keeps them
in `<state_dir>/credentials.json`, mode 0600, and authenticates every push with them. TLS is
always verified (a private CA is given with `ca_bundle`); plain http is refused except to a
loopback address, where nothing crosses a network (demo, tests).

One step for the technician of a packaged agent (docs/agent.md): run as root, enroll writes the
credentials owned by the user that owns the state directory (the service user `sentinelle`),
restarts the running service so that it pushes its first Report at once, and says so.
"""

from __future__ import annotations

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
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentinelle import __version__
from sentinelle.errors import SentinelleError

log = logging.getLogger("sentinelle.agent.enroll")

CREDENTIALS_FILE = "credentials.json"
SERVICE_UNIT = "sentinelle-agent.service"  # the packaged service (packaging/)
ENROLL_PATH = "/api/v1/enroll"
HOST_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")  # what the collector accepts
MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = f"sentinelle-agent/{__version__}"


class EnrollmentError(SentinelleError):
    """Enrollment did not give this agent credentials; the message says why and what to do."""


class InsecureCollectorURL(EnrollmentError):
    """The collector URL is not https (and not a loopback address)."""


class EnrollmentRefused(EnrollmentError):
    """The collector refused the token or the request."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class CollectorUnreachable(EnrollmentError):
    """No answer from the collector: network, DNS, TLS or a server error."""


class CredentialsError(SentinelleError):
    """credentials.json exists but cannot be used."""


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
        raise InsecureCollectorURL(
            f"collector URL {url!r}: expected https://HOST[:PORT][/PATH], "
            "e.g. https://collecteur.example.fr"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InsecureCollectorURL(
            f"collector URL {url!r}: no user, password, query or fragment in the URL"
        )
    if scheme == "http" and not is_loopback(parts.hostname):
        raise InsecureCollectorURL(
            f"collector URL {url!r}: plain http would send the token and the Reports in clear; "
            "use https:// (http is accepted only for 127.0.0.1, ::1 or localhost)"
        )
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
        raise SentinelleError(f"CA bundle {ca_bundle}: cannot be loaded: {exc}") from exc
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
) -> Credentials:
    """Enroll with the collector and store the credentials (0600); returns them.

    Refuses to replace existing credentials unless `replace`: enrolling twice registers a second
    agent for the same machine at the collector.
    """
    base = check_collector_url(collector_url)
    if not HOST_LABEL.match(hostname):
        raise EnrollmentError(
            f"host name {hostname!r}: 1-63 letters, digits, dots, dashes or underscores"
        )
    token = token.strip()
    if not token:
        raise EnrollmentError("empty enrollment token")
    path = credentials_path(state_dir)
    if not replace:
        existing = load_credentials(state_dir)
        if existing is not None:
            raise EnrollmentError(
                f"already enrolled as {existing.agent_id} with {existing.collector_url} "
                f"({path}); enroll again only to replace these credentials (--force)"
            )
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
        raise CollectorUnreachable(
            f"collector {base} answered {status} to enrollment instead of 201; is this URL the "
            "Sentinelle collector?"
        )
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
        for line in hand_over_to_service(path, owner, creds):
            print(line)
    return creds


def service_owner(state_dir: str | Path) -> tuple[int, int] | None:
    """(uid, gid) of the state directory when root enrolls for another user's agent (the
    packaged service's), else None: the credentials then belong to whoever enrolls."""
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
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            if owner is not None:
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
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def hand_over_to_service(path: Path, owner: tuple[int, int], creds: Credentials) -> list[str]:
    """Restart the packaged service if it runs (its next cycle would be up to an hour away) and
    say what happens next."""
    try:
        import pwd

        user = pwd.getpwuid(owner[0]).pw_name
    except (ImportError, KeyError):
        user = str(owner[0])
    lines = [f"credentials handed to the service user {user}: {path} (mode 0600)"]
    systemctl = shutil.which("systemctl")
    if systemctl is None or not os.path.isdir("/run/systemd/system"):
        lines.append(
            f"systemd is not running here: once {SERVICE_UNIT} runs, it pushes its Reports "
            f"to {creds.collector_url} (one per cycle)"
        )
        return lines
    active = _systemctl(systemctl, "is-active", "--quiet", SERVICE_UNIT)
    if active.returncode != 0:
        lines.append(
            f"{SERVICE_UNIT} is not running: start it with `systemctl enable --now "
            f"{SERVICE_UNIT}`; it then pushes a Report to {creds.collector_url} every cycle"
        )
        return lines
    restarted = _systemctl(systemctl, "try-restart", SERVICE_UNIT)
    if restarted.returncode != 0:
        lines.append(
            f"{SERVICE_UNIT} could not be restarted ({restarted.stderr.strip() or 'no message'})"
            f": it pushes to {creds.collector_url} from its next cycle"
        )
        return lines
    lines.append(
        f"{SERVICE_UNIT} restarted: it checks this server and pushes its first Report to "
        f"{creds.collector_url} now, then one every cycle (journalctl -u {SERVICE_UNIT})"
    )
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
        return EnrollmentRefused(
            401,
            f"collector {base} does not know this enrollment token ({detail}); "
            "check it with the syndicate",
        )
    if status == 403:
        return EnrollmentRefused(
            403,
            f"collector {base} refused the enrollment token: expired, used up or revoked "
            f"({detail}); ask the syndicate for a new one",
        )
    if status in (400, 413, 415, 422):
        return EnrollmentRefused(status, f"collector {base} refused the request: {detail}")
    if 300 <= status < 400:
        return CollectorUnreachable(
            f"collector {base} redirects ({status}) to {err.headers.get('Location', '?')}; "
            "give the final https URL"
        )
    return CollectorUnreachable(f"collector {base} answered {status} ({detail}); try again later")


def _unreachable(base: str, reason: object, ca_bundle: str | None) -> CollectorUnreachable:
    if isinstance(reason, ssl.SSLCertVerificationError):
        hint = (
            f"is {ca_bundle} the CA that signed the collector's certificate?"
            if ca_bundle
            else "for a private CA, give its certificate with --ca-bundle"
        )
        return CollectorUnreachable(
            f"collector {base}: TLS certificate not trusted ({reason.verify_message}); {hint}"
        )
    return CollectorUnreachable(f"collector {base} unreachable: {reason}")


def _parse_answer(base: str, raw: bytes) -> Credentials:
    try:
        data = json.loads(raw)
        creds = Credentials(
            collector_url=base,
            agent_id=_text(data, "agent_id"),
            key=_text(data, "key"),
            commune=_text(data, "commune"),
            host=_text(data, "host"),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise EnrollmentError(
            f"collector {base} accepted the enrollment but its answer is unusable ({exc}); "
            "the token may be spent: ask the syndicate"
        ) from None
    return creds


def _text(data: Any, key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise TypeError(f"{key}: expected a non-empty string")
    return value


def load_credentials(state_dir: str | Path) -> Credentials | None:
    """The stored credentials, or None when this agent never enrolled.

    A file readable by group or others is tightened to 0600 (with a warning): the key lets
    anyone push Reports in this town hall's name.
    """
    path = credentials_path(state_dir)
    try:
        # No symlinks: root reads (and may chmod) this file in a directory the service owns.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot be read: {exc}") from exc
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
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
        raise CredentialsError(f"{path}: cannot be read: {exc}") from exc
    finally:
        os.close(fd)
    try:
        data = json.loads(raw)
        return Credentials(
            collector_url=check_collector_url(_text(data, "collector_url")),
            agent_id=_text(data, "agent_id"),
            key=_text(data, "key"),
            commune=_text(data, "commune"),
            host=_text(data, "host"),
        )
    except (ValueError, TypeError, KeyError, EnrollmentError) as exc:
        raise CredentialsError(
            f"{path}: not valid credentials ({exc}); enroll again with "
            "`sentinelle agent enroll --force`"
        ) from None
