"""System hardening that needs code: mandatory access control (AppArmor, SELinux).

The family's one-setting checks are declarative (rules/policies/hardening.yaml); `checks`
holds the Python ones beside them, their metadata in rules/checks/hardening.yaml.
"""
