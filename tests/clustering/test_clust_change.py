"""Change heuristics on constructed transactions, the consensus, and change links."""

from __future__ import annotations

import numpy as np
import pytest

from chainsleuth.algorithms.clustering import (
    CHANGE_HEURISTICS,
    change_consensus,
    change_edges,
    detect_change,
)
from chainsleuth.algorithms.txarrays import TxArrays

SEQ = 0xFFFFFFFF


def _guess(t: TxArrays, h: str, tx: int = 0) -> int | None:
    g = detect_change(t, [h])[h]
    rows = g.tx_row.tolist()
    r = t.row_of(tx)
    return None if r not in rows else int(t.out_n[g.out_row[rows.index(r)]])


def test_clust_address_reuse() -> None:
    t = TxArrays.from_rows(txs=[(0, 1, 2, 0, False)], inputs=[(0, 9, 100, SEQ, "p2pkh")],
                           outputs=[(0, 0, 5, 60, "p2pkh", -1), (0, 1, 9, 39, "p2pkh", -1)])
    assert _guess(t, "address-reuse") == 1


def test_clust_one_time_change() -> None:
    # address 5 received before (tx 0); address 6 is new in tx 1 -> change
    t = TxArrays.from_rows(
        txs=[(0, 1, 2, 0, True), (1, 2, 2, 0, False)],
        inputs=[(1, 9, 100, SEQ, "p2pkh")],
        outputs=[(0, 0, 5, 50, "p2pkh", -1), (1, 0, 5, 60, "p2pkh", -1), (1, 1, 6, 39, "p2pkh", -1)])
    assert _guess(t, "one-time-change", 1) == 1
    # both outputs new: no single guess
    t2 = TxArrays.from_rows(
        txs=[(1, 2, 2, 0, False)], inputs=[(1, 9, 100, SEQ, "p2pkh")],
        outputs=[(1, 0, 5, 60, "p2pkh", -1), (1, 1, 6, 39, "p2pkh", -1)])
    assert _guess(t2, "one-time-change", 1) is None


def test_clust_script_type() -> None:
    t = TxArrays.from_rows(txs=[(0, 1, 2, 0, False)], inputs=[(0, 9, 100, SEQ, "p2wpkh")],
                           outputs=[(0, 0, 5, 60, "p2pkh", -1), (0, 1, 6, 39, "p2wpkh", -1)])
    assert _guess(t, "script-type") == 1
    same = TxArrays.from_rows(txs=[(0, 1, 2, 0, False)], inputs=[(0, 9, 100, SEQ, "p2wpkh")],
                              outputs=[(0, 0, 5, 60, "p2wpkh", -1), (0, 1, 6, 39, "p2wpkh", -1)])
    assert _guess(same, "script-type") is None


def test_clust_optimal_change() -> None:
    t = TxArrays.from_rows(txs=[(0, 1, 2, 0, False)],
                           inputs=[(0, 8, 50, SEQ, "p2pkh"), (0, 9, 60, SEQ, "p2pkh")],
                           outputs=[(0, 0, 5, 80, "p2pkh", -1), (0, 1, 6, 29, "p2pkh", -1)])
    assert _guess(t, "optimal-change") == 1


def test_clust_round_amount() -> None:
    t = TxArrays.from_rows(txs=[(0, 1, 2, 0, False)], inputs=[(0, 9, 100_000_000, SEQ, "p2pkh")],
                           outputs=[(0, 0, 5, 50_000_000, "p2pkh", -1), (0, 1, 6, 49_987_654, "p2pkh", -1)])
    assert _guess(t, "round-amount") == 1


def test_clust_fingerprint() -> None:
    # tx 0 (version 2, locktime>0, RBF) pays outputs spent by tx 1 (same fingerprint) and tx 2 (version 1)
    t = TxArrays.from_rows(
        txs=[(0, 1, 2, 700, False), (1, 2, 2, 701, False), (2, 2, 1, 0, False)],
        inputs=[(0, 9, 100, 0xFFFFFFFD, "p2wpkh"), (1, 6, 39, 0xFFFFFFFD, "p2wpkh"), (2, 5, 60, SEQ, "p2wpkh")],
        outputs=[(0, 0, 5, 60, "p2wpkh", 2), (0, 1, 6, 39, "p2wpkh", 1),
                 (1, 0, 7, 38, "p2wpkh", -1), (2, 0, 8, 59, "p2wpkh", -1)])
    assert _guess(t, "fingerprint", 0) == 1


def test_clust_peel_chain() -> None:
    # 1-in/2-out txs: output 1 of tx 0 continues into tx 1 (also 1-in/2-out)
    t = TxArrays.from_rows(
        txs=[(0, 1, 2, 0, False), (1, 2, 2, 0, False)],
        inputs=[(0, 9, 100, SEQ, "p2pkh"), (1, 6, 90, SEQ, "p2pkh")],
        outputs=[(0, 0, 5, 9, "p2pkh", -1), (0, 1, 6, 90, "p2pkh", 1),
                 (1, 0, 7, 10, "p2pkh", -1), (1, 1, 8, 79, "p2pkh", -1)])
    assert _guess(t, "peel-chain", 0) == 1
    assert _guess(t, "peel-chain", 1) is None


def test_clust_change_skips_coinbase_unknown_inputs_and_excluded() -> None:
    t = TxArrays.from_rows(
        txs=[(0, 1, 2, 0, True), (1, 1, 2, 0, False), (2, 1, 2, 0, False)],
        inputs=[(1, -1, -1, SEQ, "p2pkh"), (2, 9, 100, SEQ, "p2pkh")],
        outputs=[(0, 0, 5, 60, "p2pkh", -1), (0, 1, 9, 40, "p2pkh", -1),
                 (1, 0, 5, 60, "p2pkh", -1), (1, 1, 9, 39, "p2pkh", -1),
                 (2, 0, 5, 60, "p2pkh", -1), (2, 1, 9, 39, "p2pkh", -1)])
    g = detect_change(t, CHANGE_HEURISTICS, exclude_rows=np.array([2]))
    assert all(len(x) == 0 for x in g.values())
    with pytest.raises(ValueError, match="unknown change heuristic"):
        detect_change(t, ["psychic"])


def test_clust_consensus_and_evidence() -> None:
    t = TxArrays.from_rows(txs=[(0, 1, 2, 0, False)], inputs=[(0, 9, 100_000_000, SEQ, "p2wpkh")],
                           outputs=[(0, 0, 5, 50_000_000, "p2pkh", -1), (0, 1, 6, 49_987_654, "p2wpkh", -1)])
    g = detect_change(t, ["script-type", "round-amount", "optimal-change"])
    c = change_consensus(g, t.n_tx)
    assert c.out_row.tolist() == [1]
    assert c.confidence[0] == pytest.approx(1 - (1 - 0.7) * (1 - 0.55))
    ev = g["script-type"].evidence(0, t)
    assert ev.heuristic == "change:script-type" and ev.details["address_id"] == 6 and "BlockSci" in ev.source
    e = change_edges(t, c, name="change-consensus")
    assert (e.a.tolist(), e.b.tolist(), e.names) == ([9], [6], ("change-consensus",))
    # conflicting heuristics: no consensus
    t2 = TxArrays.from_rows(txs=[(0, 1, 2, 0, False)], inputs=[(0, 9, 100_000_000, SEQ, "p2wpkh")],
                            outputs=[(0, 0, 5, 50_000_001, "p2pkh", -1), (0, 1, 6, 49_000_000, "p2wpkh", -1)])
    g2 = detect_change(t2, ["script-type", "round-amount"])
    assert len(g2["script-type"]) == 1 and len(g2["round-amount"]) == 1
    assert len(change_consensus(g2, 1)) == 0


def test_clust_explain_tx_through_workspace(tmp_path) -> None:
    """Per-transaction view: a CoinJoin says so and gets no change guess; a payment gets guesses whose
    evidence names a real output of the transaction."""
    from chainsleuth.workspace import Workspace

    from .conftest import build_clust_world  # type: ignore[import-not-found]

    world = build_clust_world(tmp_path / "b", seed=7)
    with Workspace(tmp_path / "ws") as ws:
        ws.ingest.btc_blocks(world.blocks, chain="btc-regtest", allow_invalid_pow=True)
        cj_txid, kind = next(iter(world.coinjoins.items()))
        e = ws.clustering.explain_tx(cj_txid)
        assert e["coinjoin"]["heuristic"] == f"coinjoin:{kind}" and all(v is None for v in e["change"].values())
        spoke = 0
        for txid in world.txids:
            if txid in world.coinjoins:
                continue
            e = ws.clustering.explain_tx(txid)
            tx = ws.queries.show_tx(txid)
            for ev in e["change"].values():
                if ev is not None:
                    spoke += 1
                    assert tx.outputs[ev["details"]["output"]].address == ev["details"]["address"]
        assert spoke > 0
