"""Path search between two sets of addresses (two addresses, or two clusters) along the flow of money.

UTXO: a step is a transaction that spends an output of a frontier address and pays an output to another
address. Level-synchronous BFS over CSR arrays (address -> its outputs -> spending tx -> that tx's outputs),
vectorised per level with numpy; transactions with more than ``max_degree`` inputs+outputs are not expanded
(hubs such as exchange hot wallets), and the number skipped is reported. Account chains: a step is a
transfer; paths respect time (each transfer after the one before), by earliest arrival.

The result is the shortest path in steps (ties: the lowest ids), as lists of (tx, from address, to address,
row) where row is the output row (UTXO) or transfer row (account).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chainsleuth.algorithms.tracing.account import AccountGraph
from chainsleuth.algorithms.tracing.utxo import UtxoGraph

__all__ = ["PathResult", "account_path", "utxo_path"]


@dataclass
class PathResult:
    """Steps of the path found (empty when none), the depth searched and the hubs skipped."""

    steps: list[tuple[int, int, int, int]] = field(default_factory=list)
    found: bool = False
    depth_searched: int = 0
    visited: int = 0
    skipped_hubs: int = 0


def _addr_out_csr(g: UtxoGraph, n_addr: int) -> tuple[np.ndarray, np.ndarray]:
    a = g.out_addr
    rows = np.flatnonzero(a >= 0)
    order = np.argsort(a[rows], kind="stable")
    rows = rows[order]
    ptr = np.zeros(n_addr + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(a[rows], minlength=n_addr))
    return ptr, rows


def utxo_path(g: UtxoGraph, sources: np.ndarray, targets: np.ndarray, *, n_addr: int, max_depth: int = 6,
              max_degree: int = 1000) -> PathResult:
    """Shortest money-flow path from any source address to any target address.

    >>> g = UtxoGraph.build(3, in_tx=[0, 1, 2], in_value=[0, 10, 9], in_prev=[-1, 0, 1], in_addr=[-1, 0, 1],
    ...                     out_tx=[0, 1, 2], out_value=[10, 9, 8], out_addr=[0, 1, 2])
    >>> r = utxo_path(g, np.array([0]), np.array([2]), n_addr=3)
    >>> r.found, [(tx, a, b) for tx, a, b, _ in r.steps]
    (True, [(1, 0, 1), (2, 1, 2)])
    """
    ptr, rows = _addr_out_csr(g, n_addr)
    deg = g.degree
    target = np.zeros(n_addr, dtype=bool)
    target[targets] = True
    parent = np.full(n_addr, -2, dtype=np.int64)           # -2 unseen, -1 source
    via_row = np.full(n_addr, -1, dtype=np.int64)           # output row that reached the address
    parent[sources] = -1
    res = PathResult()
    frontier = np.unique(np.asarray(sources, dtype=np.int64))
    hit = -1
    if target[frontier].any():
        hit = int(frontier[target[frontier]][0])
    depth = 0
    while hit < 0 and frontier.size and depth < max_depth:
        depth += 1
        counts = ptr[frontier + 1] - ptr[frontier]
        starts = ptr[frontier]
        idx = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(int(counts.sum()))
        outs = rows[idx]
        owner = np.repeat(frontier, counts)
        sp = g.out_spent_in[outs]
        ok = sp >= 0
        outs, owner, sp = outs[ok], owner[ok], sp[ok]
        tx = g.in_tx[sp]
        hub = deg[tx] > max_degree
        res.skipped_hubs += int(np.unique(tx[hub]).size)
        tx, owner = tx[~hub], owner[~hub]
        tx, first = np.unique(tx, return_index=True)      # one parent per tx: the lowest owner id wins
        owner = owner[first]
        n_o = g.tx_out_ptr[tx + 1] - g.tx_out_ptr[tx]
        o_idx = np.repeat(g.tx_out_ptr[tx] - np.concatenate([[0], np.cumsum(n_o)[:-1]]), n_o) + np.arange(int(n_o.sum()))
        o_par = np.repeat(owner, n_o)
        dst = g.out_addr[o_idx]
        new = (dst >= 0) & (parent[np.maximum(dst, 0)] == -2)
        dst, o_idx, o_par = dst[new], o_idx[new], o_par[new]
        dst, first = np.unique(dst, return_index=True)
        parent[dst] = o_par[first]
        via_row[dst] = o_idx[first]
        res.visited += int(dst.size)
        if target[dst].any():
            hit = int(dst[target[dst]][0])
        frontier = dst
    res.depth_searched = depth
    if hit >= 0:
        res.found = True
        steps = []
        a = hit
        while parent[a] >= 0:
            r = int(via_row[a])
            steps.append((int(g.out_tx[r]), int(parent[a]), a, r))
            a = int(parent[a])
        res.steps = steps[::-1]
    return res


def account_path(g: AccountGraph, sources: np.ndarray, targets: np.ndarray, *, max_depth: int = 6,
                 max_degree: int = 1000) -> PathResult:
    """Shortest time-respecting transfer path (earliest arrival per address, then fewest steps).

    >>> g = AccountGraph.build(3, ev_from=[1, 0, 1], ev_to=[2, 1, 2], ev_value=[5, 5, 5], ev_tx=[0, 1, 2])
    >>> r = account_path(g, np.array([0]), np.array([2]))
    >>> [(tx, a, b) for tx, a, b, _ in r.steps]
    [(1, 0, 1), (2, 1, 2)]
    """
    target = set(int(t) for t in targets)
    arrival: dict[int, int] = {int(s): -1 for s in sources}
    parent: dict[int, tuple[int, int]] = {}
    res = PathResult()
    frontier = sorted(arrival)
    hit = next((s for s in frontier if s in target), -1)
    depth = 0
    while hit < 0 and frontier and depth < max_depth:
        depth += 1
        nxt: dict[int, int] = {}
        for a in frontier:
            if g.degree(a) > max_degree:
                res.skipped_hubs += 1
                continue
            for r in g.rows_of(a).tolist():
                b = int(g.ev_to[r])
                if r <= arrival[a] or int(g.ev_from[r]) != a or b < 0 or b == a or bool(g.ev_fee[r]):
                    continue
                if b not in arrival and (b not in nxt or r < nxt[b]):
                    nxt[b] = r
                    parent[b] = (a, r)
        for b, r in nxt.items():
            arrival[b] = r
        res.visited += len(nxt)
        frontier = sorted(nxt)
        hit = next((b for b in frontier if b in target), -1)
    res.depth_searched = depth
    if hit >= 0:
        res.found = True
        steps = []
        b = hit
        while b in parent:
            a, r = parent[b]
            steps.append((int(g.ev_tx[r]), a, b, r))
            b = a
        res.steps = steps[::-1]
    return res
