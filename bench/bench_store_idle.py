"""What letting readers in costs: opening and closing the workspace database, one ``Store.idle()`` cycle
(checkpoint, close, open again), and an ingest that releases the file after every batch against one that
never does, on the same generated chain.

    python bench/bench_store_idle.py --txs 200000            # generates the chain (bench/_chaingen.py)
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

from chainsleuth.config import Settings
from chainsleuth.store import DB_FILENAME, Store
from chainsleuth.workspace import Workspace


def _chaingen():
    spec = importlib.util.spec_from_file_location("_chaingen", Path(__file__).with_name("_chaingen.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _ingest(blocks: Path, ws: Path, batch_txs: int, every_batch: bool) -> float:
    store_cls = Store
    if every_batch:   # as if a reader waited after every batch
        store_cls.yield_to_readers_orig = store_cls.yield_to_readers  # type: ignore[attr-defined]

        def always(self: Store, *, every: float = 1.0) -> bool:
            with self.idle():
                pass
            return True

        store_cls.yield_to_readers = always  # type: ignore[method-assign]
    try:
        t0 = time.perf_counter()
        with Workspace(ws, settings=Settings(workspace=ws, batch_txs=batch_txs)) as w:
            w.ingest.btc_blocks([blocks], allow_invalid_pow=True)
        return time.perf_counter() - t0
    finally:
        if every_batch:
            store_cls.yield_to_readers = store_cls.yield_to_readers_orig  # type: ignore[attr-defined,method-assign]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--txs", type=int, default=200_000)
    ap.add_argument("--batch-txs", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        blocks = Path(d) / "blocks"
        _chaingen().write_chain(a.txs, blocks)
        times: dict[str, list[float]] = {"never": [], "every batch": []}
        for i in range(a.repeat):
            for mode in times:
                times[mode].append(_ingest(blocks, Path(d) / f"ws-{mode}-{i}".replace(" ", "-"), a.batch_txs,
                                           mode == "every batch"))
        db = Path(d) / "ws-never-0" / DB_FILENAME
        print(f"chain: {a.txs:,} txs, batches of {a.batch_txs:,} txs, database {db.stat().st_size / 1e6:,.0f} MB")
        for mode, ts in times.items():
            print(f"ingest, releasing the file {mode:<12}: {statistics.median(ts):6.2f} s (runs {', '.join(f'{t:.2f}' for t in ts)})")
        for ro in (True, False):
            ts = []
            for _ in range(5):
                t0 = time.perf_counter()
                s = Store(db, read_only=ro)
                s.close()
                ts.append(time.perf_counter() - t0)
            print(f"open + close {'read-only ' if ro else 'read-write'}: median {statistics.median(ts) * 1e3:6.1f} ms")
        s = Store(db)
        try:
            s.utxo.writer._state("btc-regtest")    # the writer's indexes, as during an ingest
            ts = []
            for _ in range(5):
                s.db.execute("UPDATE ingest_runs SET notes = notes")   # something to checkpoint, as after a batch
                t0 = time.perf_counter()
                with s.idle():
                    pass
                ts.append(time.perf_counter() - t0)
            kept = "btc-regtest" in s.utxo.writer._states
        finally:
            s.close()
        print(f"idle() cycle (checkpoint, close, open again): median {statistics.median(ts) * 1e3:6.1f} ms; "
              f"writer's indexes kept: {kept}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
