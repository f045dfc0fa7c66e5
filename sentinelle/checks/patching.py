"""patching checks (being written)."""
