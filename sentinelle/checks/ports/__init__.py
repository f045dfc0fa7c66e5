"""Exposed ports: listening sockets, risky services, what a network scan reaches.

`checks` holds the registered checks; inventory, risky and scan are its helpers.
"""
