"""Local accounts: UID 0, password hashes, dormant accounts, administrators, password policy.

`checks` holds the registered checks; `files` reads /etc/passwd, /etc/group, /etc/shadow and
login.defs, `logins` the login records (wtmp, lastlog, lastlog2), `sudoers` the sudo rules.

`windows` holds the family's Windows checks (sentinelle/windows collects and parses).
"""
