"""Antivirus family: an engine runs where files are shared, and its signatures are fresh."""
