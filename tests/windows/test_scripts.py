"""Every PowerShell collector's script parses as PowerShell (tree-sitter's PowerShell grammar;
no PowerShell runs here), runs without a profile, non-interactively, with a timeout, and prints
JSON or text as its collector says."""

from __future__ import annotations

import pytest
import tree_sitter
import tree_sitter_powershell

from sentinelle.windows.collectors import COLLECTORS, POWERSHELL, script_of

PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
SCRIPTS = sorted(name for name, c in COLLECTORS.items() if c.script is not None)


def errors(source: str) -> list[str]:
    tree = PARSER.parse(source.encode())
    found: list[str] = []

    def walk(node: tree_sitter.Node) -> None:
        if node.is_error or node.is_missing:
            found.append(source.encode()[node.start_byte:node.start_byte + 60].decode())
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    return found


def test_the_parser_finds_broken_powershell() -> None:
    assert errors("Get-Service | ForEach-Object { $_.Name ") != []
    assert errors("Get-Service | Select-Object -Property 'Name'") == []


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_parses(name: str) -> None:
    script = script_of(name)
    assert script is not None
    assert errors(script) == [], name


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_runs_bounded_and_prints_what_its_parser_reads(name: str) -> None:
    collector = COLLECTORS[name]
    argv = collector.argv()
    assert argv[:5] == (POWERSHELL, "-NoProfile", "-NonInteractive", "-ExecutionPolicy",
                        "Bypass")
    assert 0 < collector.timeout <= 600
    script = argv[-1]
    assert ("ConvertTo-Json" in script) == (collector.kind == "json"), name
    assert "$ErrorActionPreference = 'Stop'" in script
    # Read-only: nothing that sets, removes or starts, but the temporary file secedit writes.
    for verb in ("Set-", "Enable-", "Disable-", "Start-", "Stop-", "Restart-", "Install-"):
        assert verb not in script, (name, verb)
    assert ("Remove-Item" in script) == (name == "security_policy")
