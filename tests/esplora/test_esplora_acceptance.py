"""The acceptance case of on-demand lookups: a trace started in an empty workspace with only ``--esplora``
pointed at a local Esplora-compatible server (serving a generated world's transactions in Esplora's JSON)
reaches exactly the endpoints and amounts of the same trace on the same world ingested from its blk files,
and a second run asks the server for nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def _endpoints(doc: dict[str, Any]) -> dict[tuple[str, int], int]:
    out: dict[tuple[str, int], int] = {}
    for e in doc["endpoints"]:
        key = (e["address"], e["hops"])
        out[key] = out.get(key, 0) + e["amount"]
    return out


def _cli(ws: Path, url: str, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINSLEUTH_")}
    r = subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(ws), "--esplora", url,
                        *args, "--json"], capture_output=True, text=True, check=False, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


@pytest.mark.parametrize("policy", ["haircut", "fifo", "poison"])
def test_trace_with_only_esplora_equals_the_trace_on_ingested_blocks(tmp_path: Path, world: Any, server: Any,
                                                                     policy: str) -> None:
    source = world.starts[0]
    reference = world.full.tracing.trace(source, "forward", policy, 6, 0, "")
    assert max(e["hops"] for e in reference["endpoints"]) >= 2, "the trace crosses several hops fetched on demand"
    before = server.requests
    first = _cli(tmp_path / "ws", server.url, "trace", "forward", source, "--policy", policy, "--max-hops", "6",
                 "--stop-at", "")
    asked = server.requests - before
    assert asked > 0                                             # it started from an empty workspace
    assert _endpoints(first) == _endpoints(reference)
    assert sum(e["amount"] for e in first["endpoints"]) == sum(e["amount"] for e in reference["endpoints"])
    again = server.requests
    second = _cli(tmp_path / "ws", server.url, "trace", "forward", source, "--policy", policy, "--max-hops", "6",
                  "--stop-at", "")
    assert server.requests == again, "a second run asks for nothing that is stored"
    assert _endpoints(second) == _endpoints(first)
