"""The best chain: stale blocks are stored but readers do not count them; a branch with more work takes over
in one transaction, whatever the order its blocks came in.

Real forks: btcd's blk_0_to_4.dat (the mainnet genesis and a private difficulty-1 chain 1-4 above it) and
blk_3A/4A/5A.dat (a fork off its block 2), and the same side chain against the real mainnet blocks 0-438.
A generated reorg: two regtest branches that spend the same coin to different people.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import pytest

from chainsleuth.core.btc.builder import BlockBuilder, KeyRing, TxSpec
from chainsleuth.sources.btc.files import BlockFileSource
from chainsleuth.sources.btc.parser import BlockParser
from chainsleuth.store import Store

from ._canon import canonical_tables

B = {  # btcd's side chain (MANIFEST.csv of btc-blocks-btcd)
    "3": "00000000bc3589303953766cc9364130cb97bc3749bae170f476d45f1e23f850",
    "4": "000000002f264d6504013e73b9c913de9098d4d771c1bb219af475d2a01b128e",
    "3A": "00000000474284d20067a4d33f6a02284e6ef70764a3a26d6a5b9df52ef663dd",
    "4A": "00000000551dc04c148242d1f648802577df8cf7d4e1b469211016280204a2bf",
    "5A": "00000000195f85184e77c18914bd0febd11278d950f5e4731a38f71ed79f044e",
}
GENESIS_ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "s.duckdb")
    yield s
    s.close()


def ingest(store: Store, paths: Sequence[Path], chain: str | None = None) -> None:
    src = BlockFileSource(list(paths), chain=chain, allow_invalid_pow=True)
    run = store.runs.start(chain=src.chain, source_kind="btc-blocks", endpoint="test", software_version="t")
    for batch in src.iter_batches():
        store.utxo.write_batch(batch, run)


def ingest_raw(store: Store, blocks: Sequence[bytes], chain: str = "btc-regtest") -> None:
    p = BlockParser(chain, check_pow=False)
    run = store.runs.start(chain=chain, source_kind="test", endpoint="mem", software_version="t")
    for i, raw in enumerate(blocks):
        p.parse_block(raw, 0, len(raw), source_file="mem", source_offset=i)
    store.utxo.write_batch(p.flush(), run)


def best(store: Store, chain: str = "btc") -> set[str]:
    return {r[0] for r in store.db.all("SELECT hash FROM blocks WHERE chain = ? AND best", [chain])}


def stale(store: Store, chain: str = "btc") -> set[str]:
    return {r[0] for r in store.db.all("SELECT hash FROM blocks WHERE chain = ? AND NOT best", [chain])}


def test_btcd_fork_longer_branch_takes_over(shared_data: Path, store: Store) -> None:
    d = shared_data / "btc-blocks-btcd"
    ingest(store, [d / "blk_0_to_4.dat", d / "blk_3A.dat"])
    assert stale(store) == {B["3A"]}                            # 4 blocks above genesis beat 3
    assert store.utxo.block("btc", height=3)["hash"] == B["3"]
    ingest(store, [d / "blk_4A.dat"])
    # 4 and 4A: equal work and length; the smaller hash wins (Bitcoin Core would keep the first seen: also 4)
    assert stale(store) == {B["3A"], B["4A"]}
    ingest(store, [d / "blk_5A.dat"])
    assert stale(store) == {B["3"], B["4"]}
    assert store.utxo.block("btc", height=3)["hash"] == B["3A"]
    assert store.utxo.block("btc", height=5)["hash"] == B["5A"]
    assert store.utxo.block("btc", hash=B["4"])["height"] == 4  # a stale block stays readable by hash
    st = store.utxo.stats()["btc"]
    assert (st["blocks"], st["stale_blocks"], st["max_height"]) == (6, 2, 5)
    # the rows of the stale blocks left the best chain with them, in every table
    for table in ("txs", "outputs", "inputs"):
        n = store.db.one(f"SELECT count(*) FROM {table} t JOIN txs x ON x.chain = t.chain AND x.tx_id = t.tx_id "
                         f"JOIN blocks b ON b.chain = x.chain AND b.hash = x.block_hash WHERE t.best <> b.best")
        assert n == (0,), table


def test_btcd_fork_in_any_order_gives_the_same_store(shared_data: Path, tmp_path: Path) -> None:
    d = shared_data / "btc-blocks-btcd"
    files = [d / "blk_5A.dat", d / "blk_0_to_4.dat", d / "blk_4A.dat", d / "blk_3A.dat"]
    one, many = Store(tmp_path / "one.duckdb"), Store(tmp_path / "many.duckdb")
    try:
        ingest(one, files)
        for f in reversed(files):
            ingest(many, [f])
        assert stale(one) == stale(many) == {B["3"], B["4"]}
        assert canonical_tables(one) == canonical_tables(many)
    finally:
        one.close()
        many.close()


def test_side_chain_off_mainnet_genesis_does_not_count(shared_data: Path, store: Store) -> None:
    ingest(store, [shared_data / "btc-blocks-bitcoinj/first-100k-blocks.dat",
                   shared_data / "btc-blocks-btcd/blk_0_to_4.dat"])
    st = store.utxo.stats()["btc"]
    assert (st["blocks"], st["stale_blocks"], st["max_height"], st["segments"]) == (439, 4, 438, 1)
    assert store.utxo.address_summary("btc", GENESIS_ADDRESS)["received"] == 50_0000_0000
    fake1 = store.db.one("SELECT t.txid FROM txs t JOIN blocks b ON b.hash = t.block_hash WHERE NOT b.best "
                         "AND b.prev_hash = '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f'")
    assert store.utxo.tx("btc", fake1[0]) is None                      # readers see the best chain
    assert store.utxo.tx("btc", fake1[0], include_stale=True)["txid"] == fake1[0]   # unless asked


def _two_branches() -> tuple[list[bytes], list[bytes], list[bytes], dict[str, str]]:
    """A shared prefix, branch A spending alice's coin to bob, a longer branch B spending it to carol, and A
    extended to be longer again. Returns (prefix + A, prefix + B, A's extension, addresses)."""
    keys = KeyRing(seed=5, chain="btc-regtest")
    who = {name: keys.address(i, "p2wpkh") for i, name in enumerate(["alice", "bob", "carol", "miner"])}
    bb = BlockBuilder("btc-regtest", seed=5)
    coin = bb.add_block([], coinbase_to=who["alice"]).txids[0]
    for _ in range(3):
        bb.add_block([], coinbase_to=who["miner"])
    fork = copy.deepcopy(bb)
    bb.add_block([TxSpec(inputs=[(coin, 0)], outputs=[(who["bob"], 49_0000_0000)])], coinbase_to=who["miner"])
    bb.add_block([], coinbase_to=who["miner"])
    a = bb.raw_blocks()
    fork.add_block([TxSpec(inputs=[(coin, 0)], outputs=[(who["carol"], 48_0000_0000)])], coinbase_to=who["miner"])
    for _ in range(2):
        fork.add_block([], coinbase_to=who["miner"])
    b = fork.raw_blocks()
    for _ in range(2):
        bb.add_block([], coinbase_to=who["miner"])
    return a, b, bb.raw_blocks()[len(a):], who


def _balances(store: Store, who: dict[str, str]) -> dict[str, int]:
    out = {}
    for name, addr in who.items():
        s = store.utxo.address_summary("btc-regtest", addr)
        out[name] = 0 if s is None else s["balance"]
    return out


def test_generated_reorg_moves_balances_spends_and_graph(tmp_path: Path, store: Store) -> None:
    a, b, a_more, who = _two_branches()
    ingest_raw(store, a)
    assert _balances(store, who)["bob"] == 49_0000_0000
    coin = store.db.one("SELECT txid FROM txs t JOIN outputs o ON o.tx_id = t.tx_id JOIN addresses x "
                        "ON x.id = o.address_id WHERE x.address = ?", [who["alice"]])[0]
    spend_a = store.utxo.tx("btc-regtest", coin)["outputs"][0]["spent_by"]
    ingest_raw(store, b)                                   # B is longer: carol's spend wins, bob's is stale
    bal = _balances(store, who)
    assert (bal["alice"], bal["bob"], bal["carol"]) == (0, 0, 48_0000_0000)
    spend_b = store.utxo.tx("btc-regtest", coin)["outputs"][0]["spent_by"]
    assert spend_b != spend_a and spend_b is not None
    g = store.graph.utxo_arrays("btc-regtest")             # the tracing graph holds the best chain only
    addr_ids = {store.utxo.address_id("btc-regtest", who[n]) for n in ("bob",)}
    assert not set(g["out_addr"].tolist()) & addr_ids
    ingest_raw(store, a_more)                              # A grows longer again: bob's spend is back
    bal = _balances(store, who)
    assert (bal["bob"], bal["carol"]) == (49_0000_0000, 0)
    assert store.utxo.tx("btc-regtest", coin)["outputs"][0]["spent_by"] == spend_a
    # the same as a clean ingest of every block, and best-chain balances as of the winning branch alone
    clean = Store(tmp_path / "clean.duckdb")
    alone = Store(tmp_path / "alone.duckdb")
    try:
        ingest_raw(clean, a + b[len(a) - 2:] + a_more)
        ingest_raw(alone, a + a_more)
        assert canonical_tables(clean, "btc-regtest") == canonical_tables(store, "btc-regtest")
        assert _balances(alone, who) == _balances(store, who)
    finally:
        clean.close()
        alone.close()


def test_failed_batch_during_a_reorg_keeps_the_old_best_chain(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, _, who = _two_branches()
    ingest_raw(store, a)
    before = (best(store, "btc-regtest"), _balances(store, who), store.utxo.stats())

    def boom(*args: object, **kw: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(type(store.utxo.writer), "_flag_rows", staticmethod(boom))
    with pytest.raises(RuntimeError):
        ingest_raw(store, b)
    assert (best(store, "btc-regtest"), _balances(store, who), store.utxo.stats()) == before
    monkeypatch.undo()
    ingest_raw(store, b)                                    # and the next try (state rebuilt) does the reorg
    assert _balances(store, who)["carol"] == 48_0000_0000
