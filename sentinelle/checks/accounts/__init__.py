"""Checks of the accounts family."""
