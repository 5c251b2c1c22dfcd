"""Why are two addresses in one cluster? The chain of links (transactions) joining them."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order

__all__ = ["link_path"]


def link_path(a: np.ndarray, b: np.ndarray, source: int, target: int) -> list[int] | None:
    """Indices of the links on the path from ``source`` to ``target`` in a forest of links.

    Parameters
    ----------
    a, b : ndarray of int
        Link endpoints (address ids). The links of one cluster form a tree, so the path is unique.
    source, target : int
        Address ids.

    Returns
    -------
    list of int or None
        Link indices in order from ``source`` to ``target``; ``[]`` when they are the same address;
        None when no path joins them (different clusters).

    Notes
    -----
    Breadth-first search over the links (scipy) and a sorted index of link keys; complexity O(L log L).

    Examples
    --------
    >>> link_path(np.array([1, 2, 9]), np.array([2, 3, 8]), 3, 1)
    [1, 0]
    >>> link_path(np.array([1]), np.array([2]), 1, 9) is None
    True
    """
    if source == target:
        return []
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    nodes, inv = np.unique(np.concatenate((a, b)), return_inverse=True)
    pos = np.searchsorted(nodes, [source, target])
    if len(nodes) == 0 or pos.max() >= len(nodes) or nodes[pos[0]] != source or nodes[pos[1]] != target:
        return None
    m = len(a)
    ia, ib = inv[:m], inv[m:]
    k = len(nodes)
    g = coo_matrix((np.arange(1, m + 1, dtype=np.float64), (ia, ib)), shape=(k, k)).tocsr()
    _, pred = breadth_first_order(g, int(pos[0]), directed=False, return_predecessors=True)
    cur = int(pos[1])
    if pred[cur] < 0:
        return None
    # link index of each (node, predecessor) pair, in either orientation: sorted pair keys, binary search
    lo, hi = np.minimum(ia, ib).astype(np.int64), np.maximum(ia, ib).astype(np.int64)
    keys = lo * k + hi
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    path: list[int] = []
    while cur != pos[0]:
        p = int(pred[cur])
        want = min(p, cur) * k + max(p, cur)
        path.append(int(order[np.searchsorted(sorted_keys, want)]))
        cur = p
    return path[::-1]
