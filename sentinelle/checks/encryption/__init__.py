"""Disk encryption: whether the system's data sits on a LUKS volume.

`checks` holds the registered check.

`windows` holds the family's Windows checks (sentinelle/windows collects and parses).
"""
