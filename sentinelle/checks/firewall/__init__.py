"""Checks of the firewall family."""
