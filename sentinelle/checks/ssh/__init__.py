"""SSH server: who OpenSSH's sshd lets in, and how.

`checks` holds the registered checks; `sshd` reads the server's effective settings (`sshd -T`
on this machine, the configuration files of a fixture tree or a mounted image).
"""
