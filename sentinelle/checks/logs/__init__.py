"""Logs family: the system keeps its logs long enough, and audits what matters (auditd)."""
