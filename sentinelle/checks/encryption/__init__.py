"""Disk encryption: whether the system's data sits on a LUKS volume.

`checks` holds the registered check.
"""
