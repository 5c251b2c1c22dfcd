"""EVM ingestion throughput: chainsleuth vs ethereum-etl on the same local anvil chain, in one run.

    python bench/bench_evm_ingest.py [--blocks 300] [--txs-per-block 60] [--repeat 2]
                                     [--ethetl /tmp/ethetl-venv/bin/ethereumetl]

Builds a chain of realistic blocks on a fresh anvil (npm @foundry-rs/anvil): per block, native transfers
between many accounts, ERC-20 transfers, and calls to a forwarder that moves ETH internally (so traces have
value-moving sub-calls). Then, against the same node:

- chainsleuth: ``Workspace.ingest.evm_rpc(traces='parity')`` -> blocks, txs, receipts, token and internal
  transfers, fees, all written to DuckDB;
- ethereum-etl (installed in its own virtualenv, it pins old web3): export_blocks_and_transactions,
  export_receipts_and_logs, extract_token_transfers, export_traces (Parity ``trace_block``) to CSV files -
  the same data its pipeline needs to account for value.

Both read the same blocks from the same node; the node (anvil computing receipts and traces) is most of
the cost for both. Prints blocks/s, txs/s and rows/s for both and the ratios. Numbers go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from chainsleuth.core.account import keccak256
from chainsleuth.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
SOL = REPO / "tests" / "evm" / "contracts.sol"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Node:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(timeout=120)
        self._id = 0

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        out = self.http.post(self.url, json=body).json()
        res = {d["id"]: d for d in out}
        for i in range(len(calls)):
            if "error" in res[i]:
                raise RuntimeError(f"{calls[i][0]}: {res[i]['error']}")
        return [res[i]["result"] for i in range(len(calls))]

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        return self.batch([(method, params or [])])[0]


def _compile() -> dict[str, str]:
    script = (
        "const solc=require(process.argv[1]);const fs=require('fs');"
        "const input={language:'Solidity',sources:{'c.sol':{content:fs.readFileSync(process.argv[2],'utf8')}},"
        "settings:{optimizer:{enabled:true,runs:200},outputSelection:{'*':{'*':['evm.bytecode.object']}}}};"
        "const out=JSON.parse(solc.compile(JSON.stringify(input)));const res={};"
        "for(const [n,c] of Object.entries(out.contracts['c.sol'])) res[n]=c.evm.bytecode.object;"
        "console.log(JSON.stringify(res));")
    r = subprocess.run(["node", "-e", script, str(REPO / "node_modules" / "solc"), str(SOL)], capture_output=True,
                       text=True, check=True)
    return dict(json.loads(r.stdout))


def _sel(sig: str) -> str:
    return keccak256(sig.encode()).hex()[:8]


def _w(v: int | str) -> str:
    return v.lower().removeprefix("0x").rjust(64, "0") if isinstance(v, str) else format(v, "064x")


def build_chain(node: _Node, blocks: int, per_block: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    code = _compile()
    devs = node.rpc("eth_accounts")
    fresh = ["0x" + keccak256(f"bench-{i}".encode()).hex()[:40] for i in range(40)]
    for a in fresh:
        node.rpc("anvil_impersonateAccount", [a])
    senders = devs + fresh

    def deploy(data: str) -> str:
        h = node.rpc("eth_sendTransaction", [{"from": devs[0], "data": "0x" + data, "gas": hex(3_000_000)}])
        node.rpc("evm_mine")
        return str(node.rpc("eth_getTransactionReceipt", [h])["contractAddress"])

    token = deploy(code["Token"] + _w(10**30))
    fwd = deploy(code["Forwarder"])
    # fund fresh accounts and give everyone tokens
    n0 = int(node.rpc("eth_getTransactionCount", [devs[0], "pending"]), 16)
    calls: list[tuple[str, list[Any]]] = []
    for a in senders:
        calls.append(("eth_sendTransaction", [{"from": devs[0], "to": a, "value": hex(50 * 10**18), "nonce": hex(n0),
                                               "gas": hex(21_000)}]))
        calls.append(("eth_sendTransaction", [{"from": devs[0], "to": token, "gas": hex(100_000), "nonce": hex(n0 + 1),
                                               "data": "0x" + _sel("transfer(address,uint256)") + _w(a) + _w(10**24)}]))
        n0 += 2
    node.batch(calls)
    node.rpc("evm_mine")
    nonces = {a: int(node.rpc("eth_getTransactionCount", [a, "pending"]), 16) for a in senders}

    def send(tx: dict[str, Any]) -> tuple[str, list[Any]]:   # explicit nonces: a batch may run concurrently
        tx["nonce"] = hex(nonces[tx["from"]])
        nonces[tx["from"]] += 1
        return ("eth_sendTransaction", [tx])

    for _ in range(blocks):
        calls = []
        for _ in range(per_block):
            frm = rng.choice(senders)
            to = rng.choice(senders)
            r = rng.random()
            if r < 0.5:
                calls.append(send({"from": frm, "to": to, "value": hex(rng.randrange(1, 10**17)), "gas": hex(21_000)}))
            elif r < 0.85:
                data = "0x" + _sel("transfer(address,uint256)") + _w(to) + _w(rng.randrange(1, 10**18))
                calls.append(send({"from": frm, "to": token, "data": data, "gas": hex(100_000)}))
            else:
                data = "0x" + _sel("forward(address,address)") + _w(to) + _w(rng.choice(senders))
                calls.append(send({"from": frm, "to": fwd, "data": data, "gas": hex(200_000),
                                   "value": hex(rng.randrange(2, 10**17))}))
        node.batch(calls)
        node.rpc("evm_mine")


def run_ours(url: str, work: Path, end: int) -> dict[str, float]:
    ws = Workspace(work / "ws")
    t0 = time.perf_counter()
    s = ws.ingest.evm_rpc(url, chain="eth-anvil", from_=0, to=end, traces="parity")
    dt = time.perf_counter() - t0
    n_tr = ws.store.db.execute("SELECT count(*) FROM transfers").fetchall()[0][0]
    ws.close()
    return {"seconds": dt, "blocks": s.blocks_new, "txs": s.txs_new, "rows": s.blocks_new + s.txs_new + n_tr,
            "transfers": n_tr}


def run_ethetl(exe: str, url: str, work: Path, end: int) -> dict[str, float]:
    out = work / "etl"
    out.mkdir()
    common = ["--provider-uri", url]
    steps = [
        ["export_blocks_and_transactions", "--start-block", "0", "--end-block", str(end), *common,
         "--blocks-output", str(out / "blocks.csv"), "--transactions-output", str(out / "transactions.csv")],
        ["extract_csv_column", "--input", str(out / "transactions.csv"), "--column", "hash",
         "--output", str(out / "hashes.txt")],
        ["export_receipts_and_logs", "--transaction-hashes", str(out / "hashes.txt"), *common,
         "--receipts-output", str(out / "receipts.csv"), "--logs-output", str(out / "logs.csv")],
        ["extract_token_transfers", "--logs", str(out / "logs.csv"), "--output", str(out / "token_transfers.csv")],
        ["export_traces", "--start-block", "0", "--end-block", str(end), *common, "--output", str(out / "traces.csv")],
    ]
    t0 = time.perf_counter()
    for st in steps:
        r = subprocess.run([exe, *st], capture_output=True, text=True, check=False)
        if r.returncode != 0:
            raise RuntimeError(f"ethereumetl {st[0]} failed: {r.stderr[-800:]}")
    dt = time.perf_counter() - t0

    def rows(name: str) -> int:
        with open(out / name, encoding="utf-8") as f:
            return max(0, sum(1 for _ in f) - 1)

    n = {k: rows(f"{k}.csv") for k in ("blocks", "transactions", "receipts", "logs", "token_transfers", "traces")}
    return {"seconds": dt, "blocks": n["blocks"], "txs": n["transactions"], "rows": sum(n.values()),
            "transfers": n["token_transfers"] + n["traces"]}


def node_floor(url: str, end: int, per_request: int = 20) -> float:
    """Seconds the node alone needs to serve what both tools ask for (full blocks, receipts, Parity traces),
    in batched requests with no processing of the answers: the floor under any client."""
    http = httpx.Client(timeout=120)
    t0 = time.perf_counter()
    for lo in range(0, end + 1, per_request):
        nums = range(lo, min(end, lo + per_request - 1) + 1)
        for method, params in (("eth_getBlockByNumber", lambda n: [hex(n), True]),
                               ("eth_getBlockReceipts", lambda n: [hex(n)]), ("trace_block", lambda n: [hex(n)])):
            body = [{"jsonrpc": "2.0", "id": n, "method": method, "params": params(n)} for n in nums]
            http.post(url, json=body).read()
    http.close()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--blocks", type=int, default=300)
    ap.add_argument("--txs-per-block", type=int, default=60)
    ap.add_argument("--ethetl", default="/tmp/ethetl-venv/bin/ethereumetl")
    ap.add_argument("--repeat", type=int, default=2, help="rounds (tools alternate; best run of each is kept)")
    args = ap.parse_args()
    anvil = REPO / "node_modules" / ".bin" / "anvil"
    if not anvil.exists():
        sys.exit("node_modules/.bin/anvil missing: run `npm ci` first")
    port = _free_port()
    proc = subprocess.Popen([str(anvil), "--host", "127.0.0.1", "--port", str(port), "--silent", "--no-mining",
                             "--gas-limit", "60000000"], stdout=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        node = _Node(url)
        for _ in range(100):
            try:
                node.rpc("eth_chainId")
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        t0 = time.perf_counter()
        build_chain(node, args.blocks, args.txs_per_block)
        end = int(node.rpc("eth_blockNumber"), 16)
        print(f"chain: {end + 1} blocks, built in {time.perf_counter() - t0:.1f} s", flush=True)
        have_etl = bool(shutil.which(args.ethetl) or Path(args.ethetl).exists())
        if not have_etl:
            print(f"ethereum-etl not found at {args.ethetl}: python -m venv /tmp/ethetl-venv && "
                  "/tmp/ethetl-venv/bin/pip install ethereum-etl 'parsimonious==0.9.0'")
        # anvil caches what it computed (receipts, traces): alternate the tools and keep each one's best run,
        # so neither profits from the other having warmed the node
        ours_runs: list[dict[str, float]] = []
        their_runs: list[dict[str, float]] = []
        for i in range(args.repeat):
            with tempfile.TemporaryDirectory() as d:
                ours_runs.append(run_ours(url, Path(d), end))
                if have_etl:
                    their_runs.append(run_ethetl(args.ethetl, url, Path(d), end))
            print(f"round {i + 1}: chainsleuth {ours_runs[-1]['seconds']:.2f} s"
                  + (f", ethereum-etl {their_runs[-1]['seconds']:.2f} s" if their_runs else ""), flush=True)
        floor = node_floor(url, end)
        print(f"node floor (raw requests, no processing): {floor:.2f} s = {(end + 1) / floor:.1f} blocks/s", flush=True)
        ours = min(ours_runs, key=lambda r: r["seconds"])
        theirs = min(their_runs, key=lambda r: r["seconds"]) if their_runs else None
        for name, r in (("chainsleuth", ours), ("ethereum-etl", theirs)):
            if r is None:
                continue
            print(f"{name:13s} {r['seconds']:7.2f} s  {r['blocks'] / r['seconds']:8.1f} blocks/s  "
                  f"{r['txs'] / r['seconds']:8.1f} txs/s  {r['transfers'] / r['seconds']:9.1f} transfers/s  "
                  f"{r['rows'] / r['seconds']:9.1f} rows/s  ({int(r['txs'])} txs, {int(r['transfers'])} transfers, "
                  f"{int(r['rows'])} rows)")
        if theirs is not None:
            print(f"ratio (chainsleuth / ethereum-etl): blocks/s x{theirs['seconds'] / ours['seconds']:.2f}, "
                  f"transfers/s x{(ours['transfers'] / ours['seconds']) / (theirs['transfers'] / theirs['seconds']):.2f}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)   # the process group started for anvil (wrapper and binary)
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
