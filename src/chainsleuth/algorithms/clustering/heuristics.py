"""The registry of clustering heuristics ("heuristic"): the built-ins register here like plugins would.

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

from collections.abc import Sequence
from dataclasses import dataclass

from chainsleuth.algorithms.clustering.change import CHANGE_HEURISTICS, CONFIDENCE, SOURCES
from chainsleuth.algorithms.clustering.cospend import COSPEND
from chainsleuth.core.registry import Registry

__all__ = ["DEFAULT_HEURISTICS", "HEURISTICS", "HeuristicSpec", "resolve_heuristics"]


@dataclass(frozen=True)
class HeuristicSpec:
    """A registered heuristic: its name, kind ('merge' or 'change'), prior confidence and source."""

    name: str
    kind: str
    confidence: float
    source: str
    summary: str


HEURISTICS: Registry[HeuristicSpec] = Registry("heuristic")
HEURISTICS.add(COSPEND, HeuristicSpec(
    COSPEND, "merge", 1.0, "Nakamoto 2008 s.10; Reid & Harrigan 2011; Meiklejohn et al. 2013",
    "all inputs of a transaction belong to one entity (CoinJoins excluded)"))
for _h in CHANGE_HEURISTICS:
    HEURISTICS.add(f"change:{_h}", HeuristicSpec(f"change:{_h}", "change", CONFIDENCE[_h], SOURCES[_h],
                                                  f"merge the output the '{_h}' change heuristic picks"))
HEURISTICS.add("change-consensus", HeuristicSpec(
    "change-consensus", "change", 0.0, "combination of the change heuristics (this project)",
    "merge the change output where every change heuristic that speaks agrees"))

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
