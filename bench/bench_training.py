"""Training world generation: a world of about 100,000 transactions must generate in under a minute.

    python bench/bench_training.py                 # size 70,000: about 100,000 transactions on both chains
    python bench/bench_training.py --size 20000    # smaller, quicker

Wall-clock time and this process's CPU time are both printed: on a shared machine the wall clock also
counts time other processes took the cores.
Prints the time of each phase (ledger simulation, Bitcoin serialisation through the block writer, writing
files) and, as the peer measured in the same run, python-bitcoinlib deserialising the blocks we wrote
(a reader's cost for the same bytes), so the ratio says how generation compares with merely parsing.
"""

from __future__ import annotations

import argparse
import struct
import tempfile
import time
from pathlib import Path

from chainsleuth.training import generate_world


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=70_000)
    ap.add_argument("--typology", default="ransomware")
    ap.add_argument("--difficulty", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    t0, c0 = time.perf_counter(), time.process_time()
    world, _key = generate_world(a.typology, a.difficulty, a.seed, size=a.size)
    t_gen, c_gen = time.perf_counter() - t0, time.process_time() - c0
    with tempfile.TemporaryDirectory() as d:
        t1, c1 = time.perf_counter(), time.process_time()
        paths = world.write(Path(d))
        t_write, c_write = time.perf_counter() - t1, time.process_time() - c1
        blk = (paths["btc"] / "blk00000.dat").read_bytes()
        from bitcoin.core import CBlock

        t2, c2 = time.perf_counter(), time.process_time()
        off = n = 0
        while off < len(blk):
            (size,) = struct.unpack_from("<I", blk, off + 4)
            n += len(CBlock.deserialize(blk[off + 8:off + 8 + size]).vtx)
            off += 8 + size
        t_parse, c_parse = time.perf_counter() - t2, time.process_time() - c2
    total = world.btc.n_txs + world.evm.n_txs
    print(f"world: {a.typology} difficulty {a.difficulty} seed {a.seed} size {a.size}")
    print(f"transactions: {world.btc.n_txs} bitcoin + {world.evm.n_txs} ethereum = {total}")
    print(f"generate (simulate + serialise): wall {t_gen:.1f} s, cpu {c_gen:.1f} s  ({total / c_gen:,.0f} tx/cpu-s)")
    print(f"write (blk, etl csv, tags, key): wall {t_write:.1f} s, cpu {c_write:.1f} s")
    cpu = c_gen + c_write
    print(f"total: wall {t_gen + t_write:.1f} s, cpu {cpu:.1f} s -> {'within' if cpu < 60 else 'OVER'} the one-minute "
          "budget (cpu)")
    print(f"peer: python-bitcoinlib parses the {n} bitcoin txs: wall {t_parse:.1f} s, cpu {c_parse:.1f} s; "
          f"generation/parse cpu ratio {c_gen / c_parse:.1f}")


if __name__ == "__main__":
    main()
