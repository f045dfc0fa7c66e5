"""Time family: the clock is kept synchronised (NTP), so that logs from every machine agree."""
