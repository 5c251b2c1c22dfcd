"""UTXO flow graph in CSR form and the vectorised frontier propagation.

Value moves output -> spending transaction -> outputs. Every transaction is seen as two lines of the same
length ``L = max(sum(inputs), sum(outputs))``: the input side (inputs end to end, then a *gap* for value
whose origin is outside the workspace or newly minted) and the output side (outputs end to end, then the
*fee*). A policy says how taint on one side lands on the other (see :mod:`.policies`). Forward traces go
input side -> output side; backward traces go output side -> input side with the same pairing of positions.

Per hop the whole frontier is processed at once with numpy: the transactions it reaches are gathered as
CSR segments, their lines laid end to end on one global coordinate axis (exclusive ``cumsum``), tainted
intervals placed on it, and every target segment's overlap with the taint read off a cumulative tainted
length function (``searchsorted``). Haircut uses an exact integer ``floor(T*w/L)`` with a largest-remainder
top-up per transaction, so value is conserved exactly. Cost per hop: O(k log k) in the size ``k`` of the
reached transactions; nothing is done per row in Python.

Semantics shared with :func:`.reference.reference_trace_utxo` (the plain implementation the tests compare
against): hop-synchronous processing; a transaction reached again at a later hop receives only the new
taint, placed after the taint it already had (``acc`` per item, ``fill`` per transaction for TIHO, a flag
per transaction for poison), so the result equals processing all its taint at once (haircut: up to
rounding, which stays conserving).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainsleuth.algorithms.tracing.policies import Policy, get_policy
from chainsleuth.algorithms.tracing.result import ENDPOINT_KINDS, TraceLimits, TraceResult

__all__ = ["DEFAULT_ENGINE", "UtxoGraph", "trace_utxo"]

_EP = {k: i for i, k in enumerate(ENDPOINT_KINDS)}
_CHUNK_LIMIT = 1 << 61           # global line coordinates stay below this (int64 headroom for products)


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


# ----------------------------------------------------------------------------------------------------
# small vector helpers
# ----------------------------------------------------------------------------------------------------
def _excl_cumsum(a: np.ndarray) -> np.ndarray:
    out = np.empty(a.size, dtype=np.int64)
    if a.size:
        out[0] = 0
        np.cumsum(a[:-1], out=out[1:])
    return out


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate ``range(s, s + c)`` for each pair, vectorised."""
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    shift = np.repeat(starts - _excl_cumsum(counts), counts)
    return shift + np.arange(total, dtype=np.int64)


def _mul_div_floor(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``floor(a*b/c)`` and remainder for int64 ``0 <= a, b <= c < 2**61`` (products may exceed int64).

    A float estimate is corrected with the remainder computed in wrapping int64 arithmetic, which is exact
    because the true remainder of the estimate is small.
    """
    q = np.floor(a.astype(np.float64) * b.astype(np.float64) / np.maximum(c, 1).astype(np.float64)).astype(np.int64)
    with np.errstate(over="ignore"):
        r = a * b - q * c
    for _ in range(8):
        neg = r < 0
        big = r >= c
        if not (neg.any() or big.any()):
            break
        q[neg] -= 1
        r[neg] += c[neg]
        q[big] += 1
        r[big] -= c[big]
    return q, r


def _segment_rank(seg: np.ndarray, key_desc: np.ndarray) -> np.ndarray:
    """Rank of each row inside its segment (rows of a segment contiguous), by ``key_desc`` descending, ties
    by position. Segments of up to 16 rows are ranked by direct comparison in a padded matrix (O(16 n)); the
    rows of larger segments by a stable lexsort."""
    n = seg.size
    starts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    counts = np.diff(np.r_[starts, n])
    rank = np.empty(n, dtype=np.int64)
    small_seg = counts <= 16
    small = np.repeat(small_seg, counts)
    if small.any():
        st, ct = starts[small_seg], counts[small_seg]
        width = int(ct.max())
        rows = np.flatnonzero(small)
        segi = np.repeat(np.arange(st.size), ct)
        local = rows - np.repeat(st, ct)
        m = np.full((st.size, width), np.iinfo(np.int64).min, dtype=np.int64)
        m[segi, local] = key_desc[rows]
        mine = key_desc[rows][:, None]
        peers = m[segi]
        earlier = np.arange(width)[None, :] < local[:, None]
        rank[rows] = (peers > mine).sum(axis=1) + ((peers == mine) & earlier).sum(axis=1)
    if not small.all():
        rows = np.flatnonzero(~small)
        sub_seg, sub_key = seg[rows], key_desc[rows]
        order = np.lexsort((-sub_key, sub_seg))
        seg_sorted = sub_seg[order]
        b = np.flatnonzero(np.r_[True, seg_sorted[1:] != seg_sorted[:-1]])
        first = np.repeat(b, np.diff(np.r_[b, rows.size]))
        sub_rank = np.empty(rows.size, dtype=np.int64)
        sub_rank[order] = np.arange(rows.size) - first
        rank[rows] = sub_rank
    return rank


@dataclass
class _Layout:
    """Segments of one side of the reached transactions, laid end to end: item (-1 = tail), length, seg."""

    item: np.ndarray
    length: np.ndarray
    seg: np.ndarray
    gstart: np.ndarray
    seg_first: np.ndarray    # first row of each segment (tx) in this layout


def _layout(ptr: np.ndarray, txs: np.ndarray, values: np.ndarray, tails: np.ndarray, *, reverse: bool = False,
            largest_first: bool = False) -> _Layout:
    """Items of each tx (CSR ``ptr``) in input order, reverse order or largest value first, then a tail."""
    counts = ptr[txs + 1] - ptr[txs]
    k = txs.size
    items = _ranges(ptr[txs], counts)
    seg_items = np.repeat(np.arange(k, dtype=np.int64), counts)
    if reverse and items.size:
        local = items - np.repeat(ptr[txs], counts)
        items = np.repeat(ptr[txs] + counts - 1, counts) - local
    elif largest_first and items.size:
        order = np.lexsort((items, -values[items], seg_items))
        items = items[order]
    seg_first = _excl_cumsum(counts + 1)
    n = items.size + k
    item = np.empty(n, dtype=np.int64)
    length = np.empty(n, dtype=np.int64)
    seg = np.empty(n, dtype=np.int64)
    pos_items = np.repeat(seg_first, counts) + (np.arange(items.size) - np.repeat(_excl_cumsum(counts), counts))
    pos_tail = seg_first + counts
    item[pos_items] = items
    length[pos_items] = values[items]
    seg[pos_items] = seg_items
    item[pos_tail] = -1
    length[pos_tail] = tails[txs]
    seg[pos_tail] = np.arange(k)
    return _Layout(item, length, seg, _excl_cumsum(length), seg_first)


def _overlap(a: np.ndarray, ln: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Length of the union of disjoint intervals ``[a, a+ln)`` inside each ``[start, start+length)``."""
    if a.size == 0:
        return np.zeros(starts.size, dtype=np.int64)
    o = np.argsort(a, kind="stable")
    a_s, l_s = a[o], ln[o]
    c = _excl_cumsum(l_s)

    def f(x: np.ndarray) -> np.ndarray:
        k = np.searchsorted(a_s, x, side="right") - 1
        kk = np.maximum(k, 0)
        val = c[kk] + np.clip(x - a_s[kk], 0, l_s[kk])
        return np.where(k >= 0, val, 0)

    return f(starts + lengths) - f(starts)


# ----------------------------------------------------------------------------------------------------
# the engine
# ----------------------------------------------------------------------------------------------------
class _State:
    """Per-trace accumulators over the whole graph, allocated once per graph and reused: a trace touches
    few entries, so it records what it touched and zeroes only those when it ends (no O(graph) work per
    trace)."""

    def __init__(self, g: UtxoGraph) -> None:
        self.acc_in = np.zeros(g.in_value.size, dtype=np.int64)     # forward positional: taint placed on an input
        self.acc_out = np.zeros(g.out_value.size, dtype=np.int64)   # backward positional: taint placed on an output
        self.recv_out = np.zeros(g.out_value.size, dtype=np.int64)  # forward: taint an output has received
        self.recv_in = np.zeros(g.in_value.size, dtype=np.int64)    # backward: taint an input has received
        self.fill = np.zeros(g.n_tx, dtype=np.int64)                # pooled (tiho): tainted prefix per tx
        self.poisoned = np.zeros(g.n_tx, dtype=bool)                # poison: tx already fully tainted
        self.touched: dict[str, list[np.ndarray]] = {}
        self.busy = False

    def touch(self, name: str, idx: np.ndarray) -> None:
        self.touched.setdefault(name, []).append(idx)

    def reset(self) -> None:
        for name, parts in self.touched.items():
            arr = getattr(self, name)
            for idx in parts:
                arr[idx] = 0
        self.touched = {}
        self.busy = False

    @staticmethod
    def of(g: UtxoGraph) -> _State:
        st = g.extra.get("_state")
        if st is None or st.busy:
            st = _State(g)
            if "_state" not in g.extra:
                g.extra["_state"] = st
        st.busy = True
        return st


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
    """The compiled kernels (:mod:`._kernel`), imported on first use; None where numba is not installed."""
    global _KERNEL
    if _KERNEL is None:
        try:
            from chainsleuth.algorithms.tracing import _kernel
        except ImportError:     # numba missing: the numpy engine does everything
            _KERNEL = False
        else:
            _KERNEL = _kernel
    return _KERNEL or None


_KERNEL: Any = None
#: engine used when ``trace_utxo(engine="auto")``: "kernel" (compiled, when numba is installed) or "numpy"
DEFAULT_ENGINE = "kernel"


def trace_utxo(g: UtxoGraph, seeds: Any, *, direction: str = "forward", policy: str | Policy = "haircut",
               limits: TraceLimits | None = None, stop_mask: np.ndarray | None = None,
               seed_amounts: Any = None, engine: str = "auto") -> TraceResult:
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
    engine : ``"kernel"`` (compiled per-transaction loop, :mod:`._kernel`), ``"numpy"`` (vectorised hops) or
        ``"auto"`` (:data:`DEFAULT_ENGINE`; numpy where numba is not installed). Both give the same result.

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
    res = TraceResult(direction=direction, policy=pol.name, source_amount=int(ft.sum()))
    if engine not in ("auto", "kernel", "numpy"):
        raise ValueError(f"engine must be auto, kernel or numpy, not {engine!r}")
    kern = _kernel_module() if engine == "kernel" or (engine == "auto" and DEFAULT_ENGINE == "kernel") else None
    if engine == "kernel" and kern is None:
        raise ValueError("engine 'kernel' needs numba, which is not installed")
    if kern is not None and pol.mode not in kern.MODES:
        kern = None
    if kern is not None:
        return _trace_kernel(kern, g, pol, lim, fwd, fr, ft, stop_mask, res)
    st = _State.of(g)
    try:
        return _trace(g, st, pol, lim, fwd, fr, ft, stop_mask, res)
    finally:
        st.reset()


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


def _trace(g: UtxoGraph, st: _State, pol: Policy, lim: TraceLimits, fwd: bool, fr: np.ndarray, ft: np.ndarray,
           stop_mask: np.ndarray | None, res: TraceResult) -> TraceResult:
    if fwd:        # a seed is full: taint reaching it again later has no room left on it
        st.recv_out[fr] = ft
        st.touch("recv_out", fr)
    else:
        sp = g.out_spent_in[fr]
        st.recv_in[sp[sp >= 0]] = ft[sp >= 0]
        st.touch("recv_in", sp[sp >= 0])
    deg = g.degree
    edges: list[tuple[np.ndarray, ...]] = []
    eps: list[tuple[np.ndarray, ...]] = []
    n_edges = 0
    fees = 0
    cut = 0
    paged: dict[int, int] = {}
    hop = 0
    while fr.size:
        keep = ft > 0
        fr, ft = fr[keep], ft[keep]
        if not fr.size:
            break
        nxt_tx = g.in_tx[np.maximum(g.out_spent_in[fr], 0)] if fwd else g.out_tx[fr]
        if hop > 0:
            small = ft < lim.min_amount
            cut += int(ft[small].sum())
            fr, ft, nxt_tx = fr[~small], ft[~small], nxt_tx[~small]
            if stop_mask is not None and fr.size:
                a = g.out_addr[fr]
                stop = (a >= 0) & stop_mask[np.maximum(a, 0)]
                eps.append(_eps(fr[stop], _EP["service"], ft[stop], hop, np.full(int(stop.sum()), -1)))
                fr, ft, nxt_tx = fr[~stop], ft[~stop], nxt_tx[~stop]
        if fwd:
            uns = g.out_spent_in[fr] < 0
            eps.append(_eps(fr[uns], _EP["unspent"], ft[uns], hop, np.full(int(uns.sum()), -1)))
            fr, ft, nxt_tx = fr[~uns], ft[~uns], nxt_tx[~uns]
        if not fr.size:
            break
        if hop >= lim.max_hops:
            eps.append(_eps(fr, _EP["hop_limit"], ft, hop, nxt_tx))
            res.limits_hit.append({"limit": "max_hops", "value": lim.max_hops, "outputs": int(fr.size),
                                   "amount": int(ft.sum())})
            break
        big = deg[nxt_tx] > lim.max_degree
        if big.any():
            eps.append(_eps(fr[big], _EP["paged"], ft[big], hop, nxt_tx[big]))
            for t in np.unique(nxt_tx[big]).tolist():
                paged[int(t)] = int(deg[t])
            fr, ft, nxt_tx = fr[~big], ft[~big], nxt_tx[~big]
        if n_edges >= lim.max_edges and fr.size:
            eps.append(_eps(fr, _EP["edge_limit"], ft, hop, nxt_tx))
            res.limits_hit.append({"limit": "max_edges", "value": lim.max_edges, "outputs": int(fr.size),
                                   "amount": int(ft.sum())})
            break
        if not fr.size:
            break
        # -- expand: chunk so that global line coordinates stay within int64 ------------------------
        new_o: list[np.ndarray] = []
        new_t: list[np.ndarray] = []
        for sel in _chunks(g, nxt_tx):
            e, o_rows, o_taint, tail_taint, tail_tx = _expand(g, st, pol, fwd, fr[sel], ft[sel], nxt_tx[sel])
            edges.append((*e, np.full(e[0].size, hop + 1, dtype=np.int64)))
            n_edges += e[0].size
            if fwd:
                fees += int(tail_taint.sum())
            else:
                cb = g.is_coinbase[tail_tx]
                eps.append(_eps(np.full(int(cb.sum()), -1), _EP["coinbase"], tail_taint[cb], hop + 1, tail_tx[cb]))
                eps.append(_eps(np.full(int((~cb).sum()), -1), _EP["unknown_origin"], tail_taint[~cb], hop + 1,
                                tail_tx[~cb]))
            new_o.append(o_rows)
            new_t.append(o_taint)
        fr = np.concatenate(new_o) if new_o else np.empty(0, dtype=np.int64)
        ft = np.concatenate(new_t) if new_t else np.empty(0, dtype=np.int64)
        hop += 1
    res.hops_done = hop
    if paged:
        res.limits_hit.append({"limit": "max_degree", "value": lim.max_degree, "txs": len(paged),
                               "degrees": dict(sorted(paged.items(), key=lambda kv: -kv[1])[:20])})
    res.fees, res.cut_off = fees, cut
    if edges:
        res.e_tx, res.e_from, res.e_to, res.e_amount, res.e_hop = (np.concatenate(c) for c in zip(*edges, strict=True))
        res.e_value = g.out_value[res.e_to] if fwd else g.in_value[res.e_from]
    if eps:
        cat = [np.concatenate(c) for c in zip(*eps, strict=True)]
        nz = cat[2] > 0
        res.ep_item, res.ep_kind, res.ep_amount, res.ep_hop, res.ep_tx = (c[nz] for c in cat)
    return res


def _eps(item: np.ndarray, kind: int, amount: np.ndarray, hop: int, tx: np.ndarray) -> tuple[np.ndarray, ...]:
    n = item.size
    return (item.astype(np.int64), np.full(n, kind, dtype=np.int64), amount.astype(np.int64),
            np.full(n, hop, dtype=np.int64), np.asarray(tx, dtype=np.int64))


def _chunks(g: UtxoGraph, txs: np.ndarray) -> list[np.ndarray]:
    """Index sets over frontier rows such that each chunk's reached tx lines sum below 2**61."""
    if float(g.line[txs].sum(dtype=np.float64)) < _CHUNK_LIMIT:     # upper bound (repeats counted again)
        return [np.arange(txs.size)]
    u = np.unique(txs)
    part = np.cumsum(g.line[u].astype(np.float64)) // float(_CHUNK_LIMIT)
    chunk_of = part[np.searchsorted(u, txs)]
    return [np.flatnonzero(chunk_of == c) for c in np.unique(chunk_of)]


def _expand(g: UtxoGraph, st: _State, pol: Policy, fwd: bool, fr: np.ndarray, ft: np.ndarray,
            nxt_tx: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One hop for the frontier rows ``fr`` (outputs) with taint ``ft`` reaching transactions ``nxt_tx``.

    Returns ((tx, input row, output row, amount) edges, next frontier output rows, their taint, tail taint
    per reached tx, reached tx ids).
    """
    u, inv = np.unique(nxt_tx, return_inverse=True)
    k = u.size
    if fwd:
        src_ptr, src_val, src_tail = g.tx_in_ptr, g.in_value, g.gap
        dst_ptr, dst_val, dst_tail = g.tx_out_ptr, g.out_value, g.fee
        src_item = g.out_spent_in[fr]                        # the input that spends each frontier output
        src_rev, dst_rev, dst_big = pol.reverse_inputs, False, pol.largest_first
        acc, recv = st.acc_in, st.recv_out
    else:
        src_ptr, src_val, src_tail = g.tx_out_ptr, g.out_value, g.fee
        dst_ptr, dst_val, dst_tail = g.tx_in_ptr, g.in_value, g.gap
        src_item = fr
        src_rev, dst_rev, dst_big = False, pol.reverse_inputs, pol.largest_first
        acc, recv = st.acc_out, st.recv_in
    dst = _layout(dst_ptr, u, dst_val, dst_tail, reverse=dst_rev, largest_first=dst_big)
    if float(ft.sum(dtype=np.float64)) < 2**52:     # float sums are exact below 2**53
        tot = np.bincount(inv, weights=ft, minlength=k).astype(np.int64)
    else:
        tot = np.zeros(k, dtype=np.int64)
        np.add.at(tot, inv, ft)
    line = g.line[u]
    if pol.mode == "full":
        fresh = ~st.poisoned[u]
        st.poisoned[u] = True
        st.touch("poisoned", u)
        taint = np.where(fresh[dst.seg], dst.length, 0)
    elif pol.mode == "proportional":
        tseg = tot[dst.seg]
        lseg = line[dst.seg]
        q, r = _mul_div_floor(tseg, dst.length, lseg)
        short = tot - np.add.reduceat(q, dst.seg_first)
        taint = q
        cand = np.flatnonzero((r > 0) & (short[dst.seg] > 0))    # only these can get one of the units left
        if cand.size:
            rank = _segment_rank(dst.seg[cand], r[cand])
            taint[cand] += (rank < short[dst.seg[cand]]).astype(np.int64)
    else:
        lstart = _excl_cumsum(line)            # each tx's line on the global axis
        if pol.mode == "pooled":
            a = lstart + st.fill[u]
            ln = tot
            st.fill[u] += tot
            st.touch("fill", u)
        else:
            srcl = _layout(src_ptr, u, src_val, src_tail, reverse=src_rev)
            local = src_item - src_ptr[u[inv]]
            if src_rev:
                local = (src_ptr[u[inv] + 1] - src_ptr[u[inv]]) - 1 - local
            pos = srcl.seg_first[inv] + local
            a = srcl.gstart[pos] + acc[src_item]
            ln = ft
            acc[src_item] += ft                 # each frontier item appears once per hop
            st.touch("acc_in" if fwd else "acc_out", src_item)
        taint = _overlap(a, ln, dst.gstart, dst.length)
    # -- capacity: an item never carries more taint than its value (haircut rounding across hops) ----------
    is_item = dst.item >= 0
    if pol.mode != "full":
        cap = np.where(is_item, dst.length - recv[np.maximum(dst.item, 0)], np.iinfo(np.int64).max)
        over = np.maximum(taint - cap, 0)
        if over.any():
            taint = taint - over
            extra = np.add.reduceat(over, dst.seg_first)
            tail_rows = dst.seg_first + (dst_ptr[u + 1] - dst_ptr[u])
            taint[tail_rows] += extra
        recv[dst.item[is_item]] += taint[is_item]   # each item appears once in the layout
        st.touch("recv_out" if fwd else "recv_in", dst.item[is_item])
    # -- results ---------------------------------------------------------------------------------------
    tail = ~is_item
    tail_taint = np.zeros(k, dtype=np.int64)
    tail_taint[dst.seg[tail]] = taint[tail]
    hit = is_item & (taint > 0)
    rows, seg_hit, amt = dst.item[hit], dst.seg[hit], taint[hit]
    # representative counterpart per tx: the frontier item with the most taint
    order = np.lexsort((fr, -ft, inv))
    first = order[np.searchsorted(inv[order], np.arange(k))]
    rep = src_item[first]
    if fwd:
        edges = (u[seg_hit], rep[seg_hit], rows, amt)
        nxt_rows = rows
    else:
        edges = (u[seg_hit], rows, rep[seg_hit], amt)
        prev = g.in_prev[rows]
        ok = prev >= 0
        # value on an input without a known prevout has length 0 and never gets taint; guard anyway
        nxt_rows = prev[ok]
        amt = amt[ok]
    return edges, nxt_rows, amt, tail_taint, u
