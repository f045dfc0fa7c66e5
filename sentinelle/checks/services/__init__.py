"""Clear-text network services (telnet, FTP without TLS, rsh, TFTP): installed or listening.

`checks` holds the registered check; `packages` reads the package database and the process
table (shared with remote_access); `catalog` reads rules/cleartext_services.yaml.
"""
