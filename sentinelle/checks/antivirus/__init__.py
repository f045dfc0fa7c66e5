"""Antivirus family: an engine runs where files are shared, and its signatures are fresh.

`windows` holds the family's Windows checks (sentinelle/windows collects and parses).
"""
