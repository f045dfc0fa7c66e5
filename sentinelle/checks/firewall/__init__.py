"""Firewall family: is incoming traffic refused unless a rule lets it in (nftables, iptables)."""
