"""Built-in checks, one package per family (`<family>/checks.py` holds its registered checks).

Importing this package registers them; scapy is never imported here.
"""

import sentinelle.checks.accounts.checks
import sentinelle.checks.accounts.windows
import sentinelle.checks.antivirus.checks
import sentinelle.checks.antivirus.windows
import sentinelle.checks.backups.checks
import sentinelle.checks.backups.windows
import sentinelle.checks.certificates.checks
import sentinelle.checks.encryption.checks
import sentinelle.checks.encryption.windows
import sentinelle.checks.firewall.checks
import sentinelle.checks.firewall.windows
import sentinelle.checks.hardening.checks
import sentinelle.checks.lan.checks
import sentinelle.checks.logs.checks
import sentinelle.checks.logs.windows
import sentinelle.checks.patching.checks
import sentinelle.checks.patching.windows
import sentinelle.checks.ports.checks
import sentinelle.checks.remote_access.checks
import sentinelle.checks.remote_access.windows
import sentinelle.checks.removable_media.checks
import sentinelle.checks.services.checks
import sentinelle.checks.sharing.checks
import sentinelle.checks.sharing.windows
import sentinelle.checks.ssh.checks
import sentinelle.checks.time.checks
import sentinelle.checks.time.windows
import sentinelle.checks.updates.checks  # noqa: F401
