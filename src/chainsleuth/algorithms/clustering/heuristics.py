"""The registry of clustering heuristics ("heuristic"): the built-ins register here like plugins would, and
a clustering run (:func:`~chainsleuth.algorithms.clustering.pipeline.cluster_utxo`) takes each heuristic's
links from its registered spec, so a registered plugin is run like a built-in.

A name in a heuristic set is one of:

- ``co-spend``: multi-input clustering (CoinJoins excluded unless the set asks otherwise);
- ``change:<name>``: merge the change output guessed by one change heuristic into the payer's cluster;
- ``change-consensus``: merge only where the enabled change heuristics agree;
- ``deposit-address``: account chains (Ethereum): senders to one exchange deposit address.

>>> HEURISTICS.get("co-spend").kind
'merge'
>>> resolve_heuristics(["co-spend", "change:peel-chain"])
['co-spend', 'change:peel-chain']
>>> resolve_heuristics(["cospend"])
Traceback (most recent call last):
...
chainsleuth.errors.InvalidInput: unknown heuristic 'cospend'; choose one of: change-consensus, change:address-reuse, change:fingerprint, change:one-time-change, change:optimal-change, change:peel-chain, change:round-amount, change:script-type, co-spend, deposit-address (field=heuristic, value=cospend)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from chainsleuth.algorithms.clustering.change import (
    CHANGE_HEURISTICS,
    CONFIDENCE,
    SOURCES,
    ChangeGuesses,
    change_consensus,
)
from chainsleuth.algorithms.clustering.cospend import COSPEND, Edges, cospend_edges
from chainsleuth.algorithms.txarrays import TxArrays
from chainsleuth.core.registry import Registry

__all__ = ["DEFAULT_HEURISTICS", "HEURISTICS", "HeuristicSpec", "LinkInput", "resolve_heuristics"]


@dataclass(frozen=True, eq=False)
class LinkInput:
    """What a UTXO heuristic reads in one clustering run: the transactions, the CoinJoins co-spend leaves
    out (transaction ids), and the guesses of the change detectors the run's heuristics read."""

    t: TxArrays
    exclude_tx_ids: np.ndarray
    change: Mapping[str, ChangeGuesses]


@dataclass(frozen=True)
class HeuristicSpec:
    """A registered heuristic: its name, kind ('merge', 'change' or 'account'), prior confidence and source,
    and how a clustering run uses it.

    A 'merge' heuristic gives its links (``links``); a 'change' heuristic picks change outputs (``guess``,
    from the guesses of the change detectors it ``reads``), which the run links to the payer. ``stage``
    orders a run's links (lower first; ties keep the order the heuristics were asked in), which decides the
    link kept as evidence where several join the same two clusters in one transaction. ``incremental``: its
    links from new transactions alone extend an earlier clustering exactly. An 'account' heuristic runs on
    account chains' transfers instead (see :mod:`.deposit`).
    """

    name: str
    kind: str
    confidence: float
    source: str
    summary: str
    links: Callable[[LinkInput], Edges] | None = None
    guess: Callable[[LinkInput], ChangeGuesses] | None = None
    reads: tuple[str, ...] = ()
    stage: int = 0
    incremental: bool = False


HEURISTICS: Registry[HeuristicSpec] = Registry("heuristic")


def _cospend_links(inp: LinkInput) -> Edges:
    return cospend_edges(inp.t.in_tx, inp.t.in_address, exclude=inp.exclude_tx_ids)


def _consensus(inp: LinkInput) -> ChangeGuesses:
    return change_consensus(dict(inp.change), inp.t.n_tx)


def _one_detector(name: str) -> Callable[[LinkInput], ChangeGuesses]:
    def guess(inp: LinkInput) -> ChangeGuesses:
        return inp.change[name]

    return guess


HEURISTICS.add(COSPEND, HeuristicSpec(
    COSPEND, "merge", 1.0, "Nakamoto 2008 s.10; Reid & Harrigan 2011; Meiklejohn et al. 2013",
    "all inputs of a transaction belong to one entity (CoinJoins excluded)", links=_cospend_links,
    incremental=True))
for _h in CHANGE_HEURISTICS:
    HEURISTICS.add(f"change:{_h}", HeuristicSpec(f"change:{_h}", "change", CONFIDENCE[_h], SOURCES[_h],
                                                  f"merge the output the '{_h}' change heuristic picks",
                                                  guess=_one_detector(_h), reads=(_h,), stage=1))
HEURISTICS.add("change-consensus", HeuristicSpec(
    "change-consensus", "change", 0.0, "combination of the change heuristics (this project)",
    "merge the change output where every change heuristic that speaks agrees", guess=_consensus,
    reads=CHANGE_HEURISTICS, stage=2))

HEURISTICS.add("deposit-address", HeuristicSpec(
    "deposit-address", "account", 0.8, "Victor, 'Address Clustering Heuristics for Ethereum' (FC 2020)",
    "account chains: senders to one exchange deposit address are one user"))

#: the default heuristic set: co-spend only; change heuristics are off by default for merging
DEFAULT_HEURISTICS = (COSPEND,)


def resolve_heuristics(names: Sequence[str]) -> list[str]:
    """Validate heuristic names (unknown ones raise InvalidInput listing the valid names); keep order, drop repeats."""
    out: list[str] = []
    for n in names:
        n = n.strip()
        HEURISTICS.get(n)
        if n not in out:
            out.append(n)
    if not out:
        HEURISTICS.get("")
    return out
