"""Firewall family: is incoming traffic refused unless a rule lets it in (nftables, iptables).

`windows` holds the family's Windows checks (sentinelle/windows collects and parses).
"""
