"""Checks of the logs family."""
