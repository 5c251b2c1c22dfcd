"""``eval clustering`` on generated training worlds: the done-criterion and cards made from the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainsleuth.workspace import Workspace


@pytest.mark.slow
def test_clust_eval_training_worlds_and_cards(tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as ws:
        r = ws.evaluation.clustering(seeds=[1, 2], size=1500, cards_dir=tmp_path / "cards")
    sets = r["results"]["sets"]
    # the default set (co-spend, CoinJoins left out) must not merge different owners
    assert sets["co-spend"]["pairwise"]["precision"] >= 0.995
    # merging CoinJoin inputs is what ruins precision: the exclusion matters
    assert sets["co-spend, CoinJoins included"]["pairwise"]["precision"] < sets["co-spend"]["pairwise"]["precision"]
    assert r["results"]["coinjoin"]["any"]["recall"] >= 0.95
    assert len(r["worlds"]) == 2 and all(w["txs"] > 0 for w in r["worlds"])
    cards = {Path(p).name: Path(p).read_text() for p in r["cards"]}
    assert {"co-spend.md", "coinjoin-detection.md", "change-consensus.md"} <= set(cards)
    p = sets["co-spend"]["pairwise"]
    assert f"| co-spend | {p['precision']:.4f} | {p['recall']:.4f} |" in cards["co-spend.md"]
    assert "seeds 1, 2" in cards["co-spend.md"]


def test_clust_eval_bad_input(tmp_path: Path) -> None:
    from chainsleuth.errors import InvalidInput

    with Workspace(tmp_path / "ws") as ws:
        with pytest.raises(InvalidInput, match="seed"):
            ws.evaluation.clustering(seeds=[])
        with pytest.raises(InvalidInput, match="unknown scenario typology"):
            ws.evaluation.clustering(seeds=[1], typology="nope")
