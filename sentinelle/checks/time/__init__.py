"""Time family: the clock is kept synchronised (NTP), so that logs from every machine agree.

`windows` holds the family's Windows checks (sentinelle/windows collects and parses).
"""
