"""The few fields of an X.509 certificate this check needs, read from its DER bytes: the
end of validity (notAfter) and the subject's common name.

A small DER reader (ITU-T X.690) instead of a dependency: the agent stays light, and the
stdlib's ssl module decodes a certificate only for a verified peer. RFC 5280 4.1: Certificate
::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber, signature,
issuer, validity SEQUENCE { notBefore, notAfter }, subject, ... }, ... }.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\s*(.+?)\s*-----END CERTIFICATE-----",
                  re.DOTALL)
_CN = bytes([0x55, 0x04, 0x03])  # 2.5.4.3 commonName
_STRING_TAGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1",
                0x1E: "utf-16-be"}


class CertificateError(ValueError):
    """The bytes are not a certificate this reader understands."""


@dataclass(frozen=True)
class Certificate:
    """What the check reports of one certificate."""

    subject: str  # its common name, else its subject's first value
    not_before: datetime
    not_after: datetime
    sha256: str


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """The tag at `pos`, where its value starts and where it ends."""
    if pos + 2 > len(data):
        raise CertificateError("truncated")
    tag = data[pos]
    length = data[pos + 1]
    start = pos + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise CertificateError("bad length")
        length = int.from_bytes(data[start:start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise CertificateError("truncated")
    return tag, start, end


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    pos = start
    while pos < end and len(out) < 64:
        tag, value_start, value_end = _tlv(data, pos)
        out.append((tag, value_start, value_end))
        pos = value_end
    return out


def _time(tag: int, raw: bytes) -> datetime:
    text = raw.decode("ascii", errors="replace")
    try:
        if tag == 0x17:  # UTCTime: YYMMDDHHMMSSZ, 50-99 are 19xx (RFC 5280 4.1.2.5.1)
            when = datetime.strptime(text, "%y%m%d%H%M%SZ")
            if when.year >= 2050:
                when = when.replace(year=when.year - 100)
        elif tag == 0x18:  # GeneralizedTime: YYYYMMDDHHMMSSZ
            when = datetime.strptime(text, "%Y%m%d%H%M%SZ")
        else:
            raise CertificateError(f"time tag {tag:#x}")
    except ValueError as exc:
        raise CertificateError(f"time {text!r}") from exc
    return when.replace(tzinfo=UTC)


def _subject(data: bytes, start: int, end: int) -> str:
    first = ""
    for set_tag, set_start, set_end in _children(data, start, end):
        if set_tag != 0x31:
            continue
        for _, attr_start, attr_end in _children(data, set_start, set_end):
            parts = _children(data, attr_start, attr_end)
            if len(parts) != 2 or parts[0][0] != 0x06:
                continue
            (_, oid_start, oid_end), (value_tag, value_start, value_end) = parts
            codec = _STRING_TAGS.get(value_tag, "latin-1")
            value = data[value_start:value_end].decode(codec, errors="replace")
            if data[oid_start:oid_end] == _CN:
                return value
            first = first or value
    return first


def parse_der(der: bytes) -> Certificate:
    """The certificate's dates and name; CertificateError when `der` is not one."""
    tag, start, _ = _tlv(der, 0)
    if tag != 0x30:
        raise CertificateError("not a SEQUENCE")
    tbs_tag, tbs_start, tbs_end = _tlv(der, start)
    if tbs_tag != 0x30:
        raise CertificateError("no tbsCertificate")
    fields = _children(der, tbs_start, tbs_end)
    if fields and fields[0][0] == 0xA0:  # the explicit version
        fields = fields[1:]
    if len(fields) < 5:
        raise CertificateError("too few fields")
    validity, subject = fields[3], fields[4]
    times = _children(der, validity[1], validity[2])
    if validity[0] != 0x30 or len(times) != 2:
        raise CertificateError("no validity")
    not_before = _time(times[0][0], der[times[0][1]:times[0][2]])
    not_after = _time(times[1][0], der[times[1][1]:times[1][2]])
    return Certificate(_subject(der, subject[1], subject[2]), not_before, not_after,
                       hashlib.sha256(der).hexdigest())


def pem_certificates(data: bytes, limit: int = 512) -> list[bytes]:
    """The DER bytes of each certificate in a PEM file (at most `limit`)."""
    out: list[bytes] = []
    for match in _PEM.finditer(data):
        if len(out) >= limit:
            break
        try:
            out.append(base64.b64decode(b"".join(match.group(1).split()), validate=True))
        except (binascii.Error, ValueError):
            continue
    return out
