"""Checks of the encryption family."""
