"""Hostile text in a tag pack is stored verbatim (evidence) and shown harmlessly: no raw control or bidi
characters reach the terminal, and Rich markup in data is printed as written, never interpreted."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ADDR = "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
LINK = "[link=https://evil.example]click[/link]"
LABEL = f"\x1b[2J\x1b]8;;https://evil.example\x07here\x1b]8;;\x07 {LINK} <script>alert(1)</script> \u202eexe.txt \x00nul"
# YAML double-quoted escapes: ESC, BEL, NUL, RTL override
Y_LABEL = ('"\\e[2J\\e]8;;https://evil.example\\ahere\\e]8;;\\a [link=https://evil.example]click[/link] '
           '<script>alert(1)</script> \\u202eexe.txt \\0nul"')
PACK = f"""title: "[bold]hostile[/bold] \\e[31m"
creator: "\\u202emalicious \\e]0;owned\\a"
confidence: forensic
currency: BTC
source: "javascript:alert(1) [link=javascript:alert(1)]x[/link]"
tags:
- address: {ADDR}
  label: {Y_LABEL}
  actor: "[red]actor[/red]\\u2066"
- address: "1BoatSLRHtKNngkdXEeobR76b53LETtpyU"
  label: "broken \\e[5m checksum"
"""
# raw control characters (C0 except newline, DEL, C1) and bidi controls
_RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _run(ws: Path, *args: str, color: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    if color:   # Rich as on a terminal: interpreted markup would come out as escape codes (OSC 8 links)
        env.update(FORCE_COLOR="1", TERM="xterm-256color")
    return subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(ws), *args],
                          capture_output=True, text=True, check=False, timeout=120, env=env)


def test_safe_is_the_one_rule() -> None:
    from chainsleuth.cli.console import safe

    s = safe(LABEL)
    assert not _RAW.search(s)
    assert "\\x1b[2J" in s and "<U+202E>" in s and "\\x00nul" in s and "\\x07" in s
    assert safe("a\nb") == "a\\x0ab" and safe("a\nb", newlines=True) == "a\nb"
    assert safe(LINK) == "\\" + LINK.replace("[/link]", "\\[/link]")


@pytest.fixture(scope="module")
def hostile_ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("hostile")
    pack = d / "hostile.yaml"
    pack.write_text(PACK, encoding="utf-8")
    ws = d / "ws"
    r = _run(ws, "tags", "import", str(pack), "--json")
    assert r.returncode == 0, r.stderr
    screen = d / "screen.txt"
    screen.write_text(f"{ADDR}\nnotanaddress\u202e\n", encoding="utf-8")
    return ws, screen


def test_data_is_stored_verbatim(hostile_ws: tuple[Path, Path]) -> None:
    ws, _ = hostile_ws
    tags = json.loads(_run(ws, "tags", "list", ADDR, "--json").stdout)["tags"]
    assert [t["label"] for t in tags] == [LABEL]          # evidence kept exactly as the pack wrote it
    assert tags[0]["creator"].startswith("\u202emalicious \x1b]0;owned")


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("command", ["list", "show", "screen", "import"])
def test_no_control_characters_and_no_markup_from_data(hostile_ws: tuple[Path, Path], command: str,
                                                       color: bool) -> None:
    ws, screen = hostile_ws
    args = {"list": ["tags", "list", ADDR], "show": ["show", "address", ADDR], "screen": ["screen", str(screen)],
            "import": ["tags", "import", "--warnings", str(ws.parent / "hostile.yaml")]}[command]
    if command == "import":   # a second workspace, so the pack is parsed again and its warnings printed
        args = ["tags", "import", "--warnings", str(ws.parent / "hostile.yaml")]
        r = _run(ws.parent / f"ws-import-{color}", *args, color=color)
    else:
        r = _run(ws, *args, color=color)
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    if color:
        # our own: SGR styling, and the progress bar's erase-line / cursor show-hide / cursor-up on stderr;
        # nothing else: no clear screen, no OSC window title or hyperlink
        leftover = re.sub(r"\x1b\[(?:[0-9;]*m|2K|\?25[lh]|\d*A)|\r", "", out)
        assert not _RAW.search(leftover), repr(leftover[:500])
        assert "\x1b[2J" not in out and "\x1b]8;" not in out and "\x1b]0;" not in out
    else:
        assert not _RAW.search(out), repr(out[:500])
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    if command in ("list", "show"):
        assert LINK in plain                     # printed as written, not turned into a link
        assert "<script>alert(1)</script>" in plain and "\\x1b[2J" in plain and "<U+202E>" in plain
    if command in ("list", "screen"):
        assert "javascript:alert(1) [link=javascript:alert(1)]x[/link]" in plain and "[red]actor[/red]<U+2066>" in plain
    if command == "screen":
        assert "notanaddress<U+202E>" in plain and "invalid" in plain
    if command == "import":
        assert "broken" not in plain or "\\x1b[5m" in plain
        assert "1BoatSLRHtKNngkdXEeobR76b53LETtpyU" in plain   # the checksum warning, with its reason


def test_cluster_and_trace_tables_escape_entities() -> None:
    from rich.console import Console

    from chainsleuth.cli import cluster, trace
    from chainsleuth.cli.console import safe

    con = Console(record=True, width=400, force_terminal=True)
    doc = {"endpoints": [{"address": ADDR, "entity": LABEL, "category": LINK, "cluster": None, "amount": 5,
                          "hops": 1, "reason": "unspent"}]}
    con.print(trace._endpoint_table(doc, f"trace of {safe(LINK)}"))
    out = con.export_text(styles=True, clear=False)
    assert "\x1b]8;" not in out and "\x1b[2J" not in out and "\u202e" not in out
    text = con.export_text()
    assert LINK in text and "\\x1b[2J" in text
    rec = Console(record=True, width=400)
    old = cluster.out_console
    try:
        import chainsleuth.cli.console as console_mod

        console_mod.out_console, cluster.out_console = rec, rec
        cluster._render({"id": 1, "chain": "btc", "set": 1, "size": 1, "tags": [{"label": LABEL}],
                         "addresses": [ADDR], "links": []})
    finally:
        console_mod.out_console = cluster.out_console = old
    text = rec.export_text()
    assert LINK in text and "\\x1b[2J" in text and not _RAW.search(text)
