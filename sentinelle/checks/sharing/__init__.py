"""File sharing: Samba's effective configuration as its own `testparm -s -v` prints it.

`checks` holds the registered checks; `samba` runs testparm and reads its output.

`windows` holds the family's Windows checks (sentinelle/windows collects and parses).
"""
