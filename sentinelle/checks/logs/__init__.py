"""Logs family: the system keeps its logs long enough, and audits what matters (auditd).

`windows` holds the family's Windows checks (sentinelle/windows collects and parses).
"""
