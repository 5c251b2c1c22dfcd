"""The tag commands as a user meets them: one JSON document on stdout, errors on stderr with exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def run(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(ws), *args],
                          capture_output=True, text=True, check=False, timeout=120)


@pytest.mark.shared_data
@pytest.mark.slow
def test_tags_cli_round(tmp_path: Path, shared_data: Path) -> None:
    ws = tmp_path / "ws"
    pack = shared_data / "graphsense-tagpacks" / "packs" / "lazarus.yaml"
    r = run(ws, "tags", "import", str(pack), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["tags_new"] == 21
    r = run(ws, "tags", "list", "0x098b716b8aaf21512996dc57eb0615e2383e2f96", "--json")
    tags = json.loads(r.stdout)["tags"]
    assert [(t["label"], t["abuse"], t["confidence_level"]) for t in tags] == [("Lazarus group", "sanction", 60)]
    r = run(ws, "tags", "add", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "--label", "Suspect", "--source", "case 1",
            "--confidence", "forensic_investigation", "--creator", "Det. A", "--category", "user", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["tag"]["origin"] == "investigator"
    r = run(ws, "tags", "add", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "--label", "Suspect", "--source", "case 1",
            "--confidence", "sure", "--creator", "Det. A")
    assert r.returncode == 2 and "unknown confidence 'sure'" in r.stderr and "ownership (100)" in r.stderr
    out = tmp_path / "mine.yaml"
    assert run(ws, "tags", "export", "--out", str(out)).returncode == 0
    assert "1BoatSLRHtKNngkdXEeobR76b53LETtpyT" in out.read_text() and "Lazarus" not in out.read_text()
    lst = tmp_path / "screen.txt"
    lst.write_text("# suspects\n1BoatSLRHtKNngkdXEeobR76b53LETtpyT\neth,0x098B716B8Aaf21512996dC57EB0615e2383E2f96\n")
    r = run(ws, "screen", str(lst), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["screened"] == 2 and doc["with_hits"] == 2
    assert doc["results"][1]["hits"][0]["entity"] == "lazarusgroup"
    r = run(ws, "tags", "import", str(tmp_path / "missing.yaml"))
    assert r.returncode == 2 and "no such file" in r.stderr
