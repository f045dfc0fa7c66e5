"""How a package tool's failure is told: which command, its exit status, the end of its output.

The check turns it into a catalog message with these as arguments; the tool's own words (the
detail) are quoted as they are, in the tool's language.
"""

from __future__ import annotations

from sentinelle.errors import CommandError


class ToolFailed(CommandError):
    """apt-get or dnf ran and failed."""

    def __init__(self, command: str, returncode: int, detail: str) -> None:
        super().__init__(f"{command} failed (exit {returncode}): {detail}")
        self.command = command
        self.returncode = returncode
        self.detail = detail
