"""Write docs/cli.md from the CLI's own --help texts (a test checks the file is current).

    python scripts/gen_cli_docs.py          # rewrite docs/cli.md
    python scripts/gen_cli_docs.py --check  # exit 1 if docs/cli.md is stale
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from chainsleuth.cli.main import app

_ENV = {"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1", "_TYPER_FORCE_DISABLE_TERMINAL": "1"}

OUT = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def _walk(cmd: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    out = [(path, cmd)]
    if getattr(cmd, "commands", None):
        for name in sorted(cmd.commands):
            out += _walk(cmd.commands[name], [*path, name])
    return out


def render() -> str:
    root = typer.main.get_command(app)
    lines = ["# Command-line reference", "",
             "Generated from the commands' own help by `python scripts/gen_cli_docs.py`; a test fails when it is stale.",
             ""]
    for path, _cmd in _walk(root, ["chainsleuth"]):
        lines.append(f"## `{' '.join(path)}`")
        lines.append("")
        lines.append("```")
        res = CliRunner().invoke(app, [*path[1:], "--help"], env=_ENV, terminal_width=100)
        lines.append("\n".join(ln.rstrip() for ln in res.output.strip("\n").splitlines()))
        lines.append("```")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is stale: run python scripts/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
