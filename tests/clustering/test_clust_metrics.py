"""Evaluation metrics against brute force, and the pooled evaluation on the seeded world."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from chainsleuth.algorithms.clustering import cluster_scores, detection_scores, pairwise_scores
from chainsleuth.algorithms.clustering.evaluation import EVAL_SETS, combine, evaluate_world, render_cards
from chainsleuth.algorithms.txarrays import TxArrays
from chainsleuth.workspace import Workspace

from .conftest import build_clust_world  # type: ignore[import-not-found]


@pytest.mark.parametrize("seed", range(6))
def test_clust_pairwise_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    pred, truth = rng.integers(0, 5, n), rng.integers(0, 5, n)
    pairs = list(itertools.combinations(range(n), 2))
    same_p = {p for p in pairs if pred[p[0]] == pred[p[1]]}
    same_t = {p for p in pairs if truth[p[0]] == truth[p[1]]}
    s = pairwise_scores(pred, truth)
    assert s["predicted_pairs"] == len(same_p) and s["true_pairs"] == len(same_t)
    assert s["correct_pairs"] == len(same_p & same_t)


def test_clust_cluster_scores_edge_cases() -> None:
    assert cluster_scores([0, 1, 2], [0, 1, 2]) == {"precision": 1.0, "recall": 1.0, "exact": 1.0,
                                                    "predicted_clusters": 0, "true_entities": 0}
    s = cluster_scores([0, 0, 0, 0], [1, 1, 2, 2])
    assert s["precision"] == 0.0 and s["recall"] == 1.0 and s["exact"] == 0.0
    with pytest.raises(ValueError, match="differ in length"):
        pairwise_scores([0, 1], [0])


def test_clust_detection_scores() -> None:
    r = detection_scores(["a", "a", None, None], ["a", None, "a", None], ["a"])
    assert r["a"] == {"precision": 0.5, "recall": 0.5, "tp": 1, "fp": 1, "fn": 1}


def test_clust_evaluation_on_seeded_world(tmp_path: Path) -> None:
    world = build_clust_world(tmp_path / "b", seed=3, rounds=14)
    with Workspace(tmp_path / "ws") as ws:
        ws.ingest.btc_blocks(world.blocks, chain="btc-regtest", allow_invalid_pow=True)
        cs = ws.store.clusters
        cols, names = cs.tx_arrays("btc-regtest")
        t = TxArrays.from_columns(cols, names)
        n = cs.input_status("btc-regtest")["addresses"]
        texts = cs.addresses_text("btc-regtest", list(range(n)))
        owner = np.array([world.owner.get(texts[i], -1) for i in range(n)])
        txids = cs.txids("btc-regtest", t.tx_id.tolist())
        truth = [world.coinjoins.get(txids[i]) for i in t.tx_id.tolist()]
    r = evaluate_world(t, n, owner, truth, chain="btc-regtest")
    assert set(r["sets"]) == {label for label, _, _ in EVAL_SETS}
    assert r["sets"]["co-spend"]["pairwise"]["precision"] == 1.0
    assert r["sets"]["co-spend, CoinJoins included"]["pairwise"]["precision"] < 1.0
    assert r["coinjoin"]["any"]["recall"] == 1.0 and r["coinjoin"]["any"]["precision"] == 1.0
    # every output of this world goes to a fresh address, so one-time change must abstain; entities keep one
    # script type, so where payer and payee types differ script-type matching is always right
    assert r["change"]["one-time-change"]["guesses"] == 0
    st = r["change"]["script-type"]
    assert st["guesses"] > 0 and st["correct"] == st["guesses"]
    pooled = combine([r, r])
    assert pooled["sets"]["co-spend"]["pairwise"]["true_pairs"] == 2 * r["sets"]["co-spend"]["pairwise"]["true_pairs"]
    cards = render_cards(pooled, provenance="a test world")
    assert "co-spend.md" in cards and "coinjoin-detection.md" in cards
    p = r["sets"]["co-spend"]["pairwise"]
    assert f"| co-spend | {p['precision']:.4f} | {p['recall']:.4f} |" in cards["co-spend.md"]
