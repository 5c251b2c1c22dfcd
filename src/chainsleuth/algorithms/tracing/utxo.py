"""UTXO flow graph in CSR form and the trace over it.

Value moves output -> spending transaction -> outputs. Every transaction is seen as two lines of the same
length ``L = max(sum(inputs), sum(outputs))``: the input side (inputs end to end, then a *gap* for value
whose origin is outside the workspace or newly minted) and the output side (outputs end to end, then the
*fee*). A policy says how taint on one side lands on the other (see :mod:`.policies`). Forward traces go
input side -> output side; backward traces go output side -> input side with the same pairing of positions.

One engine runs every trace: the compiled kernel :func:`._kernel.trace_kernel`, one transaction at a time in
local integer coordinates, exact for any int64 amount (haircut's ``floor(T*w/L)`` in 128-bit arithmetic
where a line reaches 2**55), with a largest-remainder top-up per transaction so value is conserved exactly.
It costs what the trace touches: nothing the size of the graph is allocated per trace.

Semantics, shared with :func:`.reference.reference_trace_utxo` (the plain implementation the tests hold the
kernel to): hop-synchronous processing; per hop the frontier is filtered (cut-off below ``min_amount``, stop
mask, unspent, hop limit, paged, edge limit - in that order); a transaction reached again at a later hop
receives only the new taint, placed after the taint it already had (``acc`` per item, ``fill`` per
transaction for TIHO, a flag per transaction for poison), so the result equals processing all its taint at
once (haircut: up to rounding, which stays conserving).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainsleuth.algorithms.tracing.policies import Policy, get_policy
from chainsleuth.algorithms.tracing.result import ENDPOINT_KINDS, TraceLimits, TraceResult
from chainsleuth.errors import InvalidInput, Unsupported

__all__ = ["UtxoGraph", "trace_utxo"]

_EP = {k: i for i, k in enumerate(ENDPOINT_KINDS)}


@dataclass
class UtxoGraph:
    """A UTXO transaction graph over dense integer ids (CSR: inputs and outputs grouped by transaction).

    Rows of ``in_*`` are inputs sorted by (tx, n); rows of ``out_*`` outputs sorted by (tx, n).
    ``in_prev`` is the output row an input spends (-1: coinbase or outside the workspace, value 0);
    ``*_addr`` are address ids (-1: none). Build with :meth:`build`.

    >>> g = UtxoGraph.build(2, in_tx=[0, 1], in_value=[0, 100], in_prev=[-1, 0], in_addr=[-1, 7],
    ...                     out_tx=[0, 1, 1], out_value=[100, 60, 30], out_addr=[7, 8, 9])
    >>> g.fee.tolist(), g.gap.tolist()
    ([0, 10], [100, 0])
    """

    n_tx: int
    tx_in_ptr: np.ndarray
    tx_out_ptr: np.ndarray
    in_tx: np.ndarray
    in_value: np.ndarray
    in_prev: np.ndarray
    in_addr: np.ndarray
    out_tx: np.ndarray
    out_value: np.ndarray
    out_addr: np.ndarray
    out_spent_in: np.ndarray
    line: np.ndarray           # per tx: max(sum in, sum out)
    fee: np.ndarray            # per tx: line - sum out
    gap: np.ndarray            # per tx: line - sum in (coinbase / unresolved inputs)
    is_coinbase: np.ndarray    # per tx
    extra: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def build(n_tx: int, *, in_tx: Any, in_value: Any, in_prev: Any, in_addr: Any, out_tx: Any, out_value: Any,
              out_addr: Any, is_coinbase: Any = None) -> UtxoGraph:
        """Build from row arrays already sorted by (tx, n). Derives CSR pointers, spends, lines, fees."""
        in_tx_a = np.ascontiguousarray(in_tx, dtype=np.int64)      # contiguous: the compiled kernels take C arrays
        out_tx_a = np.ascontiguousarray(out_tx, dtype=np.int64)
        in_value_a = np.ascontiguousarray(in_value, dtype=np.int64)
        out_value_a = np.ascontiguousarray(out_value, dtype=np.int64)
        in_prev_a = np.ascontiguousarray(in_prev, dtype=np.int64)
        if np.any(np.diff(in_tx_a) < 0) or np.any(np.diff(out_tx_a) < 0):
            raise ValueError("inputs and outputs must be sorted by transaction")
        tx_in_ptr = np.zeros(n_tx + 1, dtype=np.int64)
        tx_in_ptr[1:] = np.cumsum(np.bincount(in_tx_a, minlength=n_tx))
        tx_out_ptr = np.zeros(n_tx + 1, dtype=np.int64)
        tx_out_ptr[1:] = np.cumsum(np.bincount(out_tx_a, minlength=n_tx))
        in_sum = np.zeros(n_tx, dtype=np.int64)
        if in_tx_a.size:
            in_sum = np.add.reduceat(in_value_a, tx_in_ptr[:-1].clip(max=max(in_tx_a.size - 1, 0)))
            in_sum[tx_in_ptr[:-1] == tx_in_ptr[1:]] = 0
        out_sum = np.zeros(n_tx, dtype=np.int64)
        if out_tx_a.size:
            out_sum = np.add.reduceat(out_value_a, tx_out_ptr[:-1].clip(max=max(out_tx_a.size - 1, 0)))
            out_sum[tx_out_ptr[:-1] == tx_out_ptr[1:]] = 0
        line = np.maximum(in_sum, out_sum)
        out_spent_in = np.full(out_tx_a.size, -1, dtype=np.int64)
        has = in_prev_a >= 0
        out_spent_in[in_prev_a[has]] = np.flatnonzero(has)
        cb = (np.zeros(n_tx, dtype=bool) if is_coinbase is None else np.ascontiguousarray(is_coinbase, dtype=bool))
        return UtxoGraph(
            n_tx=n_tx, tx_in_ptr=tx_in_ptr, tx_out_ptr=tx_out_ptr, in_tx=in_tx_a, in_value=in_value_a,
            in_prev=in_prev_a, in_addr=np.ascontiguousarray(in_addr, dtype=np.int64), out_tx=out_tx_a,
            out_value=out_value_a, out_addr=np.ascontiguousarray(out_addr, dtype=np.int64),
            out_spent_in=out_spent_in, line=line, fee=line - out_sum, gap=line - in_sum, is_coinbase=cb,
        )

    @property
    def degree(self) -> np.ndarray:
        """Inputs plus outputs per transaction (computed once)."""
        d = self.extra.get("_degree")
        if d is None:
            d = self.extra["_degree"] = np.diff(self.tx_in_ptr) + np.diff(self.tx_out_ptr)
        return d

    def trace_index(self, forward: bool) -> tuple[np.ndarray, np.ndarray]:
        """The compiled trace's view of one direction, built on first use and kept: ``(next_tx, txr)``.

        ``next_tx`` per target row: forward, the transaction spending an output (-1: unspent); backward, the
        transaction of the output an input spends (-1: coinbase or outside the workspace). ``txr`` is one
        64-byte record per transaction (fields ``_kernel.TXR_FIELDS``: the target side's rows, line, tail,
        degree, the source side's rows, coinbase flag), aligned to cache lines, so a hop reads one line per
        transaction it reaches. Costs 64 bytes per transaction and 8 per row, per direction used.

        >>> g = UtxoGraph.build(2, in_tx=[0, 1], in_value=[0, 100], in_prev=[-1, 0], in_addr=[-1, 7],
        ...                     out_tx=[0, 1, 1], out_value=[100, 60, 30], out_addr=[7, 8, 9])
        >>> nxt, txr = g.trace_index(forward=True)
        >>> nxt.tolist(), txr[1, :5].tolist()
        ([1, -1, -1], [1, 3, 100, 10, 3])
        """
        key = "_index_fwd" if forward else "_index_bwd"
        got = self.extra.get(key)
        if got is None:
            if forward:     # target rows: outputs, linked to the input spending them
                link, row_tx, tail = self.out_spent_in, self.in_tx, self.fee
                dst_ptr, src_ptr = self.tx_out_ptr, self.tx_in_ptr
            else:           # target rows: inputs, linked to the output they spend
                link, row_tx, tail = self.in_prev, self.out_tx, self.gap
                dst_ptr, src_ptr = self.tx_in_ptr, self.tx_out_ptr
            nxt = row_tx[np.maximum(link, 0)] if row_tx.size else np.zeros(link.size, dtype=np.int64)
            nxt[link < 0] = -1       # (a plain gather and a fix-up: 4x faster than a masked gather)
            txr = _aligned_rows(self.n_tx, 8)
            txr[:, 0] = dst_ptr[:-1]
            txr[:, 1] = dst_ptr[1:]
            txr[:, 2] = self.line
            txr[:, 3] = tail
            txr[:, 4] = self.degree
            txr[:, 5] = src_ptr[:-1]
            txr[:, 6] = src_ptr[1:]
            txr[:, 7] = self.is_coinbase
            got = self.extra[key] = (nxt, txr)
        return got

    def kernel_graph(self, forward: bool) -> Any:
        """The graph side of a compiled trace in one direction (:class:`._kernel.TraceGraph`: the row arrays and
        :meth:`trace_index`), built on first use and kept; the arrays are shared, not copied."""
        key = "_kgraph_fwd" if forward else "_kgraph_bwd"
        got = self.extra.get(key)
        if got is None:
            from chainsleuth.algorithms.tracing._kernel import TraceGraph

            maxdeg = int(max(np.diff(self.tx_in_ptr).max(initial=0), np.diff(self.tx_out_ptr).max(initial=0)))
            nxt, txr = self.trace_index(forward)
            got = self.extra[key] = TraceGraph(self.in_tx, self.in_value, self.in_prev, self.in_addr, self.out_tx,
                                               self.out_value, self.out_addr, self.out_spent_in, nxt, txr, maxdeg)
        return got


def _aligned_rows(n: int, width: int) -> np.ndarray:
    """An uninitialised int64 ``(n, width)`` C array whose rows start on 64-byte boundaries (width 8)."""
    raw = np.empty(n * width + 8, dtype=np.int64)
    skip = (-raw.ctypes.data % 64) // 8
    return raw[skip:skip + n * width].reshape(n, width)


def _seeds(g: UtxoGraph, outputs: Any, amounts: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Unique seed rows and their taint (the output's value, or the given amount capped at it)."""
    rows = np.asarray(outputs, dtype=np.int64).reshape(-1)
    if amounts is None and (rows.size < 2 or bool((rows[1:] > rows[:-1]).all())):    # sorted, unique: as is
        if rows.size and (rows[0] < 0 or rows[-1] >= g.out_value.size):
            raise ValueError("seed output row out of range")
        return np.ascontiguousarray(rows), g.out_value[rows]
    if rows.size and (rows.min() < 0 or rows.max() >= g.out_value.size):
        raise ValueError("seed output row out of range")
    o, inv = np.unique(rows, return_inverse=True)
    if amounts is None:
        return o, g.out_value[o].copy()
    t = np.zeros(o.size, dtype=np.int64)
    np.add.at(t, inv, np.asarray(amounts, dtype=np.int64).reshape(-1))
    return o, np.minimum(t, g.out_value[o])


def _kernel_module() -> Any:
    """The compiled kernels (:mod:`._kernel`), imported on first use: importing numba costs about half a second,
    which a command that traces nothing should not pay."""
    from chainsleuth.algorithms.tracing import _kernel

    return _kernel


def trace_utxo(g: UtxoGraph, seeds: Any, *, direction: str = "forward", policy: str | Policy = "haircut",
               limits: TraceLimits | None = None, stop_mask: np.ndarray | None = None,
               seed_amounts: Any = None) -> TraceResult:
    """Trace taint from seed outputs forward (to where it went) or backward (to where it came from).

    Parameters
    ----------
    g : the graph.
    seeds : output rows where the trace starts (hop 0); fully tainted unless ``seed_amounts`` is given.
    direction : ``"forward"`` or ``"backward"``.
    policy : a registered policy name or :class:`Policy`.
    limits : max hops, min amount, max degree (transactions with more inputs+outputs are paged: reported
        as endpoints, not expanded) and max edges.
    stop_mask : bool per address id; True where the address belongs to a ``--stop-at`` category.
    seed_amounts : taint per seed (summed where a row repeats, capped at the output's value); default: all of it.

    Returns
    -------
    TraceResult with edges (tx, input row, output row, amount, hop) and endpoints (output row, kind, amount,
    hop, tx). For every policy but poison ``source = endpoints + fees + cut_off`` exactly.

    Examples
    --------
    One payment of 100 split 60 / 30 with a fee of 10; taint 100 under haircut is all of it:

    >>> g = UtxoGraph.build(2, in_tx=[0, 1], in_value=[0, 100], in_prev=[-1, 0], in_addr=[-1, 7],
    ...                     out_tx=[0, 1, 1], out_value=[100, 60, 30], out_addr=[7, 8, 9])
    >>> r = trace_utxo(g, [0], policy="haircut")
    >>> r.ep_amount.tolist(), r.fees, r.conservation_gap()
    ([60, 30], 10, 0)
    """
    pol = get_policy(policy) if isinstance(policy, str) else policy
    lim = limits or TraceLimits()
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be forward or backward, not {direction!r}")
    fwd = direction == "forward"
    fr, ft = _seeds(g, seeds, seed_amounts)
    source = int(ft.sum(dtype=object)) if ft.size else 0     # exact: int64 would wrap past 2**63 - 1
    if source > _I64_MAX:
        raise InvalidInput(f"the seeds carry {source} base units in all; a trace keeps its totals (source, fees, "
                           f"cut off, limit amounts) in 64-bit integers, up to {_I64_MAX}: trace fewer seeds at once",
                           value=source)
    res = TraceResult(direction=direction, policy=pol.name, source_amount=source)
    kern = _kernel_module()
    if pol.mode not in kern.MODES:
        raise Unsupported(f"tracing policy {pol.name!r} has placement mode {pol.mode!r}, which the UTXO trace does "
                          f"not implement (it knows {', '.join(kern.MODES)})", value=pol.mode)
    return _trace_kernel(kern, g, pol, lim, fwd, fr, ft, stop_mask, res)


def _trace_kernel(kern: Any, g: UtxoGraph, pol: Policy, lim: TraceLimits, fwd: bool, fr: np.ndarray,
                  ft: np.ndarray, stop_mask: np.ndarray | None, res: TraceResult) -> TraceResult:
    if stop_mask is None:
        mask, has_stop = _NO_STOP, False
    else:
        mask, has_stop = np.ascontiguousarray(stop_mask, dtype=np.bool_), True
    big = _I64_MAX
    params = kern.TraceParams(
        forward=fwd, mode=kern.MODES[pol.mode], src_rev=bool(pol.reverse_inputs and fwd),
        dst_rev=bool(pol.reverse_inputs and not fwd), largest_first=bool(pol.largest_first),
        max_hops=min(lim.max_hops, big), min_amount=min(lim.min_amount, big), max_degree=min(lim.max_degree, big),
        max_edges=min(lim.max_edges, big), stop_mask=mask, has_stop=has_stop)
    e, p, info = kern.trace_kernel(g.kernel_graph(fwd), params, kern.TraceSeeds(fr, ft))
    if info[kern.I_ERR]:
        raise IndexError(f"address id {int(info[kern.I_ERR]) - 1} is outside stop_mask (size {mask.size})")
    hop = int(info[kern.I_HOPS])
    if info[kern.I_MH]:
        res.limits_hit.append({"limit": "max_hops", "value": lim.max_hops, "outputs": int(info[kern.I_MH_OUT]),
                               "amount": int(info[kern.I_MH_AMT])})
    if info[kern.I_ME]:
        res.limits_hit.append({"limit": "max_edges", "value": lim.max_edges, "outputs": int(info[kern.I_ME_OUT]),
                               "amount": int(info[kern.I_ME_AMT])})
    if info[kern.I_PAGED]:
        is_paged = p[1] == _EP["paged"]
        paged: dict[int, int] = {}
        ph, pt = p[3][is_paged], p[4][is_paged]
        for h in np.unique(ph).tolist():
            for t in np.unique(pt[ph == h]).tolist():
                paged[int(t)] = int(g.degree[t])
        res.limits_hit.append({"limit": "max_degree", "value": lim.max_degree, "txs": len(paged),
                               "degrees": dict(sorted(paged.items(), key=lambda kv: -kv[1])[:20])})
    res.hops_done = hop
    res.fees, res.cut_off = int(info[kern.I_FEES]), int(info[kern.I_CUT])
    if e.shape[1]:
        res.e_tx, res.e_from, res.e_to, res.e_amount, res.e_hop = e[0], e[1], e[2], e[3], e[4]
        res.e_value = g.out_value[res.e_to] if fwd else g.in_value[res.e_from]
    if p.shape[1]:
        res.ep_item, res.ep_kind, res.ep_amount, res.ep_hop, res.ep_tx = p[0], p[1], p[2], p[3], p[4]
    return res


_NO_STOP = np.zeros(0, dtype=np.bool_)
_I64_MAX = 2**63 - 1
