"""The clustering commands as a user meets them: one JSON document, exit codes, messages on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ClustWorld  # type: ignore[import-not-found]


def _cli(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(ws), *args],
                          capture_output=True, text=True, check=False, timeout=120)


@pytest.mark.slow
def test_clust_cli_cluster_show_why_compare(tmp_path: Path, clust_world: ClustWorld) -> None:
    ws = tmp_path / "ws"
    missing = _cli(ws, "cluster")
    assert missing.returncode == 3 and "no workspace" in missing.stderr and not ws.exists()
    blocks = [str(p) for p in clust_world.blocks]
    assert _cli(ws, "ingest", "btc-blocks", "--allow-invalid-pow", "--chain", "btc-regtest", *blocks).returncode == 0
    r = _cli(ws, "cluster", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["name"] == "co-spend" and summary["coinjoins"]["whirlpool"] >= 1
    bad = _cli(ws, "cluster", "--heuristics", "co-spend,telepathy", "--json")
    assert bad.returncode == 2 and "unknown heuristic 'telepathy'" in bad.stderr and bad.stdout == ""
    r = _cli(ws, "cluster", "--heuristics", "co-spend,change-consensus", "--json")
    assert r.returncode == 0, r.stderr
    cid = json.loads(r.stdout)["largest"][0]["id"]
    c = json.loads(_cli(ws, "show", "cluster", str(cid), "--json").stdout)
    assert set(c) >= {"id", "chain", "size", "addresses", "tags", "links"} and c["size"] == len(c["addresses"])
    assert all(set(link) >= {"txid", "heuristic", "confidence"} for link in c["links"])
    a, b = c["addresses"][0], c["addresses"][-1]
    w = _cli(ws, "show", "cluster", a, "--why", a, b, "--json")
    assert w.returncode == 0, w.stderr
    why = json.loads(w.stdout)["why"]
    assert why["steps"][0]["from"] == a and why["steps"][-1]["to"] == b
    text = _cli(ws, "show", "cluster", a, "--why", a, b)
    assert text.returncode == 0 and f"why {a} and {b}" in text.stdout
    cmp_ = json.loads(_cli(ws, "cluster", "--compare", "co-spend", "co-spend+change-consensus", "--json").stdout)
    assert cmp_["n_merges"] > 0 and cmp_["n_splits"] == 0
    addr = json.loads(_cli(ws, "show", "address", a, "--json").stdout)
    assert addr["cluster"] == {"id": c["id"], "size": c["size"]}
