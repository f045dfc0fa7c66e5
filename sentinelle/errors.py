"""One error hierarchy, caught only at the CLI boundary."""

from __future__ import annotations


class SentinelleError(Exception):
    """Base of every error Sentinelle raises on purpose."""


class ConfigError(SentinelleError):
    """A configuration or rules file is invalid: names the file, the key and what was expected."""

    def __init__(self, source: str, key: str, expected: str, got: object = None) -> None:
        self.source = source
        self.key = key
        self.expected = expected
        self.got = got
        detail = f"{source}: key '{key}': expected {expected}"
        if got is not None:
            detail += f", got {got!r}"
        super().__init__(detail)


class CommandError(SentinelleError):
    """A command run through the Host failed to start or timed out."""


class CommandNotFound(CommandError):
    """The program is not installed on the inspected host."""


class CommandTimeout(CommandError):
    """The program did not finish within its timeout."""
