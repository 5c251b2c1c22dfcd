"""Tag import throughput and address lookup latency, against GraphSense's TagPack validator.

    python bench/bench_tags.py [--packs ../shared/data/graphsense-tagpacks] [--lookups 2000]
                               [--peer /tmp/gsvenv/bin/graphsense-cli]

Measures, in one run on one machine:
1. validation only (parse + schema + taxonomy + address checks, nothing stored) over the plain-YAML packs,
   the same work as ``graphsense-cli tagpack-tool tagpack validate DIR``;
2. a full import of every shared pack (plain and .gz, and the ActorPack) into a fresh workspace;
3. address lookups with all their tags (``Workspace.attribution.list_tags``) on that store: p50 / p99;
4. the peer: graphsense-lib's validator on the same plain-YAML packs (install it in its own environment:
   ``python -m venv /tmp/gsvenv && /tmp/gsvenv/bin/pip install 'graphsense-lib[tagpacks]'``).
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from chainsleuth.attribution import Taxonomy, read_tagpack
from chainsleuth.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packs", type=Path, default=REPO.parent / "shared" / "data" / "graphsense-tagpacks")
    ap.add_argument("--lookups", type=int, default=2000)
    ap.add_argument("--peer", default="/tmp/gsvenv/bin/graphsense-cli")
    args = ap.parse_args()
    packs = sorted(p for p in (args.packs / "packs").rglob("*") if p.name.endswith((".yaml", ".yaml.gz")))
    plain = [p for p in packs if p.name.endswith(".yaml")]
    tax = Taxonomy.packaged()

    t0, c0 = time.perf_counter(), time.process_time()
    n_plain = sum(read_tagpack(p, taxonomy=tax).tags.num_rows for p in plain)
    t_validate = time.perf_counter() - t0
    print(f"validate {len(plain)} plain-YAML packs: {n_plain:,} tags in {t_validate:.2f} s "
          f"({n_plain / t_validate:,.0f} tags/s; CPU {time.process_time() - c0:.2f} s)")

    with tempfile.TemporaryDirectory() as d:
        ws = Workspace(Path(d) / "ws")
        t0, c0 = time.perf_counter(), time.process_time()
        r = ws.attribution.import_tags([args.packs])
        t_import = time.perf_counter() - t0
        c_import = time.process_time() - c0
        n = r["tags_new"]
        print(f"import {len(packs)} packs + ActorPack into a new workspace: {n:,} tags in {t_import:.2f} s "
              f"({n / t_import:,.0f} tags/s; target >= 20,000); CPU {c_import:.2f} s ({n / c_import:,.0f} tags "
              "per CPU-second)")
        t0 = time.perf_counter()
        again = ws.attribution.import_tags([args.packs])
        print(f"re-import (unchanged packs skipped): {time.perf_counter() - t0:.2f} s, "
              f"{again['tags_new']} tags written")
        idents = [x[0] for x in ws.store.db.execute("SELECT DISTINCT identifier FROM tags").fetchall()]
        random.Random(7).shuffle(idents)
        sample = idents[: args.lookups]
        ws.attribution.list_tags(sample[0])
        lat = []
        for a in sample:
            t = time.perf_counter()
            ws.attribution.list_tags(a)
            lat.append((time.perf_counter() - t) * 1000)
        p50, p99 = np.percentile(lat, 50), np.percentile(lat, 99)
        print(f"address lookup with tags ({len(sample)} random tagged addresses, {ws.store.tags.count():,} tags): "
              f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(lat):.2f} ms")
        ws.close()

    peer = Path(args.peer)
    if not peer.exists():
        print(f"peer not installed at {peer}: no ratio (see the module docstring)")
        return
    with tempfile.TemporaryDirectory() as d:
        for p in plain:  # the same plain-YAML packs, flattened (names are unique)
            (Path(d) / p.name).symlink_to(p)
        t0 = time.perf_counter()
        out = subprocess.run([str(peer), "tagpack-tool", "tagpack", "validate", d], capture_output=True, text=True,
                             check=False)
        t_peer = time.perf_counter() - t0
    import resource

    cpu_peer = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = re.search(r"(\d+)/(\d+) TagPacks passed in ([\d.]+)s", out.stdout + out.stderr)
    inner = float(m.group(3)) if m else None
    print(f"peer graphsense-lib validate: {m.group(0) if m else 'no summary line'}; wall {t_peer:.2f} s, "
          f"CPU {cpu_peer.ru_utime + cpu_peer.ru_stime:.2f} s (exit {out.returncode})")
    print(f"ratio validate (peer wall / ours): {t_peer / t_validate:.1f}x"
          + (f"; peer's own timer / ours: {inner / t_validate:.1f}x" if inner else ""))
    print(f"ratio full import incl. storage (peer validate wall / our import): {t_peer / t_import:.1f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
