"""Deposit-address clustering through the workspace on a generated world's Ethereum side."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainsleuth.algorithms.clustering import pairwise_scores
from chainsleuth.errors import Conflict, InvalidInput
from chainsleuth.workspace import Workspace


@pytest.mark.slow
def test_clust_eth_deposit_addresses(tmp_path: Path) -> None:
    from chainsleuth.training.typologies import generate_world

    world, key = generate_world("darknet_market", 1, 1, size=1500)
    paths = world.write(tmp_path / "w")
    with Workspace(tmp_path / "ws") as ws:
        ws.ingest.etl(paths["eth"], chain="eth")
        with pytest.raises(Conflict, match="exchange"):
            ws.clustering.cluster("eth", heuristics=["deposit-address"])       # no tags yet: no exchange wallets
        ws.attribution.import_tags([paths["tags"]])
        with pytest.raises(InvalidInput, match="deposit-address"):
            ws.clustering.cluster("eth", heuristics=["co-spend"])               # co-spend means nothing on accounts
        r = ws.clustering.cluster("eth")                                         # the default on account chains
        assert r["deposit_addresses"] > 0 and r["exchange_wallets"] > 0 and r["caveats"]
        cs = ws.store.clusters
        s = cs.get_set("eth")
        assert s is not None and s["name"] == "deposit-address"
        lab = cs.labels("eth", int(s["set_id"]))
        texts = cs.addresses_text("eth", list(range(len(lab))))
        idx = [i for i in range(len(lab)) if f"eth:{texts[i]}" in key.owners]
        ents: dict[str, int] = {}
        truth = [ents.setdefault(key.owners[f"eth:{texts[i]}"], len(ents)) for i in idx]
        assert pairwise_scores([int(lab[i]) for i in idx], truth)["precision"] == 1.0
        # show address on the account chain carries the cluster too
        some = texts[idx[0]]
        info = ws.queries.show_address(some, chain="eth")
        assert info.cluster == {"id": int(lab[idx[0]]), "size": int((lab == lab[idx[0]]).sum())}


def test_clust_deposit_heuristic_rejected_on_utxo() -> None:
    import numpy as np

    from chainsleuth.algorithms.clustering import cluster_utxo
    from chainsleuth.algorithms.txarrays import TxArrays

    t = TxArrays.from_rows(txs=[(0, 1, 1, 0, False)], inputs=[(0, 0, 5, 0xFFFFFFFF, "p2pkh")],
                           outputs=[(0, 0, 1, 4, "p2pkh", -1)])
    with pytest.raises(InvalidInput, match="applies to account chains"):
        cluster_utxo(t, 2, ["co-spend", "deposit-address"])
    assert np.array_equal(cluster_utxo(t, 2, ["co-spend"]).clustering.labels, [0, 1])
