"""Backups: recent, not shrinking, with an offline copy, restore-tested.

`checks` holds the registered checks; listing, reader, directory, restic, borg and restore are
its helpers.
"""
