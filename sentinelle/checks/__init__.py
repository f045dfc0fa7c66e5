"""Built-in checks. Importing this package registers them; scapy is never imported here."""

from sentinelle.checks import backups, patching, ports  # noqa: F401
