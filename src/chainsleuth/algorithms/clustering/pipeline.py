"""One clustering run over UTXO transaction arrays: CoinJoin detection, co-spend and change links, union-find.

This is the pure part of ``Workspace.cluster`` (the workspace adds the store reads and writes), and what
the evaluation runs on generated worlds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from chainsleuth.algorithms.clustering.change import ChangeGuesses, change_edges, detect_change
from chainsleuth.algorithms.clustering.cospend import Clustering, Edges, cluster_edges
from chainsleuth.algorithms.clustering.heuristics import HEURISTICS, LinkInput, resolve_heuristics
from chainsleuth.algorithms.patterns.coinjoin import CoinJoins, detect_coinjoins
from chainsleuth.algorithms.txarrays import TxArrays
from chainsleuth.errors import InvalidInput

__all__ = ["UtxoClusterRun", "cluster_utxo", "supports_incremental"]


@dataclass(frozen=True, eq=False)
class UtxoClusterRun:
    """What one run produced: the clustering (labels + new links), CoinJoins found, change guesses."""

    clustering: Clustering
    coinjoins: CoinJoins
    change: dict[str, ChangeGuesses] = field(default_factory=dict)
    edges_considered: int = 0


def supports_incremental(heuristics: Sequence[str]) -> bool:
    """Co-spend and CoinJoin detection look at one transaction at a time, so new blocks extend a clustering
    exactly. Change heuristics look at history (first appearance) and at later spends, so a set that uses
    them is rebuilt in batch.

    >>> supports_incremental(["co-spend"]), supports_incremental(["co-spend", "change:peel-chain"])
    (True, False)
    """
    return all(HEURISTICS.get(h).incremental for h in heuristics)


def cluster_utxo(t: TxArrays, n_addresses: int, heuristics: Sequence[str], *, include_coinjoins: bool = False,
                 chain: str = "btc", prior: Clustering | None = None) -> UtxoClusterRun:
    """Cluster the addresses of ``t`` with the named heuristics.

    Parameters
    ----------
    t : TxArrays
        Transactions to take links from (all of the chain for a batch run, the new ones for an incremental run).
    n_addresses : int
        Number of address ids of the chain.
    heuristics : sequence of str
        Names registered in :data:`~chainsleuth.algorithms.clustering.heuristics.HEURISTICS`.
    include_coinjoins : bool
        Let co-spend merge the inputs of detected CoinJoins (default False: they are left out).
    chain : str
        Store chain name (passed to the CoinJoin detectors).
    prior : Clustering, optional
        An earlier clustering to extend (incremental run).

    Returns
    -------
    UtxoClusterRun

    Notes
    -----
    Complexity: dominated by the union-find, O((A + L) log A) for A addresses and L candidate links.

    Examples
    --------
    >>> t = TxArrays.from_rows(txs=[(0, 1, 1, 0, False)],
    ...                        inputs=[(0, 0, 5, 0xFFFFFFFF, "p2pkh"), (0, 1, 5, 0xFFFFFFFF, "p2pkh")],
    ...                        outputs=[(0, 0, 2, 9, "p2pkh", -1)])
    >>> r = cluster_utxo(t, 3, ["co-spend"])
    >>> r.clustering.labels.tolist(), r.clustering.links.heuristic_names()
    ([0, 0, 2], ['co-spend'])
    """
    names = resolve_heuristics(heuristics)
    specs = [HEURISTICS.get(h) for h in names]
    wrong = [h.name for h in specs if h.kind == "account"]
    if wrong:
        raise InvalidInput(f"heuristic {wrong[0]!r} applies to account chains (Ethereum), not to {chain}",
                           field="heuristic", value=wrong[0])
    cj = detect_coinjoins(t, chain=chain)
    exclude_rows = np.empty(0, dtype=np.int64) if include_coinjoins else np.flatnonzero(cj.mask)
    detectors = list(dict.fromkeys(d for h in sorted(specs, key=lambda h: -h.stage) for d in h.reads))
    guesses: dict[str, ChangeGuesses] = {}
    if detectors:
        guesses = detect_change(t, detectors, exclude_rows=np.flatnonzero(cj.mask))
    inp = LinkInput(t, t.tx_id[exclude_rows], dict(guesses))
    parts: list[Edges] = []
    for h in sorted(specs, key=lambda h: h.stage):   # stable: within a stage, the order asked for
        if h.links is not None:
            parts.append(h.links(inp))
        if h.guess is not None:
            g = h.guess(inp)
            guesses.setdefault(g.heuristic, g)
            parts.append(change_edges(t, g, name=h.name))
    edges = Edges.concat(parts)
    clustering = cluster_edges(n_addresses, edges, prior=prior)
    return UtxoClusterRun(clustering=clustering, coinjoins=cj, change=guesses, edges_considered=len(edges))
