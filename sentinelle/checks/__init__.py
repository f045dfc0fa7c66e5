"""Built-in checks, one package per family (`<family>/checks.py` holds its registered checks).

Importing this package registers them; scapy is never imported here.
"""

import sentinelle.checks.backups.checks
import sentinelle.checks.lan.checks
import sentinelle.checks.patching.checks
import sentinelle.checks.ports.checks  # noqa: F401
