"""Settings of the monthly report: contacts, smoothing, mail, PDF. Embedded defaults, overridden
by a strict YAML mapping (a separate file, or the `report:` section of the collector's file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sentinelle.collector.settings import CollectorSettings, parse_settings
from sentinelle.errors import ConfigError, expect
from sentinelle.rules import LANGS
from sentinelle.validation import Section, key_line, load_yaml_file, os_reason

PLACEHOLDER = "["  # default contact values start with it: sending warns until they are set

DEFAULT_EMERGENCY: dict[str, tuple[str, ...]] = {
    "fr": (
        "Débranchez du réseau l'ordinateur ou le serveur touché (câble ou Wi-Fi), sans l'éteindre.",
        "Appelez le SOC du syndicat au numéro ci-dessus, à toute heure.",
        "Ne payez aucune rançon et n'effacez rien : les traces servent à l'enquête.",
        "Signalez l'attaque sur 17Cyber (17cyber.gouv.fr) et déposez plainte ; le syndicat "
        "prévient le CERT-FR, l'équipe de l'ANSSI qui aide les administrations.",
        "Si des données personnelles sont touchées, la CNIL doit être prévenue sous 72 heures.",
    ),
    "en": (
        "Unplug the affected computer or server from the network (cable or Wi-Fi), without "
        "turning it off.",
        "Call the syndicate's SOC on the number above, at any hour.",
        "Pay no ransom and delete nothing: the traces are needed for the investigation.",
        "Report the attack on 17Cyber (17cyber.gouv.fr) and file a complaint; the syndicate "
        "alerts CERT-FR, the ANSSI team that helps public bodies.",
        "If personal data are affected, the CNIL (data-protection authority) must be told "
        "within 72 hours.",
    ),
}
SECURITY_MODES = ("starttls", "tls", "none")


@dataclass(frozen=True)
class Contacts:
    """Who the mayor calls: the syndicate's SOC, and the emergency steps."""

    syndicate: str = "[Nom du syndicat]"
    soc_name: str = "SOC du syndicat"
    phone: str = "[numéro du SOC à configurer]"
    email: str = "[adresse du SOC à configurer]"
    hours: dict[str, str] = field(
        default_factory=lambda: {"fr": "24 h sur 24, 7 jours sur 7", "en": "24/7"}
    )
    emergency: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_EMERGENCY))

    def placeholders(self) -> list[str]:
        """Names of the contact fields still at their embedded placeholder."""
        values = {"syndicate": self.syndicate, "phone": self.phone, "email": self.email}
        return [k for k, v in values.items() if v.startswith(PLACEHOLDER)]


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the mail relay."""

    host: str = "localhost"
    port: int = 587
    security: str = "starttls"  # starttls, tls (implicit, usually port 465) or none
    username: str | None = None
    password_file: str | None = None
    timeout_seconds: float = 30.0
    retries: int = 3  # further attempts after a transient failure
    backoff_seconds: float = 5.0  # doubled at each retry
    ca_bundle: str | None = None  # PEM CA of a relay with a private certificate

    def password(self, source: str) -> str | None:
        if self.password_file is None:
            return None
        try:
            return Path(self.password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                source, "mail.smtp.password_file", expect("readable_file"), os_reason(exc)
            ) from exc


@dataclass(frozen=True)
class ReportSettings:
    """Everything the monthly report reads from configuration."""

    source: str = "(embedded defaults)"
    lang: str = "fr"
    timezone: str = "Europe/Paris"
    sender: str = "Sentinelle <sentinelle@localhost>"
    reply_to: str | None = None
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    contacts: Contacts = field(default_factory=Contacts)
    hysteresis_points: float = 2.0
    trend_points: float = 3.0
    partial_days: int = 15
    min_peers: int = 3
    sent_log: str | None = None
    chromium: str | None = None
    pdf_workers: int = 2
    pdf_timeout_seconds: float = 60.0

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _per_lang(sec: Section, name: str, default: dict[str, str]) -> dict[str, str]:
    if not sec.has(name):
        sec.raw(name, None)
        return dict(default)
    sub = sec.section(name)
    texts = {lang: sub.str(lang) for lang in LANGS}
    sub.done()
    return texts


def _contacts(top: Section) -> Contacts:
    d = Contacts()
    sec = top.section("contacts")
    steps = dict(d.emergency)
    if sec.has("emergency"):
        em = sec.section("emergency")
        for lang in LANGS:
            steps[lang] = tuple(em.str_list(lang))
            if not steps[lang]:
                raise em.error(lang, expect("emergency_steps"))
        em.done()
    contacts = Contacts(
        syndicate=sec.str("syndicate", d.syndicate),
        soc_name=sec.str("soc_name", d.soc_name),
        phone=sec.str("phone", d.phone),
        email=sec.str("email", d.email),
        hours=_per_lang(sec, "hours", d.hours),
        emergency=steps,
    )
    sec.done()
    return contacts


def _smtp(mail: Section) -> SmtpSettings:
    d = SmtpSettings()
    sec = mail.section("smtp")
    security = sec.choice("security", SECURITY_MODES, d.security)
    smtp = SmtpSettings(
        host=sec.str("host", d.host),
        port=sec.number("port", 465 if security == "tls" else d.port, 1, 65535, integer=True),
        security=security,
        username=sec.str("username", None),
        password_file=sec.str("password_file", None),
        timeout_seconds=sec.number("timeout_seconds", d.timeout_seconds, minimum=1),
        retries=sec.number("retries", d.retries, minimum=0, maximum=10, integer=True),
        backoff_seconds=sec.number("backoff_seconds", d.backoff_seconds, minimum=0),
        ca_bundle=sec.str("ca_bundle", None),
    )
    sec.done()
    if (smtp.username is None) != (smtp.password_file is None):
        raise mail.error("smtp", expect("both_or_neither", first="username",
                                        second="password_file"))
    return smtp


def parse_report_settings(
    data: Any, source: str, prefix: str = "", line: int | None = None
) -> ReportSettings:
    top = Section(source, prefix, data, line)
    d = ReportSettings()
    mail = top.section("mail")
    sender = mail.str("from", d.sender)
    reply_to = mail.str("reply_to", None)
    smtp = _smtp(mail)
    mail.done()
    smoothing = top.section("smoothing")
    hysteresis = smoothing.number("hysteresis_points", d.hysteresis_points, 0, 20)
    trend = smoothing.number("trend_points", d.trend_points, 0, 50)
    partial = smoothing.number("partial_days", d.partial_days, 1, 28, integer=True)
    smoothing.done()
    pdf = top.section("pdf")
    chromium = pdf.str("chromium", None)
    workers = pdf.number("workers", d.pdf_workers, 1, 16, integer=True)
    pdf_timeout = pdf.number("timeout_seconds", d.pdf_timeout_seconds, minimum=5)
    pdf.done()
    timezone = top.str("timezone", d.timezone)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise top.error("timezone", expect("time_zone"), timezone) from exc
    settings = ReportSettings(
        source=source,
        lang=top.choice("lang", LANGS, d.lang),
        timezone=timezone,
        sender=sender,
        reply_to=reply_to,
        smtp=smtp,
        contacts=_contacts(top),
        hysteresis_points=float(hysteresis),
        trend_points=float(trend),
        partial_days=partial,
        min_peers=top.number("min_peers", d.min_peers, minimum=3, maximum=50, integer=True),
        sent_log=top.str("sent_log", None),
        chromium=chromium,
        pdf_workers=workers,
        pdf_timeout_seconds=float(pdf_timeout),
    )
    top.done()
    return settings


def load_settings(
    collector_config: str | Path | None, report_config: str | Path | None
) -> tuple[CollectorSettings, ReportSettings]:
    """The collector's settings (for the store URL and the silence delay) and the report's.

    The report's come from `report_config` when given, else from a `report:` section of the
    collector's file, else from the embedded defaults.
    """
    collector = CollectorSettings()
    section: Any = None
    if collector_config is not None:
        raw = load_yaml_file(Path(collector_config))
        if isinstance(raw, dict):
            section = raw.get("report")  # parse_settings leaves it to us
        collector = parse_settings(raw, str(collector_config))
    if report_config is not None:
        report = parse_report_settings(
            load_yaml_file(Path(report_config)), str(report_config)
        )
    elif section is not None:
        line = key_line(raw, "report")
        report = parse_report_settings(section, str(collector_config), "report", line)
    else:
        report = ReportSettings()
    return collector, report


def default_sent_log(settings: ReportSettings, store_url: str) -> Path:
    """Where sendings are recorded: the configured file, else beside a SQLite store."""
    if settings.sent_log:
        return Path(settings.sent_log)
    if store_url.startswith("sqlite:///"):
        return Path(store_url.removeprefix("sqlite://")).parent / "monthly-report-sent.json"
    return Path("/var/lib/sentinelle-collector/monthly-report-sent.json")
