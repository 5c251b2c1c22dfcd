"""The UTXO store on hand-built batches: ids, idempotence, prevout resolution, heights, atomicity."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pytest

from chainsleuth.core.records import BLOCK_SCHEMA, INPUT_SCHEMA, OUTPUT_SCHEMA, TX_SCHEMA, UtxoBatch
from chainsleuth.errors import InvalidInput
from chainsleuth.store import Store


def _h(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def _batch(blocks: list[dict]) -> UtxoBatch:
    """blocks: [{hash, prev, height, src, txs: [{txid, ins: [(prev_txid, prev_n)], outs: [(addr, value)]}]}]"""
    b, t, o, i = [], [], [], []
    for blk in blocks:
        b.append({"chain": "btc", "hash": blk["hash"], "height": blk.get("height"),
                  "height_source": blk.get("src"), "prev_hash": blk["prev"], "merkle_root": "00" * 32,
                  "time": 1_600_000_000 + (blk.get("height") or 0), "version": 2, "bits": 0, "nonce": 0,
                  "tx_count": len(blk["txs"]), "size": 1, "stripped_size": 1, "weight": 4,
                  "source_file": "mem", "source_offset": 0})
        for k, tx in enumerate(blk["txs"]):
            cb = not tx["ins"]
            t.append({"chain": "btc", "txid": tx["txid"], "wtxid": tx["txid"], "block_hash": blk["hash"],
                      "block_index": k, "version": 1, "locktime": 0, "size": 1, "vsize": 1, "weight": 4,
                      "is_coinbase": cb, "has_witness": False, "n_in": max(1, len(tx["ins"])),
                      "n_out": len(tx["outs"]), "output_value": sum(v for _, v in tx["outs"])})
            for n, (addr, value) in enumerate(tx["outs"]):
                o.append({"chain": "btc", "txid": tx["txid"], "block_hash": blk["hash"], "n": n, "value": value,
                          "script_type": "p2pkh" if addr else "op_return", "address": addr, "script": b"\x00"})
            ins = tx["ins"] or [(None, 0xFFFFFFFF)]
            for n, (pt, pn) in enumerate(ins):
                i.append({"chain": "btc", "txid": tx["txid"], "block_hash": blk["hash"], "n": n, "prev_txid": pt,
                          "prev_n": pn, "sequence": 0xFFFFFFFF, "script_sig_size": 0, "witness_items": 0})
    return UtxoBatch(pa.Table.from_pylist(b, BLOCK_SCHEMA), pa.Table.from_pylist(t, TX_SCHEMA),
                     pa.Table.from_pylist(o, OUTPUT_SCHEMA), pa.Table.from_pylist(i, INPUT_SCHEMA))


G = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"   # mainnet genesis: heights link from it
B1, B2 = _h("b1"), _h("b2")
CB0, CB1, SPEND, CB2 = _h("cb0"), _h("cb1"), _h("spend"), _h("cb2")

CHAIN = [
    {"hash": G, "prev": "00" * 32, "height": 0, "src": "genesis",
     "txs": [{"txid": CB0, "ins": [], "outs": [("alice", 50_0000_0000)]}]},
    {"hash": B1, "prev": G, "txs": [
        {"txid": CB1, "ins": [], "outs": [("miner", 50_0000_0000)]},
        # spends alice's coinbase in the same batch: 10 BTC to bob, 39.99 back to alice, 0.01 fee
        {"txid": SPEND, "ins": [(CB0, 0)], "outs": [("bob", 10_0000_0000), ("alice", 39_9900_0000), (None, 0)]},
    ]},
]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "t.duckdb")
    yield s
    s.close()


def _run(store: Store) -> int:
    return store.runs.start(chain="btc", source_kind="test", endpoint="mem", software_version="t")


def test_write_resolves_prevouts_and_links_heights(store: Store) -> None:
    res = store.utxo.write_batch(_batch(CHAIN), _run(store))
    assert (res.blocks_new, res.txs_new, res.outputs_new, res.inputs_new, res.inputs_resolved) == (2, 3, 5, 3, 1)
    assert store.utxo.block("btc", hash=B1)["height"] == 1  # linked to the genesis parent in the same batch
    tx = store.utxo.tx("btc", SPEND)
    assert tx["fee"] == 50_0000_0000 - 10_0000_0000 - 39_9900_0000 == 100_0000
    assert tx["inputs"] == [{"n": 0, "address": "alice", "value": 50_0000_0000, "prev_txid": CB0, "prev_n": 0,
                             "outpoint": f"{CB0}:0", "script_type": "p2pkh"}]
    assert store.utxo.tx("btc", CB0)["outputs"][0]["spent_by"] == f"{SPEND}:0"
    alice = store.utxo.address_summary("btc", "alice")
    assert (alice["received"], alice["sent"], alice["balance"], alice["tx_count"]) == (
        89_9900_0000, 50_0000_0000, 39_9900_0000, 2)


def test_same_batch_twice_changes_nothing(store: Store) -> None:
    store.utxo.write_batch(_batch(CHAIN), _run(store))
    before = store.utxo.stats()
    res = store.utxo.write_batch(_batch(CHAIN), _run(store))
    assert res.blocks_new == 0
    assert store.utxo.stats() == before


def test_prevout_resolves_when_older_block_arrives_later(store: Store) -> None:
    store.utxo.write_batch(_batch(CHAIN[1:]), _run(store))
    tx = store.utxo.tx("btc", SPEND)
    assert tx["fee"] is None and tx["inputs"][0]["value"] is None
    assert store.db.one("SELECT count(*) FROM unresolved_inputs") == (1,)
    assert store.utxo.block("btc", hash=B1)["height"] is None
    res = store.utxo.write_batch(_batch(CHAIN[:1]), _run(store))
    assert res.inputs_resolved == 1
    assert store.utxo.tx("btc", SPEND)["fee"] == 100_0000
    assert store.db.one("SELECT count(*) FROM unresolved_inputs") == (0,)
    # blk*.dat order is arrival order: the child stored first gets its height when the parent arrives
    assert store.utxo.block("btc", hash=G)["height"] == 0
    assert store.utxo.block("btc", hash=B1)["height"] == 1


def test_child_in_later_batch_gets_parent_height(store: Store) -> None:
    store.utxo.write_batch(_batch(CHAIN), _run(store))
    nxt = [{"hash": B2, "prev": B1, "txs": [{"txid": CB2, "ins": [], "outs": [("carol", 1)]}]}]
    res = store.utxo.write_batch(_batch(nxt), _run(store))
    assert (res.first_height, res.last_height) == (2, 2)


def test_bip34_height_that_contradicts_parent_is_refused_atomically(store: Store) -> None:
    store.utxo.write_batch(_batch(CHAIN), _run(store))
    before = store.utxo.stats()
    bad = [{"hash": B2, "prev": B1, "height": 7, "src": "bip34",
            "txs": [{"txid": CB2, "ins": [], "outs": [("carol", 1)]}]}]
    with pytest.raises(InvalidInput, match="claims height 7"):
        store.utxo.write_batch(_batch(bad), _run(store))
    assert store.utxo.stats() == before


def test_failure_mid_batch_rolls_back(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    before = store.utxo.stats()

    def boom(*a: object, **k: object) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(type(store.utxo.writer), "_write_block_fields", staticmethod(boom))   # after the blocks
    with pytest.raises(RuntimeError):
        store.utxo.write_batch(_batch(CHAIN), _run(store))
    assert store.utxo.stats() == before == {}
    assert store.db.execute("SELECT count(*) FROM addresses").fetchone()[0] == 0


def test_migrations_are_recorded_and_idempotent(tmp_path: Path) -> None:
    s = Store(tmp_path / "m.duckdb")
    v = s.schema_version()
    assert v >= 2
    assert s.db.migrate() == []
    s.close()
    ro = Store(tmp_path / "m.duckdb", read_only=True)
    assert ro.schema_version() == v
    ro.close()


def test_block_repeated_inside_one_batch_is_stored_once(store: Store) -> None:
    doubled = _batch([*CHAIN, CHAIN[1]])
    res = store.utxo.write_batch(doubled, _run(store))
    assert (res.blocks_new, res.txs_new, res.outputs_new, res.inputs_new) == (2, 3, 5, 3)
    tx = store.utxo.tx("btc", SPEND)
    assert len(tx["inputs"]) == 1 and len(tx["outputs"]) == 3 and tx["fee"] == 100_0000
