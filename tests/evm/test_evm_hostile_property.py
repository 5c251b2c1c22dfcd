"""Property: whatever a node answers, an ingest either stores exactly the true data or fails with a
SourceError naming the method and the block (and the field, for a bad field), leaving the store exactly as
it was before the failed batch.

A fake JSON-RPC node on 127.0.0.1 serves a synthetic chain (conftest ``synth_chain``); each case first
ingests blocks 0..2 honestly, then lets a seeded generator mutate one kind of answer (once, or every time)
while blocks 3..7 are read in batches of random size: wrong block numbers and positions, wrong hashes,
missing fields, wrong types, huge and malformed quantities, whole answers replaced, HTTP errors, bodies that
are not JSON, answers slower than the timeout. ``CHAINSLEUTH_PROPERTY_SEEDS`` sets how many seeds run
(default 30, about 40 s)."""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chainsleuth.config import Settings
from chainsleuth.errors import SourceError
from chainsleuth.workspace import Workspace

SEEDS = int(os.environ.get("CHAINSLEUTH_PROPERTY_SEEDS", "30"))
N_BLOCKS = 8
PREFIX = 2          # blocks 0..PREFIX are stored before the hostile node answers

#: keys the JSON-RPC spec lets a node leave out: an answer without them is another valid answer (with
#: other data), not a lie this test can expect to be caught
OPTIONAL = {"size", "transactionsRoot", "effectiveGasPrice", "type", "maxFeePerGas", "maxPriorityFeePerGas",
            "contractAddress", "chainId", "nonce", "difficulty", "extraData", "logsBloom", "cumulativeGasUsed",
            "removed", "validatorIndex", "index", "to", "output", "gas", "input", "callType", "result",
            "gasPrice", "subtraces"}
#: keys that identify what an answer is about: another valid-looking value there must be caught
IDENTITY = {"number", "hash", "parentHash", "blockHash", "blockNumber", "transactionHash", "transactionIndex",
            "transactionPosition", "logIndex"}
WRONG_TYPES: list[Any] = [5, -1, True, [], {}, "zz", "0xZZZ", "-0x10", "0x", "", 1.5]
HUGE = [hex(2**256), hex(2**200), "0x" + "f" * 65, 2**256, "0x" + "0" * 70 + "1"]


def _ws(path: Path) -> Workspace:
    return Workspace(path, settings=Settings(workspace=path, rpc_timeout=0.5, rpc_retries=1, rpc_max_wait=0.05,
                                             progress="never"))


def _a(alias: str, col: str, table: str) -> str:
    return f"LEFT JOIN addresses {alias} ON {alias}.chain = {table}.chain AND {alias}.id = {table}.{col}"


#: the stored rows with dense ids replaced by what they stand for (a rollback and re-read gives new ids)
QUERIES = {
    "account_blocks": "SELECT b.* EXCLUDE (run_id, miner_id), m.address FROM account_blocks b " + _a("m", "miner_id", "b"),
    "account_txs": "SELECT t.* EXCLUDE (tx_id, from_id, to_id, contract_id), f.address, o.address, c.address "
                   "FROM account_txs t " + _a("f", "from_id", "t") + " " + _a("o", "to_id", "t") + " " +
                   _a("c", "contract_id", "t"),
    "transfers": "SELECT x.* EXCLUDE (tx_id, from_id, to_id, asset_id), t.hash, f.address, o.address, s.address "
                 "FROM transfers x LEFT JOIN account_txs t ON t.chain = x.chain AND t.tx_id = x.tx_id " +
                 _a("f", "from_id", "x") + " " + _a("o", "to_id", "x") + " " + _a("s", "asset_id", "x"),
    "tokens": "SELECT k.* EXCLUDE (address_id), a.address FROM tokens k " + _a("a", "address_id", "k"),
    "account_checkpoints": "SELECT chain, height, hash, traces FROM account_checkpoints",
}
BLOCK_COLUMN = {"account_blocks": "number", "account_txs": "block_number", "transfers": "block_number"}


def _tables(ws: Workspace, upto: int | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row (of blocks up to ``upto`` where rows have a block), sorted."""
    db = ws.store.db
    out = {}
    for t, q in QUERIES.items():
        if upto is not None and t in BLOCK_COLUMN:
            q = f"SELECT * FROM ({q}) WHERE {BLOCK_COLUMN[t]} <= {int(upto)}"
        out[t] = sorted(db.execute(q).fetchall(), key=repr)
    return out


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path in a JSON value."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


def _other_like(v: Any, rng: random.Random) -> Any:
    """A different value that looks just as valid (same shape)."""
    if isinstance(v, str) and v.startswith("0x") and len(v) > 2:
        digits = v[2:]
        while True:
            new = "".join(rng.choice("0123456789abcdef") for _ in digits) if len(digits) > 4 else \
                hex(int(digits, 16) + rng.randint(1, 50))[2:]
            if new != digits.lower():
                return "0x" + new
    if isinstance(v, int) and not isinstance(v, bool):
        return v + rng.randint(1, 5)
    return rng.choice(WRONG_TYPES)


class Mutation:
    """One lie: which answers (method, block, once or always) and what becomes of them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.method = rng.choice(["block", "block", "receipts", "receipts", "traces", "header", "chainId", "http"])
        self.block = rng.randint(PREFIX, N_BLOCKS - 1) if self.method == "header" else \
            rng.randint(PREFIX + 1, N_BLOCKS - 1)
        self.once = rng.random() < 0.3
        self.done = False
        self.kind = ""
        self.fieldname: Any = None
        self.raw_kind = rng.choice(["500", "404", "html", "wrong id", "slow", "empty"])
        self.seed_op = rng.random()
        self.detail = ""
        self.chain_calls = 0

    def matches(self, method: str, params: list[Any]) -> bool:
        p = params[0] if params else None
        k = int(p, 16) if isinstance(p, str) and p.startswith("0x") else None
        if self.method == "chainId":
            if method == "eth_chainId":
                self.chain_calls += 1
            return method == "eth_chainId" and self.chain_calls > 1
        if k != self.block:
            return False
        return {"block": method == "eth_getBlockByNumber" and params[1] is True,
                "header": method == "eth_getBlockByNumber" and params[1] is False,
                "receipts": method == "eth_getBlockReceipts", "traces": method == "trace_block",
                "http": method in ("eth_getBlockByNumber", "eth_getBlockReceipts", "trace_block")}[self.method]

    def __call__(self, node: Any, method: str, params: list[Any], result: Any) -> Any:
        if not self.matches(method, params) or (self.once and self.done):
            return result
        self.done = True
        rng = random.Random(self.seed_op)   # the same lie every time it is told
        if self.method == "http":
            raw = node.Raw
            self.kind = f"http {self.raw_kind}"
            return {"500": raw(500, b"upstream broke"), "404": raw(404, b"no such path"),
                    "html": raw(200, b"<html>busy</html>"), "empty": raw(200, b""),
                    "wrong id": raw(200, json.dumps({"jsonrpc": "2.0", "id": 99999, "result": "0x1"}).encode()),
                    "slow": raw(200, b"{}", delay=1.0)}[self.raw_kind]
        if self.method == "chainId":
            self.kind = "chain id"
            return hex(rng.choice([1, 56, 137, 31338]))
        if rng.random() < 0.1:
            self.kind = "whole answer"
            return rng.choice([None, "0x1", [], {}, 7, [None]])
        paths = [p for p in _paths(result) if not isinstance(p[-1], int) or len(p) == 1 or p[:-1] == ("transactions",)]
        path = rng.choice(paths)
        parent = result
        for p in path[:-1]:
            parent = parent[p]
        key = path[-1]
        old = parent[key]
        self.fieldname = key
        op = rng.random()
        if isinstance(key, int):
            self.kind = "list element dropped" if op < 0.5 else "list element doubled"
            if op < 0.5:
                del parent[key]
            else:
                parent.insert(key, json.loads(json.dumps(old)))
        elif key in IDENTITY and op < 0.5:
            self.kind = "wrong identity"
            parent[key] = _other_like(old, rng)
        elif key not in OPTIONAL and op < 0.65:
            self.kind = "missing field"
            del parent[key]
        elif op < 0.85:
            self.kind = "wrong type"
            parent[key] = rng.choice(WRONG_TYPES)
        else:
            self.kind = "huge value"
            parent[key] = rng.choice(HUGE)
        now = parent[key] if (isinstance(parent, dict) and key in parent) or \
            (isinstance(parent, list) and key < len(parent)) else "(gone)"
        self.detail = f"{path}: {str(old)[:40]} -> {str(now)[:40]}"
        return result


def test_a_lying_node_gives_the_true_data_or_a_source_error_and_an_unchanged_store(fake_nodes: Any,
                                                                                    tmp_path: Path) -> None:
    node = fake_nodes(N_BLOCKS)
    truth_ws = _ws(tmp_path / "truth")
    truth_ws.ingest.evm_rpc(node.url, chain="eth-anvil", traces="parity")
    truth = _tables(truth_ws)
    truth_upto = {cut: _tables(truth_ws, cut) for cut in range(PREFIX, N_BLOCKS)}
    truth_ws.close()
    prefix = _ws(tmp_path / "prefix")
    prefix.ingest.evm_rpc(node.url, chain="eth-anvil", traces="parity", to=PREFIX)
    assert _tables(prefix) == truth_upto[PREFIX] | {"tokens": _tables(prefix)["tokens"],
                                                     "account_checkpoints": _tables(prefix)["account_checkpoints"]}
    prefix.close()
    outcomes: dict[str, int] = {}
    for seed in range(SEEDS):
        rng = random.Random(seed)
        mut = Mutation(rng)
        case = tmp_path / f"case{seed}"
        shutil.copytree(tmp_path / "prefix", case)
        ws = _ws(case)
        node.hook = lambda m, p, r, mut=mut: mut(node, m, p, r)
        t0 = time.monotonic()
        try:
            ws.ingest.evm_rpc(node.url, chain="eth-anvil", traces="parity", blocks_per_batch=rng.randint(2, 6))
        except SourceError as e:
            node.hook = None
            msg = str(e)
            where = f"seed {seed}: {mut.kind} {mut.method} block {mut.block} {mut.detail}: {msg}"
            assert e.details.get("method") and ("block" in e.details or "block " in msg), where
            if mut.kind in ("wrong identity", "wrong type", "huge value", "missing field") and \
                    not isinstance(mut.fieldname, int) and mut.method in ("block", "receipts", "traces"):
                assert e.details.get("field") is not None or "receipts for the block" in msg, where
            # exactly as before the failed batch: the blocks below it as they truly are, nothing above it
            stored = ws.store.account.checkpoint("eth-anvil")
            assert stored is not None and PREFIX <= stored[0] < N_BLOCKS - 1, where
            got = _tables(ws)
            for t in BLOCK_COLUMN:
                assert got[t] == truth_upto[stored[0]][t], f"{where}: table {t} differs"
            outcome = "source error"
        else:
            node.hook = None
            assert _tables(ws) == truth, f"seed {seed}: {mut.kind} {mut.method} block {mut.block} {mut.detail}: " \
                                         "the ingest succeeded with other data than the truth"
            outcome = "true data"
        assert time.monotonic() - t0 < 20, f"seed {seed} took {time.monotonic() - t0:.1f} s"
        ws.close()
        shutil.rmtree(case)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes.get("source error", 0) > SEEDS // 4, outcomes   # the generator does lie
