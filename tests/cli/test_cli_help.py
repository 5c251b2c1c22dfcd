"""Help texts an investigator can read: options labelled in words, not Python types, and an example per
command that the command line itself accepts."""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from chainsleuth.cli.help import in_words
from chainsleuth.cli.main import app

_ROOT = typer.main.get_command(app)
in_words(_ROOT)


def _leaves(cmd: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    subs = getattr(cmd, "commands", None)
    if not subs:
        return [(path, cmd)]
    return [leaf for name, sub in subs.items() for leaf in _leaves(sub, (*path, name))]


LEAVES = _leaves(_ROOT)
PY_LABELS = re.compile(r"<(bool|int|str|float|path|list\[[^\]]*\]|int range|float range)>|\{[A-Za-z_]+\}")


def _help(path: tuple[str, ...]) -> str:
    r = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    return r.output


def test_every_command_is_listed() -> None:
    assert len(LEAVES) >= 27
    assert ("show", "address") in [p for p, _ in LEAVES]


@pytest.mark.parametrize("path", [p for p, _ in LEAVES] + [()], ids=lambda p: " ".join(p) or "root")
def test_help_labels_options_in_words(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert not PY_LABELS.search(text), PY_LABELS.search(text)
    assert "<bool>" not in text and "x>=" not in text and "<=x" not in text


@pytest.mark.parametrize("path,cmd", LEAVES, ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_an_example_the_parser_accepts(path: tuple[str, ...], cmd: Any) -> None:
    assert "Example: chainsleuth " in (cmd.help or ""), f"{' '.join(path)} has no example"
    assert "Example: chainsleuth " in _help(path)
    example = " ".join((cmd.help or "").split("Example: ", 1)[1].split("\n\n")[0].split())
    words = shlex.split(example)[1:]
    assert tuple(words[:len(path)]) == path, example
    cmd.make_context(path[-1], list(words[len(path):]))   # parses, runs nothing: unknown options raise here


def test_flags_have_no_label_and_ranges_read_as_words() -> None:
    text = _help(("trace", "forward"))
    line = next(x for x in text.splitlines() if "--max-hops" in x)
    assert "N" in line and "0 to 10000" in line
    line = next(x for x in text.splitlines() if "--json" in x)
    assert "bool" not in line.lower().replace("print one json", "")
    usage = next(x for x in _help(("show", "address")).splitlines() if "Usage:" in x)
    assert usage.strip().endswith("ADDR") or "ADDRESS" in usage
