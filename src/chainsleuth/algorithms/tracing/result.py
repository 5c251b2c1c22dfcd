"""The result of a trace in integer ids, before the workspace turns ids into addresses and txids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ENDPOINT_KINDS", "TraceLimits", "TraceResult"]

#: why traced value stopped where it did (``TraceResult.ep_kind`` holds the index into this tuple)
ENDPOINT_KINDS: tuple[str, ...] = (
    "service",       # 0 an address attributed to a --stop-at category
    "unspent",       # 1 unspent output (UTXO) / remaining balance (account): the value is still there
    "hop_limit",     # 2 reached --max-hops
    "paged",         # 3 the next transaction / address has more than max_degree links: not expanded
    "edge_limit",    # 4 the trace reached max_edges: not expanded further
    "coinbase",      # 5 backward: newly minted coins (coinbase) - the origin of the value
    "unknown_origin",  # 6 backward: value from outside the workspace (unresolved inputs, missing history)
)


@dataclass(frozen=True)
class TraceLimits:
    """The limits of one trace. ``min_amount`` in base units; a transfer carrying less is cut off."""

    max_hops: int = 10
    min_amount: int = 0
    max_degree: int = 5000
    max_edges: int = 1_000_000

    def __post_init__(self) -> None:
        if self.max_hops < 0:
            raise ValueError("max_hops must be >= 0")
        if self.min_amount < 0:
            raise ValueError("min_amount must be >= 0")


_EMPTY = np.empty(0, dtype=np.int64)
_EMPTY.flags.writeable = False      # shared by every result's unset fields, so it must never change


def _i64() -> np.ndarray:
    return _EMPTY


@dataclass
class TraceResult:
    """Edges and endpoints of a trace over integer ids.

    Edges: ``e_tx`` (transaction id), ``e_from`` / ``e_to`` (item ids: for UTXO the input row and the output
    row; for account chains the sending and receiving address ids), ``e_amount`` (traced amount), ``e_hop``,
    ``e_value`` (the full value of the output / transfer, so ``e_amount / e_value`` is its taint share).
    Endpoints: ``ep_item`` (output row / address id, -1 when there is none), ``ep_kind`` (index into
    :data:`ENDPOINT_KINDS`), ``ep_amount``, ``ep_hop``, ``ep_tx`` (transaction where it stopped, or -1).

    Amounts are int64 (UTXO) or Python ints in object arrays (account chains, where wei exceeds int64).
    Value conservation: ``source_amount == ep_amount.sum() + fees + cut_off`` for every policy but poison.
    """

    direction: str
    policy: str
    source_amount: int
    e_tx: np.ndarray = field(default_factory=_i64)
    e_from: np.ndarray = field(default_factory=_i64)
    e_to: np.ndarray = field(default_factory=_i64)
    e_amount: np.ndarray = field(default_factory=_i64)
    e_hop: np.ndarray = field(default_factory=_i64)
    e_value: np.ndarray = field(default_factory=_i64)   # value of the output / transfer the edge lands on
    e_row: np.ndarray = field(default_factory=_i64)     # account chains: transfer row of the edge
    ep_item: np.ndarray = field(default_factory=_i64)
    ep_kind: np.ndarray = field(default_factory=_i64)
    ep_amount: np.ndarray = field(default_factory=_i64)
    ep_hop: np.ndarray = field(default_factory=_i64)
    ep_tx: np.ndarray = field(default_factory=_i64)
    fees: int = 0
    cut_off: int = 0
    limits_hit: list[dict[str, Any]] = field(default_factory=list)
    hops_done: int = 0

    @property
    def endpoint_total(self) -> int:
        return int(sum(int(x) for x in self.ep_amount)) if self.ep_amount.dtype == object else int(self.ep_amount.sum())

    def conservation_gap(self) -> int:
        """``source - (endpoints + fees + cut_off)``; zero for every conserving policy."""
        return int(self.source_amount) - (self.endpoint_total + int(self.fees) + int(self.cut_off))

    def totals(self) -> dict[str, int]:
        return {"source_amount": int(self.source_amount), "endpoints": self.endpoint_total, "fees": int(self.fees),
                "cut_off": int(self.cut_off)}
