"""Sentinelle: posture monitoring for small public bodies."""

__version__ = "0.1.0"
