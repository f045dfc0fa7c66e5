"""Windows: collectors that run PowerShell or read the registry (Windows only), and the parsers
and evaluators of their raw output, which run anywhere (so the suite replays recorded captures on
Linux). docs/windows.md says what was and was not run on a real Windows machine."""
