"""ports checks (being written)."""
