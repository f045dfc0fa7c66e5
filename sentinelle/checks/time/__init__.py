"""Checks of the time family."""
