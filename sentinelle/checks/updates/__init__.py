"""Updates family: security updates install by themselves, from a security source."""
