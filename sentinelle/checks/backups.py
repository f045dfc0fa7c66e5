"""backups checks (being written)."""
