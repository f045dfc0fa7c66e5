"""Removable media: whether a USB storage device plugged in would be usable.

`checks` holds the registered check.
"""
