"""Remote access: remote-control software (AnyDesk, TeamViewer, RustDesk, VNC...).

`checks` holds the registered check; the list of tools is data (rules/remote_tools.yaml).

`windows` holds the family's Windows checks (sentinelle/windows collects and parses).
"""
