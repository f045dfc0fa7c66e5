"""Built-in checks, one package per family (`<family>/checks.py` holds its registered checks).

Importing this package registers them; scapy is never imported here.
"""

import sentinelle.checks.backups.checks
import sentinelle.checks.certificates.checks
import sentinelle.checks.encryption.checks
import sentinelle.checks.hardening.checks
import sentinelle.checks.patching.checks
import sentinelle.checks.ports.checks
import sentinelle.checks.remote_access.checks
import sentinelle.checks.removable_media.checks
import sentinelle.checks.services.checks
import sentinelle.checks.sharing.checks  # noqa: F401
