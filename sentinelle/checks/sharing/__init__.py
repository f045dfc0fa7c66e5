"""Checks of the sharing family."""
