"""Checks of the antivirus family."""
