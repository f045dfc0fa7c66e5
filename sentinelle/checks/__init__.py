"""Built-in checks, one package per family (`<family>/checks.py` holds its registered checks).

Importing this package registers them; scapy is never imported here.
"""

import sentinelle.checks.antivirus.checks
import sentinelle.checks.backups.checks
import sentinelle.checks.firewall.checks
import sentinelle.checks.logs.checks
import sentinelle.checks.patching.checks
import sentinelle.checks.ports.checks
import sentinelle.checks.time.checks
import sentinelle.checks.updates.checks  # noqa: F401
