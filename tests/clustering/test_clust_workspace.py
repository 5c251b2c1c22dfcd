"""Clustering through the workspace: blocks written by the seeded writer, ingested by the real parser."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chainsleuth.algorithms.clustering import canonical_labels, cluster_scores, pairwise_scores
from chainsleuth.errors import Conflict, InvalidInput, NotFound
from chainsleuth.workspace import Workspace

from .conftest import ClustWorld, build_clust_world  # type: ignore[import-not-found]

CHAIN = "btc-regtest"


def _labels_by_address(ws: Workspace, chain: str = "btc-regtest") -> dict[str, int]:
    cs = ws.store.clusters
    s = cs.get_set(chain)
    assert s is not None
    lab = cs.labels(chain, int(s["set_id"]))
    texts = cs.addresses_text(chain, list(range(len(lab))))
    return {texts[i]: int(lab[i]) for i in range(len(lab))}


def _scores(ws: Workspace, world: ClustWorld) -> tuple[dict, dict]:
    lab = _labels_by_address(ws)
    addrs = sorted(world.owner)
    pred = [lab[a] for a in addrs]
    truth = [world.owner[a] for a in addrs]
    return pairwise_scores(pred, truth), cluster_scores(pred, truth)


def test_clust_world_precision_and_coinjoins(workspace: Workspace, clust_world: ClustWorld) -> None:
    workspace.ingest.btc_blocks(clust_world.blocks, chain=CHAIN, allow_invalid_pow=True)
    r = workspace.clustering.cluster()
    assert r["mode"] == "batch" and r["heuristics"] == ["co-spend"] and r["unresolved_inputs"] == 0
    pw, _ = _scores(workspace, clust_world)
    assert pw["precision"] == 1.0 and pw["correct_pairs"] > 0
    # every CoinJoin of the world is found with its type, nothing else
    found = {c["txid"]: c["kind"] for c in workspace.store.clusters.coinjoins(CHAIN)}
    assert found == clust_world.coinjoins
    # with CoinJoins merged, precision drops: that is why they are left out
    workspace.clustering.cluster(include_coinjoins=True)
    pw2, _ = _scores(workspace, clust_world)
    assert pw2["precision"] < 1.0


def test_clust_incremental_ingest_equals_batch(tmp_path: Path) -> None:
    world = build_clust_world(tmp_path / "b", seed=11, rounds=16)
    half = len(world.blocks) // 2
    with Workspace(tmp_path / "inc") as inc:
        inc.ingest.btc_blocks(world.blocks[:half], chain=CHAIN, allow_invalid_pow=True)
        first = inc.clustering.cluster()
        inc.ingest.btc_blocks(world.blocks[half:], chain=CHAIN, allow_invalid_pow=True)
        second = inc.clustering.cluster()
        assert (first["mode"], second["mode"]) == ("batch", "incremental")
        assert second["txs_processed"] < first["txs_processed"] + second["txs_processed"]
        lab_inc = _labels_by_address(inc)
        links_inc = second["links"]
    with Workspace(tmp_path / "batch") as b:
        b.ingest.btc_blocks(world.blocks, chain=CHAIN, allow_invalid_pow=True)
        r = b.clustering.cluster()
        lab_b = _labels_by_address(b)
    addrs = sorted(lab_b)
    x = np.array([lab_inc[a] for a in addrs])
    y = np.array([lab_b[a] for a in addrs])
    # same partition (compared by membership, not by id)
    assert pairwise_scores(x, y)["precision"] == 1.0 and pairwise_scores(x, y)["recall"] == 1.0
    assert links_inc == r["links"]


def test_clust_incremental_revisits_late_prevouts(tmp_path: Path) -> None:
    """Blocks arriving out of order: inputs resolved later are clustered by the next incremental run."""
    world = build_clust_world(tmp_path / "b", seed=5)
    early, late = world.blocks[:3], world.blocks[3:]
    with Workspace(tmp_path / "ooo") as w:
        w.ingest.btc_blocks(late, chain=CHAIN, allow_invalid_pow=True)
        w.clustering.cluster()
        w.ingest.btc_blocks(early, chain=CHAIN, allow_invalid_pow=True)
        w.clustering.cluster()
        lab = _labels_by_address(w)
    with Workspace(tmp_path / "b2") as b:
        b.ingest.btc_blocks(world.blocks, chain=CHAIN, allow_invalid_pow=True)
        b.clustering.cluster()
        lab_b = _labels_by_address(b)
    addrs = sorted(lab_b)
    pw = pairwise_scores([lab[a] for a in addrs], [lab_b[a] for a in addrs])
    assert pw["precision"] == 1.0 and pw["recall"] == 1.0


def test_clust_why_path_names_real_transactions(workspace: Workspace, clust_world: ClustWorld) -> None:
    workspace.ingest.btc_blocks(clust_world.blocks, chain=CHAIN, allow_invalid_pow=True)
    workspace.clustering.cluster(heuristics=["co-spend", "change-consensus"])
    s = workspace.store.clusters.get_set(CHAIN)
    assert s is not None
    big = workspace.store.clusters.largest(CHAIN, int(s["set_id"]), 1)[0]
    c = workspace.clustering.show_cluster(str(big[0]), limit=1000)
    a, b = c["addresses"][0], c["addresses"][-1]
    why = workspace.clustering.show_cluster(a, why=(a, b))["why"]
    assert why["steps"][0]["from"] == a and why["steps"][-1]["to"] == b
    for st in why["steps"]:
        tx = workspace.queries.show_tx(st["txid"])
        ins = {i.address for i in tx.inputs}
        outs = {o.address for o in tx.outputs}
        if st["heuristic"] == "co-spend":
            assert {st["from"], st["to"]} <= ins
        else:
            assert {st["from"], st["to"]} & ins and {st["from"], st["to"]} & outs
    assert 0 < why["confidence"] <= 1
    # the address view carries its cluster
    info = workspace.queries.show_address(a)
    assert info.cluster == {"id": c["id"], "size": c["size"]}
    with pytest.raises(InvalidInput, match="not in cluster"):
        other = next(x for x in clust_world.owner if _labels_by_address(workspace)[x] != c["id"])
        workspace.clustering.show_cluster(a, why=(a, other))


def test_clust_compare_sets(workspace: Workspace, clust_world: ClustWorld) -> None:
    workspace.ingest.btc_blocks(clust_world.blocks, chain=CHAIN, allow_invalid_pow=True)
    workspace.clustering.cluster()
    workspace.clustering.cluster(heuristics=["co-spend", "change:script-type"])
    r = workspace.clustering.compare("co-spend", "co-spend+change:script-type")
    assert r["n_splits"] == 0 and r["n_merges"] > 0 and not r["identical"]
    assert r["pairs_in_both"] == r["pairs_in_set1"]
    same = workspace.clustering.compare("co-spend", "1")
    assert same["identical"]
    with pytest.raises(NotFound, match="no cluster set"):
        workspace.clustering.compare("co-spend", "nope")


def _snapshot(ws: Workspace) -> tuple:
    db = ws.store.db
    return tuple(db.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                 for t in ("cluster_sets", "cluster_members", "cluster_links", "cluster_coinjoins"))


def test_clust_bad_inputs_change_nothing(workspace: Workspace, clust_world: ClustWorld, tmp_path: Path) -> None:
    with pytest.raises(Conflict, match="nothing to cluster"):
        workspace.clustering.cluster()
    assert _snapshot(workspace) == (0, 0, 0, 0)
    workspace.ingest.btc_blocks(clust_world.blocks, chain=CHAIN, allow_invalid_pow=True)
    workspace.clustering.cluster()
    before = _snapshot(workspace)
    with pytest.raises(InvalidInput, match=r"unknown heuristic 'cospend'; choose one of: .*co-spend"):
        workspace.clustering.cluster(heuristics=["cospend"])
    with pytest.raises(InvalidInput, match="alert size"):
        workspace.clustering.cluster(alert_size=0)
    assert _snapshot(workspace) == before
    # only blocks whose spent outputs are missing: no input address is known
    with Workspace(tmp_path / "noprev") as w:
        w.ingest.btc_blocks(clust_world.blocks[-1:], chain=CHAIN, allow_invalid_pow=True)
        with pytest.raises(Conflict, match="spent output"):
            w.clustering.cluster()
        assert _snapshot(w) == (0, 0, 0, 0)
    with pytest.raises(NotFound):
        workspace.clustering.show_cluster("999999")


def test_clust_alert_on_large_merge(workspace: Workspace, clust_world: ClustWorld) -> None:
    workspace.ingest.btc_blocks(clust_world.blocks, chain=CHAIN, allow_invalid_pow=True)
    r = workspace.clustering.cluster(heuristics=["co-spend", "change-consensus"], alert_size=2)
    assert r["alerts"], "a merge of two clusters of 2+ addresses should raise an alert"
    a = r["alerts"][0]
    assert a["size_a"] >= 2 and a["size_b"] >= 2 and len(a["txid"]) == 64
    quiet = workspace.clustering.cluster(heuristics=["co-spend", "change-consensus"], alert_size=10**6)
    assert quiet["alerts"] == []


def test_clust_membership_matches_truth_partition_for_cospend(workspace: Workspace, clust_world: ClustWorld) -> None:
    """No cluster mixes owners; every cluster with links is within one entity."""
    workspace.ingest.btc_blocks(clust_world.blocks, chain=CHAIN, allow_invalid_pow=True)
    workspace.clustering.cluster()
    lab = _labels_by_address(workspace)
    by_cluster: dict[int, set[int]] = {}
    for a, e in clust_world.owner.items():
        by_cluster.setdefault(lab[a], set()).add(e)
    assert all(len(v) == 1 for v in by_cluster.values())
    assert len(set(canonical_labels(np.array(list(lab.values())) % 10**9).tolist())) >= 1
