"""Co-spend (multi-input) clustering with evidence, batch and incremental.

The co-spend heuristic: all inputs of one transaction are controlled by one entity, because spending
them needs all their keys (Nakamoto 2008, section 10; Reid & Harrigan 2011; Meiklejohn et al. 2013).
It fails for CoinJoins (many owners sign one transaction), which callers leave out with ``exclude``.

Every merge keeps its evidence: :class:`Links` lists, for each union that actually joined two clusters,
the two addresses, the transaction and the heuristic (a spanning forest of the clusters).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chainsleuth.algorithms.clustering.unionfind import canonical_labels, spanning_forest

__all__ = ["COSPEND", "Clustering", "Edges", "Links", "cluster_edges", "cospend_edges"]

#: heuristic name of the multi-input rule
COSPEND = "co-spend"


@dataclass(frozen=True, eq=False)
class Edges:
    """Candidate links in priority order: address pairs with the transaction and heuristic behind each.

    ``heuristic`` holds codes into ``names``; ``confidence`` is in [0, 1].
    """

    a: np.ndarray
    b: np.ndarray
    tx_id: np.ndarray
    heuristic: np.ndarray
    confidence: np.ndarray
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.a)

    @staticmethod
    def concat(parts: list[Edges]) -> Edges:
        """Join edge sets, re-coding heuristics, ordered by transaction (stable: earlier parts first)."""
        names: list[str] = []
        for p in parts:
            names += [x for x in p.names if x not in names]
        if not parts:
            return Edges(*(np.empty(0, dtype=np.int64) for _ in range(4)), np.empty(0), ())
        recode = [np.array([names.index(x) for x in p.names] or [0], dtype=np.int64) for p in parts]
        a = np.concatenate([p.a for p in parts])
        b = np.concatenate([p.b for p in parts])
        tx = np.concatenate([p.tx_id for p in parts])
        h = np.concatenate([r[p.heuristic] for r, p in zip(recode, parts, strict=True)])
        c = np.concatenate([p.confidence for p in parts])
        o = np.argsort(tx, kind="stable")
        return Edges(a[o], b[o], tx[o], h[o], c[o], tuple(names))


@dataclass(frozen=True, eq=False)
class Links:
    """The evidence: one row per union that joined two clusters.

    ``size_a`` / ``size_b`` are the sizes of the two clusters the link joined (at the start of the
    union-find round that used it).
    """

    a: np.ndarray
    b: np.ndarray
    tx_id: np.ndarray
    heuristic: np.ndarray
    confidence: np.ndarray
    size_a: np.ndarray
    size_b: np.ndarray
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.a)

    def heuristic_names(self) -> list[str]:
        return [self.names[i] for i in self.heuristic.tolist()]


@dataclass(frozen=True, eq=False)
class Clustering:
    """Cluster id (smallest member address id) per address id, and the links that built the clusters."""

    labels: np.ndarray
    links: Links

    @property
    def n_addresses(self) -> int:
        return len(self.labels)

    def sizes(self) -> np.ndarray:
        """Size of the cluster of each address."""
        return np.bincount(self.labels, minlength=len(self.labels))[self.labels]

    def n_clusters(self) -> int:
        return int(np.count_nonzero(self.labels == np.arange(len(self.labels))))


def cospend_edges(in_tx: np.ndarray, in_address: np.ndarray, *, exclude: np.ndarray | None = None) -> Edges:
    """Links of the co-spend heuristic: each input address tied to its transaction's first input address.

    Parameters
    ----------
    in_tx : ndarray of int
        Transaction id of each input row.
    in_address : ndarray of int
        Address id of each input row; negative for unknown (unresolved prevout, coinbase, no address).
    exclude : ndarray of int, optional
        Transaction ids to leave out (detected CoinJoins).

    Returns
    -------
    Edges
        A star per transaction, in transaction order, with heuristic ``"co-spend"`` and confidence 1.

    Notes
    -----
    Complexity: O(I) when inputs come sorted by transaction (as the store returns them), else O(I log I).
    Source: Nakamoto (2008) s.10; Reid & Harrigan (2011); Meiklejohn et al., "A Fistful of Bitcoins" (2013).

    Examples
    --------
    >>> e = cospend_edges(np.array([7, 7, 7, 8]), np.array([3, 4, 3, 9]))
    >>> e.a.tolist(), e.b.tolist(), e.tx_id.tolist()
    ([3, 3], [4, 3], [7, 7])
    """
    tx = np.asarray(in_tx, dtype=np.int64)
    ad = np.asarray(in_address, dtype=np.int64)
    keep = ad >= 0
    if exclude is not None and len(exclude):
        keep &= ~np.isin(tx, exclude)
    tx, ad = tx[keep], ad[keep]
    if len(tx) > 1 and np.any(tx[1:] < tx[:-1]):
        o = np.argsort(tx, kind="stable")
        tx, ad = tx[o], ad[o]
    first = np.ones(len(tx), dtype=bool)
    first[1:] = tx[1:] != tx[:-1]
    head = ad[np.maximum.accumulate(np.where(first, np.arange(len(tx)), 0))] if len(tx) else ad
    rest = ~first
    a, b, t = head[rest], ad[rest], tx[rest]
    return Edges(a, b, t, np.zeros(len(a), dtype=np.int64), np.ones(len(a)), (COSPEND,))


def cluster_edges(n_addresses: int, edges: Edges, *, prior: Clustering | None = None) -> Clustering:
    """Cluster addresses by edges; with ``prior``, extend an earlier clustering by new edges only.

    Parameters
    ----------
    n_addresses : int
        Number of address ids (``0 .. n-1``); at least the prior's.
    edges : Edges
        Candidate links in priority order (transaction order).
    prior : Clustering, optional
        Result of an earlier run. Its clusters are contracted to one node each, so an incremental run costs
        O(new edges + n) and gives the same membership as a batch run over all edges.

    Returns
    -------
    Clustering
        Labels (cluster id = smallest member address id) and the new links (for an incremental run: only
        the links added by ``edges``; the prior's links stay valid).

    Notes
    -----
    Complexity: O((n + m) log n) worst case (Borůvka rounds), usually a few linear passes.

    Examples
    --------
    >>> e = cospend_edges(np.array([0, 0, 1, 1]), np.array([1, 2, 2, 4]))
    >>> c = cluster_edges(5, e)
    >>> c.labels.tolist(), len(c.links)
    ([0, 1, 1, 3, 1], 2)
    >>> c2 = cluster_edges(6, cospend_edges(np.array([2, 2]), np.array([0, 5])), prior=c)
    >>> c2.labels.tolist(), c2.links.tx_id.tolist()
    ([0, 1, 1, 3, 1, 0], [2])
    """
    n = int(n_addresses)
    a, b = edges.a, edges.b
    if prior is not None:
        if prior.n_addresses > n:
            raise ValueError(f"prior clustering has {prior.n_addresses} addresses, more than {n}")
        base = np.arange(n, dtype=np.int64)
        base[: prior.n_addresses] = prior.labels
        sizes = np.bincount(base, minlength=n).astype(np.int64)
        f = spanning_forest(n, base[a], base[b], sizes=sizes)
        labels = canonical_labels(f.labels[base])
    else:
        f = spanning_forest(n, a, b)
        labels = canonical_labels(f.labels)
    e = np.sort(f.edges)
    order = np.argsort(f.edges)
    links = Links(a[e], b[e], edges.tx_id[e], edges.heuristic[e], edges.confidence[e],
                  f.size_a[order], f.size_b[order], edges.names)
    return Clustering(labels=labels, links=links)
