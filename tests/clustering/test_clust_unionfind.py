"""The union-find against scipy's connected components and a plain sequential union-find."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from chainsleuth.algorithms.clustering import canonical_labels, spanning_forest


def _sequential(n: int, u: np.ndarray, v: np.ndarray) -> list[int]:
    """Reference: a textbook union-find processing edges in order; the indices of joining edges."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    used = []
    for i, (a, b) in enumerate(zip(u.tolist(), v.tolist(), strict=True)):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
            used.append(i)
    return used


@pytest.mark.parametrize("n", [1, 2, 10, 300, 5000])
@pytest.mark.parametrize("seed", range(4))
def test_clust_matches_scipy_and_sequential(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed * 1000 + n)
    m = int(rng.integers(0, 2 * n + 1))
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    f = spanning_forest(n, u, v)
    k, lab = connected_components(coo_matrix((np.ones(m), (u, v)), shape=(n, n)), directed=False)
    assert np.array_equal(canonical_labels(f.labels), canonical_labels(lab))
    assert len(f.edges) == n - k
    assert sorted(f.edges.tolist()) == _sequential(n, u, v)


def test_clust_forest_sizes_add_up() -> None:
    rng = np.random.default_rng(5)
    n, m = 2000, 3000
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    f = spanning_forest(n, u, v)
    # every union joins two disjoint clusters: the merged sizes sum to the final sizes
    sizes = np.bincount(canonical_labels(f.labels), minlength=n)
    assert (f.size_a >= 1).all() and (f.size_b >= 1).all()
    assert int(sizes.max()) >= int((f.size_a + f.size_b).max())


def test_clust_star_and_path_graphs() -> None:
    n = 1000
    star = spanning_forest(n, np.zeros(n - 1, dtype=np.int64), np.arange(1, n))
    assert (canonical_labels(star.labels) == 0).all() and len(star.edges) == n - 1
    path = spanning_forest(n, np.arange(n - 1)[::-1], np.arange(1, n)[::-1])
    assert (canonical_labels(path.labels) == 0).all() and path.rounds <= 11


def test_clust_bad_edges() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        spanning_forest(3, [0, 1], [1])
    with pytest.raises(ValueError, match="outside"):
        spanning_forest(3, [0], [3])
    with pytest.raises(ValueError, match="outside"):
        spanning_forest(3, [-1], [0])
