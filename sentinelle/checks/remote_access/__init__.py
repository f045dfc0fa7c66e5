"""Checks of the remote_access family."""
