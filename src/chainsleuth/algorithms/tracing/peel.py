"""Peel-chain following: from an output, keep to the change output of each spending transaction.

A peel chain (Meiklejohn et al., IMC 2013) moves a large balance through a sequence of transactions that each
pay a small amount away and send the rest ("change") to a fresh address of the same owner. Following it means
choosing, at every step, which of the two outputs is change. Each choice carries :class:`Evidence` naming the
heuristics that agreed:

- ``address-reuse`` (0.95): an output pays back an input address;
- ``peel-continuation`` (0.7): exactly one output is itself spent by a peel-shaped transaction;
- ``round-amount`` (0.55): exactly one output is a round amount, so the other is change;
- ``larger-output`` (0.5): the larger output (the balance being peeled) - used only when nothing else speaks.

Sources and the round-amount unit are shared with the clustering change heuristics
(:mod:`chainsleuth.algorithms.clustering.change`). Each step is O(1) array lookups.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from chainsleuth.algorithms.clustering.change import ROUND_AMOUNT_UNIT_SAT, SOURCES
from chainsleuth.algorithms.tracing.utxo import UtxoGraph, _kernel_module
from chainsleuth.core.evidence import Evidence

__all__ = ["PEEL_CONFIDENCE", "PeelChain", "PeelStep", "follow_peel_chain", "follow_peel_chain_reference"]

PEEL_CONFIDENCE = {"address-reuse": 0.95, "peel-continuation": 0.7, "round-amount": 0.55, "larger-output": 0.5}
_SOURCE = {
    "address-reuse": SOURCES["address-reuse"],
    "peel-continuation": SOURCES["peel-chain"],
    "round-amount": SOURCES["round-amount"],
    "larger-output": "Meiklejohn et al., 'A Fistful of Bitcoins' (IMC 2013), peeling chains: the remainder is "
                     "the large output",
}


@dataclass(frozen=True)
class PeelStep:
    """One transaction of the chain: the output followed (change) and the one peeled off."""

    hop: int
    tx: int
    change_row: int
    peeled_row: int
    evidence: Evidence
    details: dict[str, Any] = field(default_factory=dict)


def _is_peel(g: UtxoGraph, tx: int, max_inputs: int) -> bool:
    n_out = int(g.tx_out_ptr[tx + 1] - g.tx_out_ptr[tx])
    n_in = int(g.tx_in_ptr[tx + 1] - g.tx_in_ptr[tx])
    return n_out == 2 and 1 <= n_in <= max_inputs and not bool(g.is_coinbase[tx])


_WHY = ("unspent", "not_peel", "ambiguous", "max_hops")
_UNIT = int(ROUND_AMOUNT_UNIT_SAT)
_BITS = (("address-reuse", 1), ("peel-continuation", 2), ("round-amount", 4), ("larger-output", 8))


def _step(g: UtxoGraph, hop: int, tx: int, change: int, peeled: int, names: list[str]) -> PeelStep:
    a = int(g.tx_out_ptr[tx])
    conf = 1.0 - float(np.prod([1.0 - PEEL_CONFIDENCE[h] for h in names]))
    ev = Evidence(
        heuristic="peel-chain:" + "+".join(names),
        summary=(f"output {change - a} ({int(g.out_value[change])} base units) is change, output {peeled - a} "
                 f"({int(g.out_value[peeled])}) is the peel: {', '.join(names)}"),
        confidence=round(conf, 4), source="; ".join(_SOURCE[h] for h in names),
        details={"tx_id": tx, "change_n": change - a, "peeled_n": peeled - a, "heuristics": names},
    )
    return PeelStep(hop, tx, change, peeled, ev)


class PeelChain(Sequence[PeelStep]):
    """The steps of a followed chain. The decisions (transaction, change and peeled output, heuristics that
    agreed) are arrays from the compiled follow; each :class:`PeelStep` with its :class:`Evidence` is built
    the first time it is read. Compares equal to a list of the same steps."""

    __slots__ = ("_a", "_built", "_g", "_n")

    def __init__(self, g: UtxoGraph, steps: np.ndarray, n: int) -> None:
        self._g = g
        self._a = steps                       # (>= n, 4): tx, change row, peeled row, heuristic bits
        self._n = n
        self._built: list[PeelStep | None] = []

    def __len__(self) -> int:
        return self._n

    def _get(self, i: int) -> PeelStep:
        if not self._built:
            self._built = [None] * self._n
        s = self._built[i]
        if s is None:
            tx, change, peeled, bits = (int(x) for x in self._a[i])
            s = self._built[i] = _step(self._g, i + 1, tx, change, peeled, [h for h, b in _BITS if bits & b])
        return s

    @overload
    def __getitem__(self, i: int) -> PeelStep: ...
    @overload
    def __getitem__(self, i: slice) -> list[PeelStep]: ...
    def __getitem__(self, i: int | slice) -> PeelStep | list[PeelStep]:
        if isinstance(i, slice):
            return [self._get(j) for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError("peel step index out of range")
        return self._get(i % n)

    def __iter__(self) -> Iterator[PeelStep]:
        return (self._get(i) for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (PeelChain, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PeelChain({len(self)} steps)"


def follow_peel_chain(g: UtxoGraph, start_row: int, *, max_hops: int = 100, max_inputs: int = 2
                      ) -> tuple[Sequence[PeelStep], str]:
    """Follow the change from output ``start_row``; return the steps and why the chain ended
    (``unspent``, ``not_peel``, ``ambiguous``, ``max_hops``).

    Runs the compiled follow (:func:`._kernel.peel_kernel`) and returns a :class:`PeelChain`;
    :func:`follow_peel_chain_reference` makes the same decisions in plain Python (the tests' oracle).

    >>> g = UtxoGraph.build(3, in_tx=[0, 1, 2], in_value=[0, 1_000_000, 699_000], in_prev=[-1, 0, 2],
    ...     in_addr=[-1, 1, 2], out_tx=[0, 1, 1, 2, 2], out_value=[1_000_000, 300_000, 699_000, 200_000, 498_000],
    ...     out_addr=[1, 9, 2, 8, 3])
    >>> steps, why = follow_peel_chain(g, 0)
    >>> [s.change_row for s in steps], why
    ([2, 4], 'unspent')
    """
    kern = _kernel_module()
    row = int(start_row)
    if not 0 <= row < g.out_value.size:     # not a row: left to the plain follow (it indexes as numpy does)
        return follow_peel_chain_reference(g, start_row, max_hops=max_hops, max_inputs=max_inputs)
    arr = kern.peel_kernel(g.kernel_graph(True), row, int(max_hops), int(max_inputs), _UNIT)
    return PeelChain(g, arr, arr.item(-4)), _WHY[arr.item(-3)]     # last row: (n, why, 0, 0)


def follow_peel_chain_reference(g: UtxoGraph, start_row: int, *, max_hops: int = 100, max_inputs: int = 2
                                ) -> tuple[list[PeelStep], str]:
    """:func:`follow_peel_chain` in plain Python, one step at a time (the reference the tests compare with)."""
    steps: list[PeelStep] = []
    row = int(start_row)
    for hop in range(1, max_hops + 1):
        spent = int(g.out_spent_in[row])
        if spent < 0:
            return steps, "unspent"
        tx = int(g.in_tx[spent])
        if not _is_peel(g, tx, max_inputs):
            return steps, "not_peel"
        a, b = int(g.tx_out_ptr[tx]), int(g.tx_out_ptr[tx]) + 1
        in_addrs = set(g.in_addr[g.tx_in_ptr[tx]:g.tx_in_ptr[tx + 1]].tolist()) - {-1}
        votes: dict[int, list[str]] = {a: [], b: []}
        for o in (a, b):
            if int(g.out_addr[o]) in in_addrs:
                votes[o].append("address-reuse")
        cont = {o: (int(g.out_spent_in[o]) >= 0 and _is_peel(g, int(g.in_tx[g.out_spent_in[o]]), max_inputs))
                for o in (a, b)}
        if cont[a] != cont[b]:
            votes[a if cont[a] else b].append("peel-continuation")
        rnd = {o: int(g.out_value[o]) % ROUND_AMOUNT_UNIT_SAT == 0 for o in (a, b)}
        if rnd[a] != rnd[b]:
            votes[b if rnd[a] else a].append("round-amount")
        if not votes[a] and not votes[b]:
            big = a if int(g.out_value[a]) >= int(g.out_value[b]) else b
            votes[big].append("larger-output")
        if votes[a] and votes[b]:
            return steps, "ambiguous"
        change = a if votes[a] else b
        peeled = b if change == a else a
        steps.append(_step(g, hop, tx, change, peeled, votes[change]))
        row = change
    return steps, "max_hops"
