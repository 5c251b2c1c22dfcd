"""On-demand Esplora lookups: requests and wall time of a 6-hop trace fetched from an API, in parallel against
one by one.

    python bench/bench_esplora.py [--latency 0.05] [--size 300] [--parallel 8] [--repeat 2]

A training world (ransomware, difficulty 1, seed 5) is served by the local Esplora-compatible server of the
tests (``tests/esplora/_esplora_server.py``, 127.0.0.1) with ``--latency`` seconds added to every answer. In
turn and ``--repeat`` times each, an empty workspace with only ``esplora_url`` set runs a 6-hop forward
haircut trace from the case's start; once with ``--parallel`` requests in flight (the default of on-demand
lookups), once with one request at a time (``CHAINSLEUTH_ESPLORA_PARALLEL=1``: the same records fetched one
by one). Printed: requests, wall time, the ratio, and whether both runs reached the same endpoints as the
trace on the world ingested from its blk files.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from chainsleuth.config import load_settings
from chainsleuth.training import generate_world
from chainsleuth.workspace import Workspace

_ROOT = Path(__file__).resolve().parents[1]


def _server_module() -> Any:
    spec = importlib.util.spec_from_file_location("_esplora_server", _ROOT / "tests" / "esplora" / "_esplora_server.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _endpoints(doc: dict[str, Any]) -> dict[tuple[str, int], int]:
    out: dict[tuple[str, int], int] = {}
    for e in doc["endpoints"]:
        out[(e["address"], e["hops"])] = out.get((e["address"], e["hops"]), 0) + e["amount"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--size", type=int, default=300)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    es = _server_module()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        world, key = generate_world("ransomware", difficulty=1, seed=5, size=args.size)
        paths = world.write(tmp / "world")
        full = Workspace(tmp / "full")
        full.ingest.btc_blocks([paths["btc"]], allow_invalid_pow=True)
        source = next(full.demo.start_source(st) for st in full.demo.case_starts(key.facts) if st["chain"] == "btc")
        reference = _endpoints(full.tracing.trace(source, "forward", "haircut", 6, 0, ""))
        full.close()
        server = es.EsploraServer(es.EsploraWorld(Path(paths["btc"]))).start()
        server.latency = args.latency
        runs: dict[int, list[tuple[int, float, bool]]] = {args.parallel: [], 1: []}
        try:
            for r in range(args.repeat):
                for par in (args.parallel, 1):
                    ws_dir = tmp / f"ws-{par}-{r}"
                    settings = dataclasses.replace(load_settings(ws_dir, env={}), esplora_url=server.url,
                                                   esplora_parallel=par)
                    n0, t0 = server.requests, time.perf_counter()
                    with Workspace(ws_dir, settings=settings) as ws:
                        doc = ws.tracing.trace(source, "forward", "haircut", 6, 0, "")
                    runs[par].append((server.requests - n0, time.perf_counter() - t0, _endpoints(doc) == reference))
        finally:
            server.stop()
    print(f"6-hop forward haircut trace on demand, {args.latency * 1000:.0f} ms added per answer, world size "
          f"{args.size}; {args.repeat} runs each, alternating")
    print(f"{'mode':<28}{'requests':>10}{'wall median':>14}{'same endpoints':>16}")
    med = {}
    for par, rows in runs.items():
        med[par] = statistics.median(w for _, w, _ in rows)
        label = f"parallel ({par} in flight)" if par > 1 else "one by one"
        print(f"{label:<28}{rows[0][0]:>10}{med[par]:>12.2f} s{all(ok for *_, ok in rows)!s:>16}")
    print(f"one by one / parallel: {med[1] / med[args.parallel]:.2f}x")
    if not all(ok for rows in runs.values() for *_, ok in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
