"""Declarative checks: policies written as data in `rules/policies/*.yaml` (and in the
directories the agent config or the collector's policy names), for the many checks that are a
file, a setting or a command's output. docs/policy.md says how to write one.

- `loader`: reads policy files strictly (errors name the file, the line and the key) into
  check metadata and a condition tree;
- `conditions`: the conditions and their evaluation on a `Host`, three-valued (true, false,
  or could not see);
- `files`: reading files of the inspected system under its root, bounded, never outside it;
- `commands`: the allow-list of commands a policy may run (`rules/policy_commands.yaml`);
- `check`: the `Check` that runs one policy.
"""
