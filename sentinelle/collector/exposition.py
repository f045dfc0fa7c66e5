"""Prometheus text format for the fleet: per-host blocks rendered once, joined per scrape.

prometheus_client renders every sample at every scrape, which is too slow for thousands of
hosts; here each host's samples are rendered when its Report changes and a scrape only
concatenates them, family by family.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.core import Metric


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value)}"
    return repr(float(value))


def sample_line(name: str, labels: Mapping[str, str], value: float) -> str:
    if labels:
        inner = ",".join(f'{k}="{escape_label(str(v))}"' for k, v in labels.items())
        return f"{name}{{{inner}}} {format_value(value)}\n"
    return f"{name} {format_value(value)}\n"


@dataclass(frozen=True)
class FamilyHeader:
    """HELP and TYPE of one exposed family."""

    name: str
    type: str
    help: str

    def text(self) -> str:
        help_text = self.help.replace("\\", "\\\\").replace("\n", "\\n")
        return f"# HELP {self.name} {help_text}\n# TYPE {self.name} {self.type}\n"


Block = dict[str, str]  # exposed family name -> its sample lines for one host


def render_block(families: Iterable[Metric], headers: dict[str, FamilyHeader]) -> Block:
    """Render metric families to per-family text, recording each family's header."""
    block: Block = {}
    for fam in families:
        if fam.type == "info":
            name, kind = fam.name + "_info", "gauge"
        elif fam.type == "counter":
            name, kind = fam.name + "_total", "counter"
        else:
            name, kind = fam.name, fam.type
        if name not in headers:
            headers[name] = FamilyHeader(name, kind, fam.documentation)
        lines = "".join(sample_line(s.name, s.labels, s.value) for s in fam.samples)
        if lines:
            block[name] = block.get(name, "") + lines
    return block


def join_blocks(blocks: Sequence[Block], headers: Mapping[str, FamilyHeader]) -> str:
    """One exposition: each family's header once, then its lines from every block."""
    by_family: dict[str, list[str]] = {}
    for block in blocks:
        for name, lines in block.items():
            by_family.setdefault(name, []).append(lines)
    parts: list[str] = []
    for name, chunks in by_family.items():
        header = headers[name]
        parts.append(header.text())
        parts.extend(chunks)
    return "".join(parts)
