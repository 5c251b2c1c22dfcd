"""Does ingest slow down as the store grows? Time per 100k transactions over one long run, and peak memory.

    python bench/bench_ingest_scaling.py [--sizes 500000,2000000,8000000] [--cache-dir /tmp/chainsleuth-chains]

For each size, a seeded synthetic chain (bench/_chaingen.py: blk*.dat files, regtest framing, real txids
and merkle roots, spends of recent and old outputs, address reuse) is written once into the cache
directory, then ingested in ONE run (``chainsleuth ingest btc-blocks DIR``) into a fresh workspace, in a
child process so that its peak RSS (VmHWM) is its own. The child records, after every batch the store
commits, the wall time and the transactions stored so far.

Printed per size: the time per 100k transactions over the first 10% of the run (after its first batch,
which also loads compiled code and creates the tables) and over the last 10%, and their ratio (the target:
the end within 20% of the start, i.e. ratio <= 1.2), as wall-clock time and as the process's CPU time (all
its threads; steadier on a shared, busy machine); the peak RSS (target < 2 GB), the part of it the writer's
in-memory indexes hold at the end, and the size of the workspace on disk. The peer here is the run's own start: an ingest whose cost
per batch does not depend on the store's size keeps the ratio near 1 at every size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

_CHILD = r"""
import json, sys, time
from pathlib import Path
from chainsleuth.config import Settings
from chainsleuth.workspace import Workspace

class Rec:
    def __init__(self):
        self.t0, self.c0 = time.perf_counter(), time.process_time(); self.rows = []; self.txs = 0
    def start(self, task, total=None, unit=""): pass
    def advance(self, amount=1, **info):
        self.txs = int(info.get("txs", self.txs))
        self.rows.append((time.perf_counter() - self.t0, self.txs, time.process_time() - self.c0))
    def note(self, message): pass
    def finish(self): pass

ws_dir, chain_dir = Path(sys.argv[1]), Path(sys.argv[2])
rec = Rec()
ws = Workspace(ws_dir, settings=Settings(workspace=ws_dir), progress=rec)
summary = ws.ingest.btc_blocks([chain_dir], allow_invalid_pow=True)
index = ws.store.utxo.writer.memory_bytes() if hasattr(ws.store.utxo, "writer") else 0
ws.close()
hwm = 0
for line in Path("/proc/self/status").read_text().splitlines():
    if line.startswith("VmHWM:"):
        hwm = int(line.split()[1]) * 1024
print(json.dumps({"rows": rec.rows, "peak_rss": hwm, "txs": summary.txs_new, "seconds": summary.seconds,
                  "index": index}))
"""


def _per_100k(rows: list[tuple[float, ...]], lo: float, hi: float, col: int = 0) -> float:
    """Seconds (``col`` 0: wall, 2: CPU) per 100k transactions between the fractions ``lo`` and ``hi`` of
    the run's transactions."""
    total = rows[-1][1]
    a = next(r for r in rows if r[1] >= lo * total) if lo > 0 else (0.0, 0, 0.0)
    b = next(r for r in rows if r[1] >= hi * total)
    return (b[col] - a[col]) / max(1, b[1] - a[1]) * 100_000


def _du(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def run(size: int, cache: Path, seed: int) -> dict[str, float]:
    from _chaingen import write_chain

    chain = cache / f"chain-{size}-s{seed}"
    if not (chain / "done").exists():
        shutil.rmtree(chain, ignore_errors=True)
        t = time.perf_counter()
        info = write_chain(size, chain, seed=seed)
        (chain / "done").write_text(json.dumps(info))
        print(f"  generated {size:,} txs in {time.perf_counter() - t:.0f} s: {info}", flush=True)
    with tempfile.TemporaryDirectory(prefix="ingest-scaling-") as d:
        ws = Path(d) / "ws"
        out = subprocess.run([sys.executable, "-c", _CHILD, str(ws), str(chain)], capture_output=True, text=True,
                             env={**os.environ, "CHAINSLEUTH_WORKSPACE": str(ws)})
        if out.returncode:
            raise SystemExit(f"ingest failed:\n{out.stderr[-3000:]}")
        res = json.loads(out.stdout.strip().splitlines()[-1])
        disk = _du(ws)
    rows = [tuple(r) for r in res["rows"] if r[1] > 0]
    # the start is measured from the end of the first batch: the first batch also pays for loading the
    # compiled code and creating the tables, which is not a cost per transaction
    first = rows[0][1] / rows[-1][1]
    start, end = _per_100k(rows, first, first + 0.1), _per_100k(rows, 0.9, 1.0)
    cstart, cend = _per_100k(rows, first, first + 0.1, 2), _per_100k(rows, 0.9, 1.0, 2)
    return {"txs": res["txs"], "seconds": res["seconds"], "start": start, "end": end, "ratio": end / start,
            "cpu_start": cstart, "cpu_end": cend, "cpu_ratio": cend / cstart, "peak_rss": res["peak_rss"],
            "disk": disk, "index": res.get("index", 0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="500000,2000000,8000000")
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "chainsleuth-chains")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    a.cache_dir.mkdir(parents=True, exist_ok=True)
    print("                             wall s per 100k txs      CPU s per 100k txs")
    print("     size    total s    first 10%  last 10%  ratio   first 10%  last 10%  ratio   peak RSS  "
          "index     disk")
    for size in sizes:
        r = run(size, a.cache_dir, a.seed)
        flag = "ok" if max(r["ratio"], r["cpu_ratio"]) <= 1.2 else "OVER 1.2"
        rss = "ok" if r["peak_rss"] < 2 * 2**30 else "OVER 2 GB"
        print(f"{size:>9,} {r['seconds']:>10.1f} {r['start']:>12.2f} {r['end']:>9.2f} {r['ratio']:>6.2f} "
              f"{r['cpu_start']:>11.2f} {r['cpu_end']:>9.2f} {r['cpu_ratio']:>6.2f}  {r['peak_rss'] / 2**30:>5.2f} GB "
              f"{r['index'] / 2**30:>5.2f} GB {r['disk'] / 2**30:>5.2f} GB  {flag} {rss}", flush=True)


if __name__ == "__main__":
    main()
