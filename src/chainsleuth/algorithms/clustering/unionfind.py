"""Vectorised union-find that also returns the evidence: a spanning forest of the links that merged.

The engine is Borůvka's algorithm written as whole-array numpy passes. Every edge carries a weight equal to
its position in the input (callers pass edges in transaction order), so in each round every component picks
the *earliest* edge leaving it; all picks are merged at once. With distinct weights Borůvka's picks form the
unique minimum spanning forest, which is exactly the set of edges a sequential union-find processing the
edges in input order would have used to join two components. So the forest is deterministic and reads as
"the first transaction that put these two groups together".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Forest", "canonical_labels", "spanning_forest"]


@dataclass(frozen=True)
class Forest:
    """Result of :func:`spanning_forest`.

    Attributes
    ----------
    labels : ndarray of int64, shape (n,)
        A member node of each node's component (arbitrary representative; see :func:`canonical_labels`).
    edges : ndarray of int64
        Indices (into the input edge arrays) of the edges that joined two components, grouped by round
        (sort them for input order).
        ``len(edges) == n - number_of_components``.
    size_a, size_b : ndarray of int64
        For each forest edge, the sizes of the two components it joined at the start of the round in which
        it was picked (used for the "two large clusters merged" alert).
    rounds : int
        Borůvka rounds run (at most ``ceil(log2(n))``).
    """

    labels: np.ndarray
    edges: np.ndarray
    size_a: np.ndarray
    size_b: np.ndarray
    rounds: int


def spanning_forest(n: int, u: np.ndarray, v: np.ndarray, *, sizes: np.ndarray | None = None) -> Forest:
    """Connected components of an undirected graph plus the spanning forest of the first joining edges.

    Parameters
    ----------
    n : int
        Number of nodes; node ids are ``0 .. n-1``.
    u, v : array_like of int
        Edge endpoints, in priority order (earlier edges win when several could join two components).
    sizes : ndarray of int64, optional
        Initial weight (number of addresses) of each node; default 1 each. Incremental clustering passes
        the sizes of existing clusters contracted to one node.

    Returns
    -------
    Forest
        Component labels, the indices of the forest edges and the sizes each forest edge joined.

    Notes
    -----
    Borůvka (1926) in the data-parallel form: each round, every component picks its minimum-weight
    incident edge (weight = input position) with one reverse scatter, 2-cycles are broken towards the smaller
    root, pointers are compressed by jumping, components are renumbered densely (so the arrays shrink and
    stay in cache) and edges inside a component are dropped for good. Each round at least halves the number
    of components that still have edges, so there are at most ``log2(n)`` rounds.

    Complexity: O((n + m) log n) time worst case, typically a few passes over the edges; O(n + m) memory.

    Examples
    --------
    >>> f = spanning_forest(5, [0, 1, 0, 3], [1, 2, 2, 4])
    >>> f.labels[0] == f.labels[1] == f.labels[2], f.labels[3] == f.labels[4], f.labels[0] == f.labels[3]
    (np.True_, np.True_, np.False_)
    >>> sorted(f.edges.tolist())   # edge 2 (0-2) closed a cycle: 0-1 and 1-2 had joined them first
    [0, 1, 3]
    """
    u = np.ascontiguousarray(u, dtype=np.int64)
    v = np.ascontiguousarray(v, dtype=np.int64)
    if u.shape != v.shape:
        raise ValueError(f"edge arrays differ in length: {u.shape} vs {v.shape}")
    m = len(u)
    if m and (min(int(u.min()), int(v.min())) < 0 or max(int(u.max()), int(v.max())) >= n):
        raise ValueError(f"edge endpoint outside 0..{n - 1}")
    it = np.int32 if max(n, m) < 2**31 - 1 else np.int64   # half the memory traffic when ids fit
    size = np.ones(n, dtype=np.int64) if sizes is None else np.array(sizes, dtype=np.int64)
    eid = np.arange(m, dtype=it)
    cu, cv = u.astype(it), v.astype(it)               # current (dense) component of each endpoint
    k = n                                             # components are 0 .. k-1, renumbered every round
    rep = np.arange(n, dtype=it)                      # one node of each component
    maps: list[np.ndarray] = []                       # per round: old component -> new component
    none = np.iinfo(it).max
    desc = np.arange(m - 1, -1, -1, dtype=it)        # its last k entries: positions of k edges, descending
    picked: list[np.ndarray] = []
    sa: list[np.ndarray] = []
    sb: list[np.ndarray] = []
    rounds = 0
    while True:
        keep = cu != cv
        if not keep.all():
            eid, cu, cv = eid[keep], cu[keep], cv[keep]
        if len(eid) == 0:
            break
        rounds += 1
        # earliest edge per component: positions ascend with eid, so assigning positions in descending
        # order leaves the smallest one (numpy applies repeated-index assignments in order; the last stays)
        ne = len(eid)
        best = np.full(k, none, dtype=it)
        best[cu[::-1]] = desc[m - ne:]
        best_v = np.full(k, none, dtype=it)
        best_v[cv[::-1]] = desc[m - ne:]
        np.minimum(best, best_v, out=best)
        comps = np.flatnonzero(best != none).astype(it)   # every component with an edge, once
        ce = best[comps]
        other = np.where(cu[ce] == comps, cv[ce], cu[ce])
        # 2-cycles (c -> d and d -> c by the same edge): the smaller stays a root
        back = best[other] == ce
        hook = ~(back & (comps < other))
        hc, ho = comps[hook], other[hook]
        picked.append(eid[best[hc]])
        sa.append(size[hc])
        sb.append(size[ho])
        # hook, compress by pointer jumping, renumber the roots densely (arrays shrink every round)
        pk = np.arange(k, dtype=it)
        pk[hc] = ho
        while True:
            nxt = pk[pk[hc]]
            if np.array_equal(nxt, pk[hc]):
                break
            pk[hc] = nxt
        is_root = pk == np.arange(k, dtype=it)
        newid = (np.cumsum(is_root) - 1).astype(it)
        mp = newid[pk]
        k = int(newid[-1]) + 1
        size = np.bincount(mp, weights=size, minlength=k).astype(np.int64)
        rep = rep[is_root]
        maps.append(mp)
        cu, cv = mp[cu], mp[cv]
    # final labels: compose the renumberings from the last round back, then name each by a member node
    comp = np.arange(k, dtype=it)
    for mp in reversed(maps):
        comp = comp[mp]
    labels = rep[comp].astype(np.int64)
    if picked:
        edges = np.concatenate(picked).astype(np.int64)
        a, b = np.concatenate(sa), np.concatenate(sb)
    else:
        edges = a = b = np.empty(0, dtype=np.int64)
    return Forest(labels=labels, edges=edges, size_a=a, size_b=b, rounds=rounds)


def canonical_labels(labels: np.ndarray) -> np.ndarray:
    """Relabel components by their smallest member, so equal partitions get equal labels.

    Parameters
    ----------
    labels : ndarray of int
        Any component representative per node, values in ``0 .. n-1``.

    Returns
    -------
    ndarray of int64
        For each node, the smallest node id in its component.

    Complexity: O(n).

    Examples
    --------
    >>> canonical_labels(np.array([2, 2, 2, 3])).tolist()
    [0, 0, 0, 3]
    """
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    mins = np.full(n, n, dtype=np.int64)
    idx = np.arange(n, dtype=np.int64)
    mins[labels[::-1]] = idx[::-1]
    return mins[labels]
