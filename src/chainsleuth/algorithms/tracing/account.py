"""Account-model tracing (Ethereum and EVM chains), one asset at a time.

Each address holds a *balance pool* of the asset, changed by transfers in chain order (block, tx index,
transfer index). The policies (DESIGN.md "Tracing semantics"):

- **poison**: once a pool holds any taint, the whole pool is tainted: every later outgoing transfer is
  tainted in full (amounts grow; no conservation).
- **haircut**: an outgoing transfer of ``v`` from a pool with balance ``B`` and taint ``t`` carries
  ``round(v * t / B)`` (half up, capped at ``t``; a transfer emptying the pool carries all of ``t``). The
  rounding only moves taint between the pool and the transfer, so value is conserved exactly.
- **fifo**: the pool is a queue of received lots (a partly tainted lot carries its taint first); an outgoing
  transfer spends the oldest units first.  **lifo**: a stack; the newest units go first (within a lot the
  clean part, which lies after the taint, goes first: the mirror of fifo).
- **tiho** is defined on UTXO transactions only (it needs a transaction's outputs side by side).

Forward traces process, in chain order, only transfers after the source that touch a tainted pool (a heap
merges the tainted pools' transfer lists). Backward traces explain an outgoing transfer by replaying the
sender's pool up to it and splitting the amount over the received lots it spent; each lot leads to its
sender at the next hop. A pool's history that starts in the red (value received before the data begins)
gets a leading lot of unknown origin. Transfers from nobody (block rewards, withdrawals) are coinbase origins;
transfers to nobody and gas fees are fees.

Amounts are Python ints (wei exceeds int64); ids are numpy int64. The per-event work is Python-level but
touches only the tainted pools; addresses with more than ``max_degree`` transfers (exchange hot wallets)
are paged: reported as endpoints, never replayed.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainsleuth.algorithms.tracing.policies import Policy, get_policy
from chainsleuth.algorithms.tracing.result import ENDPOINT_KINDS, TraceLimits, TraceResult
from chainsleuth.errors import Unsupported

__all__ = ["AccountGraph", "balance_seed_backward", "trace_account"]

_EP = {k: i for i, k in enumerate(ENDPOINT_KINDS)}


@dataclass
class AccountGraph:
    """Transfers of one asset in chain order, with a CSR index address -> transfer rows.

    ``ev_from`` / ``ev_to`` are address ids (-1: coin created / destroyed); ``ev_fee`` marks gas fees and
    burns (value that leaves to fees, never followed). Build with :meth:`build`.

    >>> g = AccountGraph.build(3, ev_from=[-1, 0, 1], ev_to=[0, 1, 2], ev_value=[10, 4, 4], ev_tx=[0, 1, 2])
    >>> g.rows_of(1).tolist()
    [1, 2]
    """

    n_addr: int
    ev_from: np.ndarray
    ev_to: np.ndarray
    ev_value: list[int]
    ev_tx: np.ndarray
    ev_fee: np.ndarray
    ptr: np.ndarray
    rows: np.ndarray

    @staticmethod
    def build(n_addr: int, *, ev_from: Any, ev_to: Any, ev_value: Any, ev_tx: Any, ev_fee: Any = None) -> AccountGraph:
        f = np.asarray(ev_from, dtype=np.int64)
        t = np.asarray(ev_to, dtype=np.int64)
        n = f.size
        fee = np.zeros(n, dtype=bool) if ev_fee is None else np.asarray(ev_fee, dtype=bool)
        idx = np.arange(n, dtype=np.int64)
        owner = np.concatenate([f, t[t != f]])
        row = np.concatenate([idx, idx[t != f]])
        keep = owner >= 0
        owner, row = owner[keep], row[keep]
        order = np.lexsort((row, owner))
        ptr = np.zeros(n_addr + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(np.bincount(owner, minlength=n_addr))
        return AccountGraph(n_addr, f, t, [int(v) for v in ev_value], np.asarray(ev_tx, dtype=np.int64), fee, ptr,
                            row[order])

    def rows_of(self, addr: int) -> np.ndarray:
        return self.rows[self.ptr[addr]:self.ptr[addr + 1]]

    def degree(self, addr: int) -> int:
        return int(self.ptr[addr + 1] - self.ptr[addr])

    def balance_before(self, addr: int, row: int) -> tuple[int, int]:
        """(balance just before transfer ``row``, lowest running balance before it) of ``addr``."""
        bal = low = 0
        for r in self.rows_of(addr).tolist():
            if r >= row:
                break
            bal += self._delta(addr, r)
            low = min(low, bal)
        return bal, low

    def _delta(self, addr: int, r: int) -> int:
        v = self.ev_value[r]
        return (v if self.ev_to[r] == addr else 0) - (v if self.ev_from[r] == addr else 0)


class _Pool:
    __slots__ = ("balance", "hop", "lots", "taint")

    def __init__(self, balance: int, hop: int, lifo: bool) -> None:
        self.balance = balance
        self.taint = 0
        self.hop = hop
        self.lots: deque[list[int]] = deque([[balance, 0]] if balance > 0 else [])


def _take(lots: deque[list[int]], v: int, lifo: bool) -> int:
    """Spend ``v`` units from the lots (oldest first, or newest first for lifo); return the taint spent."""
    carried = 0
    while v > 0 and lots:
        lot = lots[-1] if lifo else lots[0]
        amount, taint = lot
        x = min(v, amount)
        # taint lies first inside a lot: fifo eats it first, lifo eats the clean tail first
        t = min(x, taint) if not lifo else max(0, x - (amount - taint))
        lot[0], lot[1] = amount - x, taint - t
        carried += t
        v -= x
        if lot[0] == 0:
            (lots.pop() if lifo else lots.popleft())
    return carried


def trace_account(g: AccountGraph, seeds: list[tuple[int, int]], *, direction: str = "forward",
                  policy: str | Policy = "haircut", limits: TraceLimits | None = None,
                  stop_mask: np.ndarray | None = None) -> TraceResult:
    """Trace one asset on an account chain.

    ``seeds`` are ``(row, amount)``: forward, transfer ``row`` delivers ``amount`` of taint into its
    recipient's pool (hop 0); backward, transfer ``row`` is the hop-1 edge and ``amount`` of it is explained
    from its sender's pool (hop 1 on). To explain an address's current balance use
    :func:`balance_seed_backward`. Returns a :class:`TraceResult` whose edge items are address ids.

    >>> g = AccountGraph.build(3, ev_from=[-1, 0, 1], ev_to=[0, 1, 2], ev_value=[10, 4, 4], ev_tx=[0, 1, 2])
    >>> r = trace_account(g, [(0, 10)], policy="haircut")
    >>> [(int(a), int(k), int(m)) for a, k, m in zip(r.ep_item, r.ep_kind, r.ep_amount)]
    [(0, 1, 6), (2, 1, 4)]
    """
    pol = get_policy(policy) if isinstance(policy, str) else policy
    if not pol.account:
        raise Unsupported(f"tracing policy {pol.name!r} is defined on UTXO transactions only; on account chains "
                          "use poison, haircut, fifo or lifo", field="policy", value=pol.name)
    lim = limits or TraceLimits()
    if direction == "forward":
        return _forward(g, seeds, pol, lim, stop_mask)
    if direction == "backward":
        return _backward(g, seeds, pol, lim, stop_mask)
    raise ValueError(f"direction must be forward or backward, not {direction!r}")


class _Out:
    """Collects edges and endpoints as Python lists."""

    def __init__(self) -> None:
        self.edges: list[tuple[int, int, int, int, int, int]] = []   # tx, from, to, amount, hop, row
        self.eps: list[tuple[int, int, int, int, int]] = []
        self.fees = 0
        self.cut = 0
        self.paged: dict[int, int] = {}
        self.hop_hits = 0

    def result(self, direction: str, pol: Policy, source: int, lim: TraceLimits, hops: int,
               values: list[int]) -> TraceResult:
        r = TraceResult(direction=direction, policy=pol.name, source_amount=source, fees=self.fees, cut_off=self.cut,
                        hops_done=hops)
        if self.edges:
            tx, fr, to, amt, hop, row = zip(*self.edges, strict=True)
            r.e_tx, r.e_from, r.e_to, r.e_hop, r.e_row = (np.asarray(x, dtype=np.int64) for x in (tx, fr, to, hop, row))
            r.e_amount = np.asarray(amt, dtype=object)
            r.e_value = np.asarray([values[i] for i in row], dtype=object)
        eps = [e for e in self.eps if e[2] > 0]
        if eps:
            item, kind, amt, hop, tx = zip(*eps, strict=True)
            r.ep_item, r.ep_kind, r.ep_hop, r.ep_tx = (np.asarray(x, dtype=np.int64) for x in (item, kind, hop, tx))
            r.ep_amount = np.asarray(amt, dtype=object)
        else:
            r.ep_amount = np.asarray([], dtype=object)
        if self.hop_hits:
            r.limits_hit.append({"limit": "max_hops", "value": lim.max_hops, "transfers": self.hop_hits})
        if self.paged:
            r.limits_hit.append({"limit": "max_degree", "value": lim.max_degree, "addresses": len(self.paged),
                                 "degrees": dict(sorted(self.paged.items(), key=lambda kv: -kv[1])[:20])})
        return r


def _arrive(g: AccountGraph, out: _Out, lim: TraceLimits, stop_mask: np.ndarray | None, addr: int, c: int,
            hop: int, tx: int) -> bool:
    """Taint ``c`` reaches ``addr`` at ``hop``; True when it should be followed (pool tracked)."""
    if hop > 0 and c < lim.min_amount:
        out.cut += c
        return False
    if hop > 0 and stop_mask is not None and addr >= 0 and bool(stop_mask[addr]):
        out.eps.append((addr, _EP["service"], c, hop, tx))
        return False
    if hop >= lim.max_hops:
        out.eps.append((addr, _EP["hop_limit"], c, hop, tx))
        out.hop_hits += 1
        return False
    d = g.degree(addr)
    if d > lim.max_degree:
        out.eps.append((addr, _EP["paged"], c, hop, tx))
        out.paged[addr] = d
        return False
    return True


def _forward(g: AccountGraph, seeds: list[tuple[int, int]], pol: Policy, lim: TraceLimits,
             stop_mask: np.ndarray | None) -> TraceResult:
    out = _Out()
    pools: dict[int, _Pool] = {}
    heap: list[tuple[int, int, int]] = []        # (row, addr, index into the addr's row list)
    seed_at: dict[int, int] = {}
    for row, amount in seeds:
        seed_at[int(row)] = seed_at.get(int(row), 0) + min(int(amount), g.ev_value[int(row)])
    source = sum(seed_at.values())
    lifo = pol.name == "lifo"
    done: set[int] = set()
    max_hop = 0

    def track(addr: int, row: int, hop: int) -> _Pool:
        """Start following ``addr`` at transfer ``row`` (an incoming transfer not yet applied)."""
        bal, low = g.balance_before(addr, row)
        p = _Pool(bal - low, hop, lifo)   # history starting in the red: value of unknown origin
        pools[addr] = p
        rows = g.rows_of(addr)
        k = int(np.searchsorted(rows, row, side="right"))
        if k < rows.size:
            heapq.heappush(heap, (int(rows[k]), addr, k))
        return p

    def receive(p: _Pool, v: int, c: int, hop: int) -> None:
        p.balance += v
        p.taint = p.balance if pol.mode == "full" else p.taint + c
        p.hop = min(p.hop, hop)
        if pol.mode == "positional" and v > 0:
            p.lots.append([v, c])

    for row in sorted(seed_at):
        heapq.heappush(heap, (row, -1, -1))
    while heap:
        row, addr, k = heapq.heappop(heap)
        if addr >= 0:
            rows = g.rows_of(addr)
            if k + 1 < rows.size:
                heapq.heappush(heap, (int(rows[k + 1]), addr, k + 1))
        if row in done:
            continue
        done.add(row)
        a, b, v, tx = int(g.ev_from[row]), int(g.ev_to[row]), g.ev_value[row], int(g.ev_tx[row])
        pa = pools.get(a) if a >= 0 else None
        # what the transfer carries out of a tainted sender pool
        c = 0
        hop = 0
        if pa is not None:
            hop = pa.hop + 1
            if pol.mode == "full":
                c = v if pa.taint > 0 else 0
                pa.balance -= v
                pa.taint = max(pa.balance, 0) if pa.taint > 0 else 0
            elif pol.mode == "proportional":
                if pa.taint > 0:
                    denom = max(pa.balance, v, pa.taint)
                    c = pa.taint if v >= denom else min(pa.taint, v, (2 * v * pa.taint + denom) // (2 * denom))
                pa.balance -= v
                pa.taint -= c
            else:
                c = _take(pa.lots, v, lifo)
                pa.balance -= v
                pa.taint -= c
        if a == b:                                 # a transfer to oneself changes nothing
            if pa is not None:
                receive(pa, v, c, pa.hop)
            continue
        seed = seed_at.pop(row, 0)
        if seed:
            c, hop = seed, 0
        if c > 0 and (b < 0 or bool(g.ev_fee[row])):
            out.fees += c
            continue
        pb = pools.get(b) if b >= 0 else None
        if c > 0:
            max_hop = max(max_hop, hop)
            if hop > 0 and c < lim.min_amount:
                out.cut += c
                c = 0
            else:
                if hop > 0:
                    out.edges.append((tx, a, b, c, hop, row))
                if pb is None:
                    if _arrive(g, out, lim, stop_mask, b, c, hop, tx):
                        pb = track(b, row, hop)
                    c = c if pb is not None else 0
        if pb is not None:
            receive(pb, v, c, hop if c > 0 else pb.hop)
    for addr, p in pools.items():
        if p.taint > 0:
            out.eps.append((addr, _EP["unspent"], p.taint, p.hop, -1))
    return out.result("forward", pol, source, lim, max_hop, g.ev_value)


def _compose(g: AccountGraph, addr: int, row: int, pol: Policy) -> list[list[int]]:
    """Lots ``[inflow row (-1 unknown origin), remaining amount]`` of ``addr``'s pool just before ``row``,
    in spending order for positional policies. Haircut takes each outgoing transfer from every lot in
    proportion (exact integers, largest remainder); poison keeps every inflow whole."""
    lifo = pol.name == "lifo"
    _, low = g.balance_before(addr, row)
    lots: deque[list[Any]] = deque([[-1, -low]] if low < 0 else [])
    for r in g.rows_of(addr).tolist():
        if r >= row:
            break
        v = g.ev_value[r]
        if g.ev_to[r] == addr and g.ev_from[r] != addr:
            lots.append([r, v])
        elif g.ev_from[r] == addr and g.ev_to[r] != addr and pol.mode != "full":
            if pol.mode == "proportional":
                for x, y in zip(lots, _largest_remainder(min(v, sum(x[1] for x in lots)), [x[1] for x in lots]),
                                strict=True):
                    x[1] -= y
            else:
                while v > 0 and lots:
                    lot = lots[-1] if lifo else lots[0]
                    x = min(v, lot[1])
                    lot[1] -= x
                    v -= x
                    if lot[1] == 0:
                        (lots.pop() if lifo else lots.popleft())
    out = [x for x in lots if x[1] > 0]
    return out[::-1] if lifo else out


def _largest_remainder(amount: int, weights: list[int]) -> list[int]:
    """``amount`` split in proportion to ``weights`` in exact integers: floors, then +1 to the largest
    remainders (ties to the earliest), so the parts sum to ``amount`` exactly.

    >>> _largest_remainder(100, [100, 50, 10])
    [63, 31, 6]
    """
    total = sum(weights)
    if total <= 0 or amount <= 0:
        return [0] * len(weights)
    q = [amount * w // total for w in weights]
    r = [amount * w % total for w in weights]
    for j in sorted(range(len(weights)), key=lambda j: (-r[j], j))[:amount - sum(q)]:
        q[j] += 1
    return q


def _split(lots: list[list[Any]], amount: int, pol: Policy, start: int) -> list[tuple[int, int]]:
    """Amount taken from each lot: positional from offset ``start`` on the spending line; haircut by largest
    remainder over the (float) shares; poison every lot whole."""
    if pol.mode == "full":
        return [(int(r), int(v)) for r, v in lots]
    if pol.mode == "proportional":
        total = sum(v for _, v in lots)
        take = min(amount, total)
        out = [(int(r), q) for (r, _), q in zip(lots, _largest_remainder(take, [v for _, v in lots]), strict=True)]
        return out + ([(-1, amount - take)] if amount > take else [])
    taken, pos, end = [], 0, start + amount
    for r, v in lots:
        x = max(0, min(end, pos + v) - max(start, pos))
        if x:
            taken.append((int(r), int(x)))
        pos += v
    covered = sum(x for _, x in taken)
    if covered < amount:
        taken.append((-1, amount - covered))
    return taken


def _backward(g: AccountGraph, seeds: list[tuple[int, int]], pol: Policy, lim: TraceLimits,
              stop_mask: np.ndarray | None) -> TraceResult:
    """Seed transfers are the hop-1 edges (who paid the source); their senders are explained from hop 1 on."""
    out = _Out()
    frontier: dict[tuple[int, int], int] = {}
    for row, amount in seeds:
        row = int(row)
        amt = min(int(amount), g.ev_value[row])
        a, b = int(g.ev_from[row]), int(g.ev_to[row])
        if amt <= 0:
            continue
        if a >= 0:
            out.edges.append((int(g.ev_tx[row]), a, b, amt, 1, row))
        key = (a, row)
        frontier[key] = frontier.get(key, 0) + amt
    return _backward_run(g, frontier, pol, lim, stop_mask, out, hop=1)


def _backward_run(g: AccountGraph, frontier: dict[tuple[int, int], int], pol: Policy, lim: TraceLimits,
                  stop_mask: np.ndarray | None, out: _Out, hop: int = 0) -> TraceResult:
    """Explain each (sender, transfer row) amount of the frontier from the sender's pool, hop by hop."""
    source = sum(frontier.values())
    acc: dict[int, int] = {}
    while frontier:
        nxt: dict[tuple[int, int], int] = {}
        for (addr, row), amount in sorted(frontier.items()):
            tx = int(g.ev_tx[row]) if row < len(g.ev_value) else -1
            if amount <= 0:
                continue
            if addr < 0:                            # created coin: the origin
                out.eps.append((-1, _EP["coinbase"], amount, hop, tx))
                continue
            if not _arrive(g, out, lim, stop_mask, addr, amount, hop, tx):
                continue
            lots = _compose(g, addr, row, pol)
            start = acc.get(row, 0)
            if pol.mode == "positional":
                acc[row] = start + amount
            for lot_row, x in _split(lots, amount, pol, start):
                if x <= 0:
                    continue
                if lot_row < 0:
                    out.eps.append((addr, _EP["unknown_origin"], x, hop + 1, tx))
                    continue
                sender = int(g.ev_from[lot_row])
                out.edges.append((int(g.ev_tx[lot_row]), sender, addr, x, hop + 1, lot_row))
                key = (sender, lot_row)
                nxt[key] = nxt.get(key, 0) + x
        frontier = nxt
        if frontier:
            hop += 1
    return out.result("backward", pol, source, lim, hop, g.ev_value)


def balance_seed_backward(g: AccountGraph, addr: int, policy: str | Policy = "haircut",
                          limits: TraceLimits | None = None, stop_mask: np.ndarray | None = None) -> TraceResult:
    """Backward trace of ``addr``'s current balance (where did what it holds now come from)."""
    pol = get_policy(policy) if isinstance(policy, str) else policy
    if not pol.account:
        raise Unsupported(f"tracing policy {pol.name!r} is defined on UTXO transactions only", value=pol.name)
    n = len(g.ev_value)
    bal, _ = g.balance_before(addr, n)
    return _backward_run(g, {(addr, n): max(bal, 0)}, pol, limits or TraceLimits(), stop_mask, _Out())
