"""Compiled (numba) kernels for the UTXO trace and the peel-chain follow: the one engine behind
:func:`.utxo.trace_utxo` (:func:`.reference.reference_trace_utxo` is the plain oracle the tests hold it to).

The trace is hop-synchronous, one transaction at a time: per hop the frontier is filtered (cut-off, stop,
unspent, hop limit, paged, edge limit - in that order), grouped by the transaction it reaches (ascending), and
each transaction's taint placed on its target side with the policy's rule in local integer coordinates.
Haircut uses the exact ``floor(T*w/L)`` (a float estimate corrected with the exact remainder; 128-bit
arithmetic when a line reaches 2**55) and a largest-remainder top-up (ties to the earlier position).

What travels in and out are named structures (typed NamedTuples, plain structs in nopython mode):
:class:`TraceGraph` (the graph side in one direction), :class:`TraceParams` (policy rule, limits, stop mask),
:class:`TraceSeeds`, :class:`TraceOutput`; the per-trace state is one :class:`_Slots`.

Memory layout and the three things that make it fast (docs/architecture.md, "Tracing kernel"):

- One 64-byte record per transaction and direction (``txr``, fields :data:`TXR_FIELDS`): what a hop needs of a
  transaction it reaches is one cache line, not five arrays. Every frontier item carries the transaction it
  reaches (``dst_next_tx``: forward, the spending transaction of an output; backward, the transaction of the
  output an input spends), read when the item is created, so no hop chases ``output -> input -> tx``.
- The transactions of a hop are known before they are processed, so their records and their target rows are
  requested ahead (``llvm.prefetch``): the cache misses of a hop overlap instead of queueing one by one.
- No array variable is reassigned inside the per-transaction loop: buffers are sized for the hop before it
  starts. (A conditionally regrown array makes numba count references on every iteration: atomic increments
  that took 40% of the time.)

Compiled with ``cache=True``: numba writes the machine code next to this file, or, where that directory is
read-only (an installed package), to ``NUMBA_CACHE_DIR`` or the user cache directory, so a process pays
only the load (see docs/architecture.md "Tracing kernel" for the measured cold-start cost).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit, types, uint64
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["MODES", "TXR_FIELDS", "TraceGraph", "TraceOutput", "TraceParams", "TraceSeeds", "peel_kernel",
           "trace_kernel"]

#: fields of a transaction record (one 64-byte row of ``txr`` per transaction and direction): the target side's
#: row range, the line length, the target side's tail (forward: fee; backward: gap), inputs + outputs, the
#: source side's row range, coinbase flag
TXR_FIELDS = ("dst_start", "dst_end", "line", "tail", "degree", "src_start", "src_end", "coinbase")
_DS, _DE, _LN, _TL, _DG, _SS, _SE, _CB = range(8)


@intrinsic
def _prefetch(typingctx, arr, idx):  # type: ignore[no-untyped-def]
    """Hint the CPU to fetch the cache line of ``arr[idx]`` (no load, no fault; ``llvm.prefetch``)."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        aty = signature.args[0]
        ary = context.make_array(aty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aty, ary, [args[1]], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return sig, codegen


# endpoint kinds (indices into result.ENDPOINT_KINDS)
_SERVICE, _UNSPENT, _HOP_LIMIT, _PAGED, _EDGE_LIMIT, _COINBASE, _UNKNOWN = 0, 1, 2, 3, 4, 5, 6
# modes
_FULL, _PROP, _POSITIONAL, _POOLED = 0, 1, 2, 3
# info slots
I_HOPS, I_FEES, I_CUT, I_MH, I_MH_OUT, I_MH_AMT, I_ME, I_ME_OUT, I_ME_AMT, I_ERR, I_PAGED = range(11)

_M32 = uint64(0xFFFFFFFF)
_S32 = uint64(32)
_ONE = uint64(1)
_FLOAT_OK = 1 << 55        # below this divisor the float estimate's remainder stays inside int64


@njit(cache=True)
def _ensure2(buf: np.ndarray, used: int, extra: int) -> np.ndarray:
    """``buf`` with room for ``used + extra`` columns: itself, or a larger buffer holding its first ``used``
    columns (only those are copied: a hop's room is a bound, often far above what it writes)."""
    need = used + extra
    if need < buf.shape[1]:
        return buf
    nb = np.empty((buf.shape[0], max(buf.shape[1] * 2, need + 1)), dtype=np.int64)
    nb[:, :used] = buf[:, :used]
    return nb


@njit(cache=True)
def _ensure1(buf: np.ndarray, used: int, extra: int) -> np.ndarray:
    """``buf`` with room for ``used + extra`` items; the first ``used`` are kept (and copied only when it grows)."""
    need = used + extra
    if need < buf.size:
        return buf
    nb = np.empty(max(buf.size * 2, need + 1), dtype=np.int64)
    nb[:used] = buf[:used]
    return nb


@njit(cache=True)
def _muldiv(a: int, b: int, c: int) -> tuple[int, int]:
    """Exact ``(a*b // c, a*b % c)`` for ``0 <= a, b <= c``, ``c >= 1`` (the product may exceed int64)."""
    if a == 0 or b == 0:
        return 0, 0
    if c < _FLOAT_OK:
        q = np.int64(np.float64(a) * np.float64(b) / np.float64(c))
        r = a * b - q * c          # wraps in int64; exact because the true remainder of q is small
        while r < 0:
            q -= 1
            r += c
        while r >= c:
            q += 1
            r -= c
        return q, r
    # 128-bit product, then bitwise long division (q < 2**63 because a*b < c*c... and a, b <= c)
    ua, ub, uc = uint64(a), uint64(b), uint64(c)
    a_lo, a_hi = ua & _M32, ua >> _S32
    b_lo, b_hi = ub & _M32, ub >> _S32
    p0, p1, p2, p3 = a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi
    mid = (p0 >> _S32) + (p1 & _M32) + (p2 & _M32)
    lo = (p0 & _M32) | (mid << _S32)
    hi = p3 + (p1 >> _S32) + (p2 >> _S32) + (mid >> _S32)
    rr = hi
    qq = uint64(0)
    for i in range(63, -1, -1):
        rr = (rr << _ONE) | ((lo >> uint64(i)) & _ONE)
        qq = qq << _ONE
        if rr >= uc:
            rr = rr - uc
            qq = qq | _ONE
    return np.int64(qq), np.int64(rr)


@njit(cache=True)
def _stable_desc_order(key: np.ndarray, n: int, order: np.ndarray) -> None:
    """``order[:n]`` = positions 0..n-1 sorted by ``key`` descending, ties by position."""
    if n <= 32:
        for i in range(n):
            order[i] = i
        for i in range(1, n):
            j = order[i]
            kj = key[j]
            p = i - 1
            while p >= 0 and key[order[p]] < kj:
                order[p + 1] = order[p]
                p -= 1
            order[p + 1] = j
    else:       # bottom-up merge sort of positions: stable, descending key
        for i in range(n):
            order[i] = i
        tmp = np.empty(n, dtype=np.int64)
        src = order
        dst = tmp
        flipped = False
        width = 1
        while width < n:
            lo = 0
            while lo < n:
                mid = min(lo + width, n)
                hi = min(lo + 2 * width, n)
                a = lo
                b = mid
                o = lo
                while a < mid and b < hi:
                    if key[src[b]] > key[src[a]]:
                        dst[o] = src[b]
                        b += 1
                    else:
                        dst[o] = src[a]
                        a += 1
                    o += 1
                while a < mid:
                    dst[o] = src[a]
                    a += 1
                    o += 1
                while b < hi:
                    dst[o] = src[b]
                    b += 1
                    o += 1
                lo = hi
            src, dst = dst, src
            flipped = not flipped
            width *= 2
        if flipped:
            order[:n] = tmp[:n]


@njit(cache=True)
def _kth_largest(x: np.ndarray, n: int, k: int) -> tuple[int, int]:
    """The ``k``-th largest of ``x[:n]`` (``1 <= k <= n``) and how many are larger, by quickselect with a
    three-way partition (equal keys, common among remainders, cost nothing extra); ``x`` is reordered. Returns
    (value, larger), or (0, -1) after 64 rounds (an adversarial order), where the caller sorts instead."""
    lo = 0
    hi = n - 1
    t = k - 1
    for _round in range(64):
        # everything left of lo is larger than everything in [lo, hi]; everything right of hi is smaller
        if lo >= hi:
            return x[lo], lo
        a, b, c = x[lo], x[(lo + hi) >> 1], x[hi]
        piv = max(min(a, b), min(max(a, b), c))
        lt = lo
        i = lo
        gt = hi
        while i <= gt:
            v = x[i]
            if v > piv:
                x[i] = x[lt]
                x[lt] = v
                lt += 1
                i += 1
            elif v < piv:
                x[i] = x[gt]
                x[gt] = v
                gt -= 1
            else:
                i += 1
        if t < lt:
            hi = lt - 1
        elif t > gt:
            lo = gt + 1
        else:
            return piv, lt
    return 0, -1


@njit(cache=True)
def _top_up(rem: np.ndarray, nd: int, short: int, taint: np.ndarray, scratch: np.ndarray, order: np.ndarray) -> None:
    """Largest-remainder top-up: one unit each to the ``short`` positions of ``rem[:nd]`` with the largest
    positive remainders, ties to the earlier position (the first ``short`` of a stable descending order). The
    ``short``-th largest remainder is found by selection, in time linear in ``nd``; then those above it get a
    unit and, of those equal to it, the earliest."""
    for j in range(nd):
        scratch[j] = rem[j]
    k = min(short, nd)
    thr, above = _kth_largest(scratch, nd, k)
    if above < 0:
        _stable_desc_order(rem, nd, order)
        for j in range(k):
            if rem[order[j]] > 0:
                taint[order[j]] += 1
        return
    equal = k - above
    for j in range(nd):
        r = rem[j]
        if r > thr or (r == thr and equal > 0):
            if r == thr:
                equal -= 1
            if r > 0:
                taint[j] += 1


@njit(cache=True)
def _argsort_keys(keys: np.ndarray, m: int) -> np.ndarray:
    """Stable ascending argsort of non-negative ``keys[:m]``: insertion sort when short, else LSD radix sort
    with 11-bit digits (numba's own sort costs about 60 ns per element; this about 5 ns per element and pass)."""
    order = np.empty(m, dtype=np.int64)
    if m <= 48:
        for i in range(m):
            order[i] = i
        for i in range(1, m):
            j = order[i]
            kj = keys[j]
            p = i - 1
            while p >= 0 and keys[order[p]] > kj:
                order[p + 1] = order[p]
                p -= 1
            order[p + 1] = j
        return order
    mx = 0
    for i in range(m):
        if keys[i] > mx:
            mx = keys[i]
    for i in range(m):
        order[i] = i
    tmp = np.empty(m, dtype=np.int64)
    cnt = np.empty(2049, dtype=np.int64)
    shift = 0
    while shift == 0 or (mx >> shift) > 0:
        cnt[:] = 0
        for i in range(m):
            cnt[(keys[order[i]] >> shift) & 2047] += 1
        run = 0
        for d in range(2049):
            c = cnt[d]
            cnt[d] = run
            run += c
        for i in range(m):
            d = (keys[order[i]] >> shift) & 2047
            tmp[cnt[d]] = order[i]
            cnt[d] += 1
        order, tmp = tmp, order
        shift += 11
    return order


@njit(cache=True, inline="always")
def _hash(u: int, bits: int) -> int:
    """Fibonacci hashing of a transaction id to ``bits`` bits."""
    return np.int64((uint64(u) * uint64(0x9E3779B97F4A7C15)) >> uint64(64 - bits))


@njit(cache=True)
def _hash_room(hk: np.ndarray, hv: np.ndarray, bits: int, need: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The table (keys, slots, bits) with room for ``need`` keys at load <= 1/2: itself, or rehashed larger."""
    if 2 * need <= hk.size:
        return hk, hv, bits
    nb = bits
    while 2 * need > (1 << nb):
        nb += 1
    nk = np.full(1 << nb, -1, dtype=np.int64)
    nv = np.empty(1 << nb, dtype=np.int64)
    mask = (1 << nb) - 1
    for i in range(hk.size):
        if hk[i] != -1:
            h = _hash(hk[i], nb)
            while nk[h] != -1:
                h = (h + 1) & mask
            nk[h] = hk[i]
            nv[h] = hv[i]
    return nk, nv, nb


_AHEAD = 6          # transactions of a hop whose target rows are requested ahead of the one being processed


class TraceGraph(NamedTuple):
    """The graph side of a trace in one direction: the row arrays the kernel reads and that direction's trace
    index (:meth:`.utxo.UtxoGraph.kernel_graph` builds it once per graph and direction and keeps it)."""

    in_tx: np.ndarray           # per input row: its transaction
    in_value: np.ndarray
    in_prev: np.ndarray         # per input row: the output row it spends (-1: coinbase or outside the data)
    in_addr: np.ndarray
    out_tx: np.ndarray          # per output row: its transaction
    out_value: np.ndarray
    out_addr: np.ndarray
    out_spent_in: np.ndarray    # per output row: the input row spending it (-1: unspent)
    next_tx: np.ndarray         # per target row: the transaction it reaches (forward: the spender; -1: none)
    txr: np.ndarray             # one 64-byte record per transaction (fields TXR_FIELDS)
    maxdeg: int                 # most inputs or most outputs of any transaction (per-transaction buffer size)


class TraceParams(NamedTuple):
    """What a trace is asked: the direction, the policy's placement rule, the limits and the stop mask."""

    forward: bool
    mode: int                   # MODES[policy.mode]: full, proportional, positional, pooled
    src_rev: bool               # source side in reverse order (LIFO forward)
    dst_rev: bool               # target side in reverse order (LIFO backward)
    largest_first: bool         # target side largest value first
    max_hops: int               # the limits, each at most 2**63 - 1
    min_amount: int
    max_degree: int
    max_edges: int
    stop_mask: np.ndarray       # bool per address id; empty when has_stop is False
    has_stop: bool


class TraceSeeds(NamedTuple):
    """Where the trace starts: unique output rows and the taint on each (at most the output's value)."""

    rows: np.ndarray
    amounts: np.ndarray


class TraceOutput(NamedTuple):
    """What the kernel returns: edges ``[5, n]`` (tx, from, to, amount, hop), endpoints ``[5, m]`` (item, kind,
    amount, hop, tx) and the info slots (``I_*``: hops done, fees, cut off, limit reports, stop-mask error)."""

    edges: np.ndarray
    endpoints: np.ndarray
    info: np.ndarray


class _Slots(NamedTuple):
    """Per-trace state. Each transaction the trace reaches gets a slot (an open-addressing hash table maps its id
    to the slot); the slot holds the pooled fill (TIHO) or the poison flag and points into two pools: the taint
    each of its target items has received (capacity) and the taint placed on each of its source items
    (positional policies). Regrown between hops, never inside one."""

    keys: np.ndarray            # hash table: transaction id (-1: empty)
    slot: np.ndarray            # hash table: its slot
    recv: np.ndarray            # slot -> start of its target items in recv_pool (-1: none)
    acc: np.ndarray             # slot -> start of its source items in acc_pool (-1: none)
    fill: np.ndarray            # slot -> pooled fill (TIHO) / poison flag
    recv_pool: np.ndarray
    acc_pool: np.ndarray


#: policy mode -> the kernel's placement rule (TraceParams.mode)
MODES = {"full": 0, "proportional": 1, "positional": 2, "pooled": 3}


@njit(cache=True)
def _slots_new() -> _Slots:
    return _Slots(np.full(4096, -1, dtype=np.int64), np.empty(4096, dtype=np.int64), np.empty(4096, dtype=np.int64),
                  np.empty(4096, dtype=np.int64), np.empty(4096, dtype=np.int64), np.empty(16384, dtype=np.int64),
                  np.empty(256, dtype=np.int64))


@njit(cache=True)
def _slots_room(st: _Slots, bits: int, n_slot: int, new_slots: int, n_recv: int, recv_extra: int, n_acc: int,
                acc_extra: int) -> tuple[_Slots, int]:
    """``st`` (and the table's bits) with room for ``new_slots`` more slots and the given pool extents: the same
    arrays, or larger ones keeping what is used."""
    keys, slot, bits = _hash_room(st.keys, st.slot, bits, n_slot + new_slots)
    recv_pool = _ensure1(st.recv_pool, n_recv, recv_extra) if recv_extra > 0 else st.recv_pool
    acc_pool = _ensure1(st.acc_pool, n_acc, acc_extra) if acc_extra > 0 else st.acc_pool
    return _Slots(keys, slot, _ensure1(st.recv, n_slot, new_slots), _ensure1(st.acc, n_slot, new_slots),
                  _ensure1(st.fill, n_slot, new_slots), recv_pool, acc_pool), bits


_AHEAD = 6          # transactions of a hop whose target rows are requested ahead of the one being processed


@njit(cache=True)
def trace_kernel(gr: TraceGraph, pr: TraceParams, sd: TraceSeeds) -> TraceOutput:
    """The whole trace: ``gr`` the graph side in the trace's direction, ``pr`` the policy and limits, ``sd`` the
    seeds. What the trace accumulates per transaction it reaches lives in a slot of its own (:class:`_Slots`).
    Nothing the size of the graph is allocated or touched.

    The structures are unpacked once into local names: numba then keeps array pointers and bounds in registers
    across the loops, and the loop bodies read as plain array code."""
    in_tx, in_value, in_prev, out_tx, out_value, out_addr = (gr.in_tx, gr.in_value, gr.in_prev, gr.out_tx,
                                                             gr.out_value, gr.out_addr)
    out_spent_in, dst_next_tx, txr, maxdeg = gr.out_spent_in, gr.next_tx, gr.txr, gr.maxdeg
    fwd, mode, src_rev, dst_rev, largest_first = pr.forward, pr.mode, pr.src_rev, pr.dst_rev, pr.largest_first
    max_hops, min_amount, max_degree, max_edges = pr.max_hops, pr.min_amount, pr.max_degree, pr.max_edges
    stop_mask, has_stop = pr.stop_mask, pr.has_stop
    E = np.empty((5, 16384), dtype=np.int64)
    ne = 0
    P = np.empty((5, 64), dtype=np.int64)
    npp = 0
    info = np.zeros(11, dtype=np.int64)
    st = _slots_new()
    hk, hv, s_recv, s_acc, s_fill, recv_pool, acc_pool = st
    hbits = 12
    n_slot = 0
    n_recv = 0
    n_acc = 0
    need_recv = mode != _FULL
    need_acc = mode == _POSITIONAL
    d_item = np.empty(maxdeg + 1, dtype=np.int64)
    d_len = np.empty(maxdeg + 1, dtype=np.int64)
    taint = np.empty(maxdeg + 1, dtype=np.int64)
    rem_r = np.empty(maxdeg + 1, dtype=np.int64)
    order = np.empty(maxdeg + 1, dtype=np.int64)
    pref = np.empty(maxdeg + 1, dtype=np.int64)
    fr = sd.rows.copy()
    ft = sd.amounts.copy()
    n = fr.size
    fs = np.empty(n, dtype=np.int64)
    fn = np.empty(n, dtype=np.int64)
    for i in range(n):
        if fwd:
            fs[i] = out_spent_in[fr[i]]
            fn[i] = in_tx[fs[i]] if fs[i] >= 0 else -1
        else:
            fs[i] = -1
            fn[i] = out_tx[fr[i]]
    # seeds: the taint each seed item already carries counts toward its capacity when its transaction is reached
    if need_recv:
        s_tx = np.empty(n, dtype=np.int64)
        s_row = np.empty(n, dtype=np.int64)
        bound = 0
        for i in range(n):
            if fwd:
                s_row[i] = fr[i]
                s_tx[i] = out_tx[fr[i]]
            else:
                s_row[i] = out_spent_in[fr[i]]
                s_tx[i] = in_tx[s_row[i]] if s_row[i] >= 0 else -1
            if s_tx[i] >= 0:
                bound += txr[s_tx[i], _DE] - txr[s_tx[i], _DS] + txr[s_tx[i], _SE] - txr[s_tx[i], _SS]
        st, hbits = _slots_room(st, hbits, n_slot, n, n_recv, bound, n_acc, bound)
        hk, hv, s_recv, s_acc, s_fill, recv_pool, acc_pool = st
        for i in range(n):
            u = s_tx[i]
            if u < 0:
                continue
            h = _hash(u, hbits)
            hmask = (1 << hbits) - 1
            while hk[h] != -1 and hk[h] != u:
                h = (h + 1) & hmask
            if hk[h] == u:
                sl = hv[h]
            else:
                sl = n_slot
                n_slot += 1
                hk[h] = u
                hv[h] = sl
                s_fill[sl] = 0
                c = txr[u, _DE] - txr[u, _DS]
                s_recv[sl] = n_recv
                recv_pool[n_recv:n_recv + c] = 0
                n_recv += c
                s_acc[sl] = -1
                if need_acc:
                    c = txr[u, _SE] - txr[u, _SS]
                    s_acc[sl] = n_acc
                    acc_pool[n_acc:n_acc + c] = 0
                    n_acc += c
            recv_pool[s_recv[sl] + s_row[i] - txr[u, _DS]] = ft[i]
    fees = 0
    cut = 0
    hop = 0
    n_edges = 0
    while n > 0:
        rem = np.empty(n, dtype=np.int64)
        P = _ensure2(P, npp, n)
        nt = fn
        spn = fs
        m = 0
        for i in range(n):
            if ft[i] > 0:
                rem[m] = i
                m += 1
        if m == 0:
            break
        if hop > 0:
            k2 = 0
            for k in range(m):
                i = rem[k]
                if ft[i] < min_amount:
                    cut += ft[i]
                else:
                    rem[k2] = i
                    k2 += 1
            m = k2
            if has_stop:
                k2 = 0
                for k in range(m):
                    i = rem[k]
                    a = out_addr[fr[i]]
                    if a >= stop_mask.size:
                        info[I_ERR] = a + 1
                        m = 0
                        n = 0
                        break
                    if a >= 0 and stop_mask[a]:
                        P[0, npp], P[1, npp], P[2, npp], P[3, npp], P[4, npp] = fr[i], _SERVICE, ft[i], hop, -1
                        npp += 1
                    else:
                        rem[k2] = i
                        k2 += 1
                if info[I_ERR] != 0:
                    break
                m = k2
        if fwd:
            k2 = 0
            for k in range(m):
                i = rem[k]
                if spn[i] < 0:
                    P[0, npp], P[1, npp], P[2, npp], P[3, npp], P[4, npp] = fr[i], _UNSPENT, ft[i], hop, -1
                    npp += 1
                else:
                    rem[k2] = i
                    k2 += 1
            m = k2
        if m == 0:
            break
        if hop >= max_hops:
            info[I_MH] = 1
            info[I_MH_OUT] = m
            for k in range(m):
                i = rem[k]
                P[0, npp], P[1, npp], P[2, npp], P[3, npp], P[4, npp] = fr[i], _HOP_LIMIT, ft[i], hop, nt[i]
                npp += 1
                info[I_MH_AMT] += ft[i]
            break
        for k in range(m):
            u = nt[rem[k]]
            if u >= 0:
                _prefetch(txr, u)
        k2 = 0
        for k in range(m):
            i = rem[k]
            u = nt[i]
            if txr[u, _DG] > max_degree:
                P[0, npp], P[1, npp], P[2, npp], P[3, npp], P[4, npp] = fr[i], _PAGED, ft[i], hop, u
                npp += 1
                info[I_PAGED] += 1
            else:
                rem[k2] = i
                k2 += 1
        m = k2
        if n_edges >= max_edges and m > 0:
            info[I_ME] = 1
            info[I_ME_OUT] = m
            for k in range(m):
                i = rem[k]
                P[0, npp], P[1, npp], P[2, npp], P[3, npp], P[4, npp] = fr[i], _EDGE_LIMIT, ft[i], hop, nt[i]
                npp += 1
                info[I_ME_AMT] += ft[i]
            break
        if m == 0:
            break
        # -- group the frontier by the transaction it reaches (ascending tx) --------------------------------
        keys = np.empty(m, dtype=np.int64)
        for k in range(m):
            keys[k] = nt[rem[k]]
        srt = _argsort_keys(keys, m)
        gst = np.empty(m + 1, dtype=np.int64)
        ng = 0
        for k in range(m):
            if k == 0 or keys[srt[k]] != keys[srt[k - 1]]:
                gst[ng] = k
                ng += 1
        gst[ng] = m
        dbound = 0
        sbound = 0
        for gi in range(ng):
            u = keys[srt[gst[gi]]]
            dbound += txr[u, _DE] - txr[u, _DS]
            if need_acc:
                sbound += txr[u, _SE] - txr[u, _SS]
        E = _ensure2(E, ne, dbound)
        st, hbits = _slots_room(st, hbits, n_slot, ng, n_recv, dbound if need_recv else 0, n_acc,
                                sbound if need_acc else 0)
        hk, hv, s_recv, s_acc, s_fill, recv_pool, acc_pool = st
        hmask = (1 << hbits) - 1
        gi = 0
        ia = np.empty(m, dtype=np.int64)
        il = np.empty(m, dtype=np.int64)
        nfr = np.empty(dbound + 1, dtype=np.int64)
        nft = np.empty(dbound + 1, dtype=np.int64)
        nfs = np.empty(dbound + 1, dtype=np.int64)
        nfn = np.empty(dbound + 1, dtype=np.int64)
        nn = 0
        tl_tx = np.empty(m, dtype=np.int64)
        tl_amt = np.empty(m, dtype=np.int64)
        ntl = 0
        s = 0
        while s < m:
            u = keys[srt[s]]
            e = gst[gi + 1]
            if gi + _AHEAD < ng:
                u2 = keys[srt[gst[gi + _AHEAD]]]
                r2 = txr[u2, _DS]
                if fwd:
                    _prefetch(out_value, r2)
                    _prefetch(out_spent_in, r2)
                else:
                    _prefetch(in_value, r2)
                    _prefetch(in_prev, r2)
                _prefetch(dst_next_tx, r2)
            gi += 1
            # the slot of u: found, or opened with its accumulators at zero (as for the seeds above; written out,
            # not called: a helper taking these arrays costs numba reference counting per transaction, 20%)
            h = _hash(u, hbits)
            while hk[h] != -1 and hk[h] != u:
                h = (h + 1) & hmask
            opened = hk[h] != u
            if not opened:
                sl = hv[h]
            else:
                sl = n_slot
                n_slot += 1
                hk[h] = u
                hv[h] = sl
                s_fill[sl] = 0
                s_recv[sl] = -1
                s_acc[sl] = -1
                if need_recv:       # its received taint starts at zero: set, not added, below (no zeroing pass)
                    s_recv[sl] = n_recv
                    n_recv += txr[u, _DE] - txr[u, _DS]
                if need_acc:
                    c = txr[u, _SE] - txr[u, _SS]
                    s_acc[sl] = n_acc
                    for j in range(c):
                        acc_pool[n_acc + j] = 0
                    n_acc += c
            tot = 0
            best = -1
            for q in range(s, e):
                i = rem[srt[q]]
                tot += ft[i]
                if best < 0 or ft[i] > ft[best] or (ft[i] == ft[best] and fr[i] < fr[best]):
                    best = i
            rep = spn[best] if fwd else fr[best]
            # target side layout: items (in order, reversed, or largest first), then the tail
            if fwd:
                dp0 = txr[u, _DS]
                dcnt = txr[u, _DE] - dp0
                for j in range(dcnt):
                    d_item[j] = dp0 + j
                    d_len[j] = out_value[dp0 + j]
                d_tail = txr[u, _TL]
            else:
                dp0 = txr[u, _DS]
                dcnt = txr[u, _DE] - dp0
                for j in range(dcnt):
                    row = dp0 + dcnt - 1 - j if dst_rev else dp0 + j
                    d_item[j] = row
                    d_len[j] = in_value[row]
                d_tail = txr[u, _TL]
            if largest_first and not dst_rev and dcnt > 1:
                _stable_desc_order(d_len, dcnt, order)
                for j in range(dcnt):
                    pref[j] = d_len[order[j]]
                for j in range(dcnt):
                    d_len[j] = pref[j]
                    d_item[j] = dp0 + order[j]
            d_item[dcnt] = -1
            d_len[dcnt] = d_tail
            nd = dcnt + 1
            L = txr[u, _LN]
            if mode == _FULL:
                fresh = s_fill[sl] == 0
                if fresh:
                    s_fill[sl] = 1
                for j in range(nd):
                    taint[j] = d_len[j] if fresh else 0
            elif mode == _PROP:
                sq = 0
                cdiv = L if L > 1 else 1
                if tot == cdiv:
                    for j in range(nd):
                        taint[j] = d_len[j]
                    short = 0
                else:
                    if cdiv < _FLOAT_OK:
                        # q from one float product per item; corrected with the remainder computed in wrapping
                        # int64, exact because the estimate is off by a few units at most (tot <= cdiv < 2**55)
                        ratio = np.float64(tot) / np.float64(cdiv)
                        for j in range(nd):
                            b = d_len[j]
                            qv = np.int64(np.float64(b) * ratio)
                            rv = tot * b - qv * cdiv
                            while rv < 0:
                                qv -= 1
                                rv += cdiv
                            while rv >= cdiv:
                                qv += 1
                                rv -= cdiv
                            taint[j] = qv
                            rem_r[j] = rv
                            sq += qv
                    else:
                        for j in range(nd):
                            qv, rv = _muldiv(tot, d_len[j], cdiv)
                            taint[j] = qv
                            rem_r[j] = rv
                            sq += qv
                    short = tot - sq
                if short > 0 and (short <= 2 or nd <= 8):
                    # largest remainders first, ties to the earlier position: pick the first maximum each time
                    for _t in range(short):
                        bj = 0
                        for j in range(1, nd):
                            if rem_r[j] > rem_r[bj]:
                                bj = j
                        if rem_r[bj] <= 0:
                            break
                        taint[bj] += 1
                        rem_r[bj] = -1
                elif short > 0:     # wide transactions (batch payouts): select, do not sort
                    _top_up(rem_r, nd, short, taint, pref, order)
            else:
                cnt = 0
                if mode == _POOLED:
                    ia[0] = s_fill[sl]
                    il[0] = tot
                    cnt = 1
                    s_fill[sl] += tot
                else:
                    if fwd:
                        sp0 = txr[u, _SS]
                        scnt = txr[u, _SE] - sp0
                        pos = 0
                        if src_rev:
                            for j in range(scnt - 1, -1, -1):
                                pref[j] = pos
                                pos += in_value[sp0 + j]
                        else:
                            for j in range(scnt):
                                pref[j] = pos
                                pos += in_value[sp0 + j]
                    else:
                        sp0 = txr[u, _SS]
                        scnt = txr[u, _SE] - sp0
                        pos = 0
                        for j in range(scnt):
                            pref[j] = pos
                            pos += out_value[sp0 + j]
                    for q in range(s, e):
                        i = rem[srt[q]]
                        item = spn[i] if fwd else fr[i]
                        a_at = s_acc[sl] + item - sp0
                        ia[cnt] = pref[item - sp0] + acc_pool[a_at]
                        il[cnt] = ft[i]
                        acc_pool[a_at] += ft[i]
                        cnt += 1
                    if 1 < cnt <= 32:       # stable insertion sort of (start, length) by start
                        for i2 in range(1, cnt):
                            a2 = ia[i2]
                            l2 = il[i2]
                            p2 = i2 - 1
                            while p2 >= 0 and ia[p2] > a2:
                                ia[p2 + 1] = ia[p2]
                                il[p2 + 1] = il[p2]
                                p2 -= 1
                            ia[p2 + 1] = a2
                            il[p2 + 1] = l2
                    elif cnt > 32:
                        o2 = _argsort_keys(ia, cnt)
                        ia[:cnt] = ia[:cnt][o2]
                        il[:cnt] = il[:cnt][o2]
                p = 0
                pos = 0
                for j in range(nd):
                    s0 = pos
                    e0 = pos + d_len[j]
                    while p < cnt and ia[p] + il[p] <= s0:
                        p += 1
                    got = 0
                    q2 = p
                    while q2 < cnt and ia[q2] < e0:
                        lo = ia[q2] if ia[q2] > s0 else s0
                        hi = ia[q2] + il[q2]
                        if hi > e0:
                            hi = e0
                        if hi > lo:
                            got += hi - lo
                        q2 += 1
                    taint[j] = got
                    pos = e0
            # capacity (an item never carries more taint than its value), then the edge and the next frontier
            for j in range(dcnt):
                tj = taint[j]
                row = d_item[j]
                if mode != _FULL:
                    r_at = s_recv[sl] + row - dp0
                    rc = 0 if opened else recv_pool[r_at]
                    cap = d_len[j] - rc
                    if tj > cap:
                        taint[dcnt] += tj - cap
                        tj = cap
                        taint[j] = cap
                    recv_pool[r_at] = rc + tj
                if tj > 0:
                    E[0, ne] = u
                    E[3, ne] = tj
                    E[4, ne] = hop + 1
                    if fwd:
                        E[1, ne] = rep
                        E[2, ne] = row
                        nxt = row
                    else:
                        E[1, ne] = row
                        E[2, ne] = rep
                        nxt = in_prev[row]
                    ne += 1
                    n_edges += 1
                    if nxt >= 0:
                        nfr[nn] = nxt
                        nft[nn] = tj
                        if fwd:
                            nfs[nn] = out_spent_in[row]
                        nfn[nn] = dst_next_tx[row]
                        nn += 1
            if fwd:
                fees += taint[dcnt]
            else:
                tl_tx[ntl] = u
                tl_amt[ntl] = taint[dcnt]
                ntl += 1
            s = e
        if not fwd:
            P = _ensure2(P, npp, 2 * ntl)
            for want_cb in (True, False):
                kind = _COINBASE if want_cb else _UNKNOWN
                for k in range(ntl):
                    if tl_amt[k] > 0 and (txr[tl_tx[k], _CB] != 0) == want_cb:
                        P[0, npp], P[1, npp], P[2, npp], P[3, npp], P[4, npp] = -1, kind, tl_amt[k], hop + 1, tl_tx[k]
                        npp += 1
        fr = nfr
        ft = nft
        fs = nfs
        fn = nfn
        n = nn
        hop += 1
    info[I_HOPS] = hop
    info[I_FEES] = fees
    info[I_CUT] = cut
    return TraceOutput(E[:, :ne].copy(), P[:, :npp].copy(), info)


@njit(cache=True, inline="always")
def _peel_shaped(txr: np.ndarray, tx: int, max_inputs: int) -> bool:
    """Two outputs, one to ``max_inputs`` inputs, not coinbase (forward records: target = outputs)."""
    n_in = txr[tx, _SE] - txr[tx, _SS]
    return txr[tx, _DE] - txr[tx, _DS] == 2 and 1 <= n_in <= max_inputs and txr[tx, _CB] == 0


@njit(cache=True)
def peel_kernel(gr: TraceGraph, start_row: int, max_hops: int, max_inputs: int, unit: int) -> np.ndarray:
    """Follow the change from ``start_row`` over the forward graph side ``gr`` (``next_tx``: the transaction
    spending each output; ``txr``: the forward transaction records). A step needs a peel-shaped transaction (two
    outputs, one to ``max_inputs`` inputs, not coinbase). Returns one array: rows ``0..n-1`` are the steps (tx,
    change row, peeled row, heuristic bits: 1 address-reuse, 2 peel-continuation, 4 round-amount, 8
    larger-output); the last row is (n, why, 0, 0) with why 0 unspent, 1 not_peel, 2 ambiguous, 3 max_hops."""
    next_tx, txr, in_addr, out_addr, out_value = gr.next_tx, gr.txr, gr.in_addr, gr.out_addr, gr.out_value
    res = np.empty((max(max_hops, 0) + 1, 4), dtype=np.int64)
    n = 0
    why = 3
    row = start_row
    for _hop in range(max_hops):
        tx = next_tx[row]
        if tx < 0:
            why = 0
            break
        if not _peel_shaped(txr, tx, max_inputs):
            why = 1
            break
        a = txr[tx, _DS]
        b = a + 1
        va = 0
        vb = 0
        ad_a = out_addr[a]
        ad_b = out_addr[b]
        for i in range(txr[tx, _SS], txr[tx, _SE]):
            x = in_addr[i]
            if x != -1:
                if x == ad_a:
                    va |= 1
                if x == ad_b:
                    vb |= 1
        ta = next_tx[a]
        tb = next_tx[b]
        ca = ta >= 0 and _peel_shaped(txr, ta, max_inputs)
        cb = tb >= 0 and _peel_shaped(txr, tb, max_inputs)
        if ca != cb:
            if ca:
                va |= 2
            else:
                vb |= 2
        ra = out_value[a] % unit == 0
        rb = out_value[b] % unit == 0
        if ra != rb:
            if ra:
                vb |= 4
            else:
                va |= 4
        if va == 0 and vb == 0:
            if out_value[a] >= out_value[b]:
                va |= 8
            else:
                vb |= 8
        if va != 0 and vb != 0:
            why = 2
            break
        if va != 0:
            res[n, 0], res[n, 1], res[n, 2], res[n, 3] = tx, a, b, va
        else:
            res[n, 0], res[n, 1], res[n, 2], res[n, 3] = tx, b, a, vb
        row = res[n, 1]
        n += 1
    res[-1, 0], res[-1, 1], res[-1, 2], res[-1, 3] = n, why, 0, 0
    return res
