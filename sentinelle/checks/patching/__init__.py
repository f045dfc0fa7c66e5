"""Patching: pending updates, package lists, pending reboot, last upgrade, end of OS support.

`checks` holds the registered checks; apt, dnf, history, support and versions are its helpers.
"""
