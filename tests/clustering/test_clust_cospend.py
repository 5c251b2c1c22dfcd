"""Co-spend edges, batch vs incremental clustering, links as evidence, link paths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from chainsleuth.algorithms.clustering import (
    Edges,
    canonical_labels,
    cluster_edges,
    compare_labels,
    cospend_edges,
    link_path,
)


def _random_inputs(rng: np.random.Generator, n_tx: int, n_addr: int) -> tuple[np.ndarray, np.ndarray]:
    k = rng.integers(1, 5, n_tx)
    tx = np.repeat(np.arange(n_tx), k)
    return tx, rng.integers(-1, n_addr, len(tx))


def test_clust_cospend_edges_star_per_tx() -> None:
    e = cospend_edges(np.array([1, 1, 1, 2, 2, 3]), np.array([5, 6, -1, 7, 8, 9]), exclude=np.array([2]))
    assert list(zip(e.a.tolist(), e.b.tolist(), e.tx_id.tolist(), strict=True)) == [(5, 6, 1)]
    assert e.names == ("co-spend",) and (e.confidence == 1).all()


def test_clust_cospend_unsorted_input_same_as_sorted() -> None:
    rng = np.random.default_rng(1)
    tx, ad = _random_inputs(rng, 200, 100)
    p = rng.permutation(len(tx))
    a = cluster_edges(100, cospend_edges(tx, ad))
    b = cluster_edges(100, cospend_edges(tx[p], ad[p]))
    assert np.array_equal(a.labels, b.labels)


@pytest.mark.parametrize("seed", range(5))
def test_clust_incremental_equals_batch(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_addr = 400
    tx, ad = _random_inputs(rng, 500, n_addr)
    batch = cluster_edges(n_addr, cospend_edges(tx, ad))
    # three increments, the address space growing as blocks arrive
    cuts = sorted(rng.choice(np.arange(1, 500), 2, replace=False).tolist())
    prior = None
    links = 0
    for lo, hi in zip([0, *cuts], [*cuts, 500], strict=True):
        sel = (tx >= lo) & (tx < hi)
        seen = int(ad[tx < hi].max()) + 1
        prior = cluster_edges(max(seen, 0 if prior is None else prior.n_addresses),
                              cospend_edges(tx[sel], ad[sel]), prior=prior)
        links += len(prior.links)
    assert prior is not None
    full = np.arange(n_addr)
    full[: prior.n_addresses] = prior.labels
    assert np.array_equal(canonical_labels(full), batch.labels)
    assert links == len(batch.links)          # same number of unions, in order: the same forest
    assert compare_labels(full, batch.labels)["identical"]


def test_clust_links_explain_membership() -> None:
    rng = np.random.default_rng(3)
    tx, ad = _random_inputs(rng, 300, 200)
    c = cluster_edges(200, cospend_edges(tx, ad))
    # the links alone rebuild the same clusters
    l_ = c.links
    _k, lab = connected_components(coo_matrix((np.ones(len(l_)), (l_.a, l_.b)), shape=(200, 200)), directed=False)
    assert np.array_equal(canonical_labels(lab), c.labels)
    # every link's two addresses really are inputs of its transaction
    pairs = set(zip(tx.tolist(), ad.tolist(), strict=True))
    assert all((t, a) in pairs and (t, b) in pairs for a, b, t in zip(l_.a.tolist(), l_.b.tolist(), l_.tx_id.tolist(), strict=True))


def test_clust_link_path_is_a_chain_of_links() -> None:
    rng = np.random.default_rng(4)
    tx, ad = _random_inputs(rng, 120, 300)
    c = cluster_edges(300, cospend_edges(tx, ad))
    big = int(np.bincount(c.labels).argmax())
    members = np.flatnonzero(c.labels == big)
    s, t = int(members[0]), int(members[-1])
    path = link_path(c.links.a, c.links.b, s, t)
    assert path
    cur = s
    for i in path:
        a, b = int(c.links.a[i]), int(c.links.b[i])
        assert cur in (a, b)
        cur = b if cur == a else a
    assert cur == t
    other = int(np.flatnonzero(c.labels != big)[0])
    assert link_path(c.links.a, c.links.b, s, other) is None


def test_clust_edges_concat_keeps_tx_order() -> None:
    a = Edges(np.array([1]), np.array([2]), np.array([5]), np.array([0]), np.array([1.0]), ("co-spend",))
    b = Edges(np.array([3]), np.array([4]), np.array([2]), np.array([0]), np.array([0.5]), ("change:x",))
    e = Edges.concat([a, b])
    assert e.tx_id.tolist() == [2, 5] and [e.names[h] for h in e.heuristic] == ["change:x", "co-spend"]
