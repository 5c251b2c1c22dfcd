"""Compiled (numba) kernels for the UTXO trace and the peel-chain follow.

The numpy engine in :mod:`.utxo` spends a fixed set of about 60 array passes per hop, which dominates when a
hop reaches a few thousand transactions (the common case). These kernels run the same hop-synchronous
semantics one transaction at a time in compiled code: per hop the frontier is filtered (cut-off, stop,
unspent, hop limit, paged, edge limit - in that order, as in the numpy engine), grouped by the transaction
it reaches (sorted, as ``np.unique`` does), and each transaction's taint placed on its target side with the
policy's rule in local integer coordinates (no global axis, so no chunking). Results come back in the same
order as the numpy engine's. Haircut uses the exact ``floor(T*w/L)`` (128-bit when the product overflows
int64) and the same largest-remainder top-up (ties to the earlier position).

Compiled with ``cache=True``: numba writes the machine code next to this file, or, where that directory is
read-only (an installed package), to ``NUMBA_CACHE_DIR`` or the user cache directory, so a process pays
only the load (see docs/architecture.md "Tracing kernel" for the measured cold-start cost).
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

__all__ = ["peel_kernel", "trace_kernel"]

# endpoint kinds (indices into result.ENDPOINT_KINDS)
_SERVICE, _UNSPENT, _HOP_LIMIT, _PAGED, _EDGE_LIMIT, _COINBASE, _UNKNOWN = 0, 1, 2, 3, 4, 5, 6
# modes
_FULL, _PROP, _POSITIONAL, _POOLED = 0, 1, 2, 3
# info slots
I_HOPS, I_FEES, I_CUT, I_MH, I_MH_OUT, I_MH_AMT, I_ME, I_ME_OUT, I_ME_AMT, I_ERR, I_PAGED, I_WARM = range(12)

_M32 = uint64(0xFFFFFFFF)
_S32 = uint64(32)
_ONE = uint64(1)
_FLOAT_OK = 1 << 55        # below this divisor the float estimate's remainder stays inside int64


@njit(cache=True)
def _grow2(buf: np.ndarray, n: int) -> np.ndarray:
    if n < buf.shape[1]:
        return buf
    nb = np.empty((buf.shape[0], buf.shape[1] * 2), dtype=np.int64)
    nb[:, :n] = buf[:, :n]
    return nb


@njit(cache=True)
def _grow1(buf: np.ndarray, n: int) -> np.ndarray:
    if n < buf.size:
        return buf
    nb = np.empty(buf.size * 2, dtype=np.int64)
    nb[:n] = buf[:n]
    return nb


@njit(cache=True)
def _muldiv(a: int, b: int, c: int) -> tuple[int, int]:
    """Exact ``(a*b // c, a*b % c)`` for ``0 <= a, b <= c``, ``c >= 1`` (the product may exceed int64)."""
    if a == 0 or b == 0:
        return 0, 0
    if a <= 9223372036854775807 // b:
        p = a * b
        if p < c:
            return 0, p
        return p // c, p % c
    if c < _FLOAT_OK:
        q = np.int64(np.floor(np.float64(a) * np.float64(b) / np.float64(c)))
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
    else:       # radix sort on (max - key): ascending and stable, so descending key with ties by position
        mx = key[0]
        for i in range(1, n):
            if key[i] > mx:
                mx = key[i]
        flipped = np.empty(n, dtype=np.int64)
        for i in range(n):
            flipped[i] = mx - key[i]
        order[:n] = _argsort_keys(flipped, n)


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
            cnt[((keys[order[i]] >> shift) & 2047) + 1] += 1
        for d in range(2048):
            cnt[d + 1] += cnt[d]
        for i in range(m):
            d = (keys[order[i]] >> shift) & 2047
            tmp[cnt[d]] = order[i]
            cnt[d] += 1
        order, tmp = tmp, order
        shift += 11
    return order


@njit(cache=True)
def trace_kernel(tx_in_ptr: np.ndarray, tx_out_ptr: np.ndarray, in_tx: np.ndarray, in_value: np.ndarray,
                 in_prev: np.ndarray, out_tx: np.ndarray, out_value: np.ndarray, out_addr: np.ndarray,
                 out_spent_in: np.ndarray, line: np.ndarray, fee: np.ndarray, gap: np.ndarray,
                 is_coinbase: np.ndarray, deg: np.ndarray, fr0: np.ndarray, ft0: np.ndarray, fwd: bool, mode: int, src_rev: bool,
                 dst_rev: bool, largest_first: bool, max_hops: int, min_amount: int, max_degree: int,
                 max_edges: int, stop_mask: np.ndarray, has_stop: bool, maxdeg: int, acc: np.ndarray,
                 recv: np.ndarray, fill: np.ndarray, poisoned: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The whole trace. ``acc``/``recv`` are the per-item accumulators of this direction (forward: inputs /
    outputs; backward: outputs / inputs), ``fill``/``poisoned`` per transaction; all zero on entry and zeroed
    again (only the entries touched) on return. Returns (edges[5, n]: tx, from, to, amount, hop;
    endpoints[5, m]: item, kind, amount, hop, tx; info)."""
    E = np.empty((5, 256), dtype=np.int64)
    ne = 0
    P = np.empty((5, 64), dtype=np.int64)
    npp = 0
    info = np.zeros(12, dtype=np.int64)
    t_acc = np.empty(64, dtype=np.int64)
    n_tacc = 0
    t_recv = np.empty(256, dtype=np.int64)
    n_trecv = 0
    t_tx = np.empty(64, dtype=np.int64)
    n_ttx = 0
    d_item = np.empty(maxdeg + 1, dtype=np.int64)
    d_len = np.empty(maxdeg + 1, dtype=np.int64)
    taint = np.empty(maxdeg + 1, dtype=np.int64)
    rem_r = np.empty(maxdeg + 1, dtype=np.int64)
    order = np.empty(maxdeg + 1, dtype=np.int64)
    pref = np.empty(maxdeg + 1, dtype=np.int64)
    fr = fr0.copy()
    ft = ft0.copy()
    n = fr.size
    for i in range(n):
        if fwd:
            recv[fr[i]] = ft[i]
            if n_trecv >= t_recv.size:
                t_recv = _grow1(t_recv, n_trecv)
            t_recv[n_trecv] = fr[i]
            n_trecv += 1
        else:
            sp = out_spent_in[fr[i]]
            if sp >= 0:
                recv[sp] = ft[i]
                if n_trecv >= t_recv.size:
                    t_recv = _grow1(t_recv, n_trecv)
                t_recv[n_trecv] = sp
                n_trecv += 1
    fees = 0
    cut = 0
    hop = 0
    n_edges = 0
    while n > 0:
        rem = np.empty(n, dtype=np.int64)
        nt = np.empty(n, dtype=np.int64)
        spn = np.empty(n, dtype=np.int64)
        m = 0
        for i in range(n):
            if ft[i] > 0:
                rem[m] = i
                m += 1
        if m == 0:
            break
        if fwd:
            for k in range(m):
                i = rem[k]
                spn[i] = out_spent_in[fr[i]]
            for k in range(m):
                i = rem[k]
                nt[i] = in_tx[spn[i]] if spn[i] >= 0 else -1
        else:
            for k in range(m):
                i = rem[k]
                nt[i] = out_tx[fr[i]]
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
                        if npp >= P.shape[1]:
                            P = _grow2(P, npp)
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
                    if npp >= P.shape[1]:
                        P = _grow2(P, npp)
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
                if npp >= P.shape[1]:
                    P = _grow2(P, npp)
                P[0, npp], P[1, npp], P[2, npp], P[3, npp], P[4, npp] = fr[i], _HOP_LIMIT, ft[i], hop, nt[i]
                npp += 1
                info[I_MH_AMT] += ft[i]
            break
        k2 = 0
        for k in range(m):
            i = rem[k]
            u = nt[i]
            if deg[u] > max_degree:
                if npp >= P.shape[1]:
                    P = _grow2(P, npp)
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
                if npp >= P.shape[1]:
                    P = _grow2(P, npp)
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
        # read what the per-transaction loop below needs first, in one tight loop: the loads are independent,
        # so their cache misses overlap (18% off a cold 6-hop haircut trace on the 10M-edge bench graph)
        warm = 0
        for k in range(m):
            u = keys[k]
            if fwd:
                r0 = tx_out_ptr[u]
                warm += line[u] + fee[u]
                if tx_out_ptr[u + 1] > r0:
                    warm += out_value[r0] + recv[r0] + out_spent_in[r0]
            else:
                r0 = tx_in_ptr[u]
                warm += line[u] + gap[u]
                if tx_in_ptr[u + 1] > r0:
                    warm += in_value[r0] + recv[r0] + in_prev[r0]
        info[I_WARM] += warm       # kept, so the loads are not optimised away
        ia = np.empty(m, dtype=np.int64)
        il = np.empty(m, dtype=np.int64)
        nfr = np.empty(max(2 * m, 16), dtype=np.int64)
        nft = np.empty(max(2 * m, 16), dtype=np.int64)
        nn = 0
        tl_tx = np.empty(m, dtype=np.int64)
        tl_amt = np.empty(m, dtype=np.int64)
        ntl = 0
        s = 0
        while s < m:
            u = keys[srt[s]]
            e = s + 1
            while e < m and keys[srt[e]] == u:
                e += 1
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
                dp0 = tx_out_ptr[u]
                dcnt = tx_out_ptr[u + 1] - dp0
                for j in range(dcnt):
                    d_item[j] = dp0 + j
                    d_len[j] = out_value[dp0 + j]
                d_tail = fee[u]
            else:
                dp0 = tx_in_ptr[u]
                dcnt = tx_in_ptr[u + 1] - dp0
                for j in range(dcnt):
                    row = dp0 + dcnt - 1 - j if dst_rev else dp0 + j
                    d_item[j] = row
                    d_len[j] = in_value[row]
                d_tail = gap[u]
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
            L = line[u]
            if mode == _FULL:
                fresh = not poisoned[u]
                if fresh:
                    poisoned[u] = True
                    if n_ttx >= t_tx.size:
                        t_tx = _grow1(t_tx, n_ttx)
                    t_tx[n_ttx] = u
                    n_ttx += 1
                for j in range(nd):
                    taint[j] = d_len[j] if fresh else 0
            elif mode == _PROP:
                sq = 0
                cdiv = L if L > 1 else 1
                for j in range(nd):
                    qv, rv = _muldiv(tot, d_len[j], cdiv)
                    taint[j] = qv
                    rem_r[j] = rv
                    sq += qv
                short = tot - sq
                if short == 1:
                    bj = 0
                    for j in range(1, nd):
                        if rem_r[j] > rem_r[bj]:
                            bj = j
                    if rem_r[bj] > 0:
                        taint[bj] += 1
                elif short > 1:
                    _stable_desc_order(rem_r, nd, order)
                    for j in range(min(short, nd)):
                        if rem_r[order[j]] > 0:
                            taint[order[j]] += 1
            else:
                cnt = 0
                if mode == _POOLED:
                    ia[0] = fill[u]
                    il[0] = tot
                    cnt = 1
                    if fill[u] == 0:
                        if n_ttx >= t_tx.size:
                            t_tx = _grow1(t_tx, n_ttx)
                        t_tx[n_ttx] = u
                        n_ttx += 1
                    fill[u] += tot
                else:
                    if fwd:
                        sp0 = tx_in_ptr[u]
                        scnt = tx_in_ptr[u + 1] - sp0
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
                        sp0 = tx_out_ptr[u]
                        scnt = tx_out_ptr[u + 1] - sp0
                        pos = 0
                        for j in range(scnt):
                            pref[j] = pos
                            pos += out_value[sp0 + j]
                    for q in range(s, e):
                        i = rem[srt[q]]
                        item = spn[i] if fwd else fr[i]
                        if acc[item] == 0:
                            if n_tacc >= t_acc.size:
                                t_acc = _grow1(t_acc, n_tacc)
                            t_acc[n_tacc] = item
                            n_tacc += 1
                        ia[cnt] = pref[item - sp0] + acc[item]
                        il[cnt] = ft[i]
                        acc[item] += ft[i]
                        cnt += 1
                    if cnt > 1:
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
            # capacity: an item never carries more taint than its value
            if mode != _FULL:
                for j in range(dcnt):
                    it = d_item[j]
                    cap = d_len[j] - recv[it]
                    if taint[j] > cap:
                        taint[dcnt] += taint[j] - cap
                        taint[j] = cap
                    if taint[j] != 0:
                        if recv[it] == 0:
                            if n_trecv >= t_recv.size:
                                t_recv = _grow1(t_recv, n_trecv)
                            t_recv[n_trecv] = it
                            n_trecv += 1
                        recv[it] += taint[j]
            for j in range(dcnt):
                if taint[j] > 0:
                    row = d_item[j]
                    if ne >= E.shape[1]:
                        E = _grow2(E, ne)
                    E[0, ne] = u
                    E[3, ne] = taint[j]
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
                        if nn >= nfr.size:
                            nfr = _grow1(nfr, nn)
                        if nn >= nft.size:
                            nft = _grow1(nft, nn)
                        nfr[nn] = nxt
                        nft[nn] = taint[j]
                        nn += 1
            if fwd:
                fees += taint[dcnt]
            else:
                tl_tx[ntl] = u
                tl_amt[ntl] = taint[dcnt]
                ntl += 1
            s = e
        if not fwd:
            for want_cb in (True, False):
                kind = _COINBASE if want_cb else _UNKNOWN
                for k in range(ntl):
                    if tl_amt[k] > 0 and is_coinbase[tl_tx[k]] == want_cb:
                        if npp >= P.shape[1]:
                            P = _grow2(P, npp)
                        P[0, npp], P[1, npp], P[2, npp], P[3, npp], P[4, npp] = -1, kind, tl_amt[k], hop + 1, tl_tx[k]
                        npp += 1
        fr = nfr
        ft = nft
        n = nn
        hop += 1
    info[I_HOPS] = hop
    info[I_FEES] = fees
    info[I_CUT] = cut
    for k in range(n_tacc):
        acc[t_acc[k]] = 0
    for k in range(n_trecv):
        recv[t_recv[k]] = 0
    for k in range(n_ttx):
        fill[t_tx[k]] = 0
        poisoned[t_tx[k]] = False
    return E[:, :ne].copy(), P[:, :npp].copy(), info


@njit(cache=True)
def peel_kernel(out_spent_in: np.ndarray, in_tx: np.ndarray, tx_in_ptr: np.ndarray, tx_out_ptr: np.ndarray,
                peel_tx: np.ndarray, in_addr: np.ndarray, out_addr: np.ndarray, out_value: np.ndarray,
                start_row: int, max_hops: int, unit: int) -> np.ndarray:
    """Follow the change from ``start_row``. ``peel_tx`` is True for peel-shaped transactions (two outputs,
    one to ``max_inputs`` inputs, not coinbase). Returns one array: rows ``0..n-1`` are the steps (tx, change
    row, peeled row, heuristic bits: 1 address-reuse, 2 peel-continuation, 4 round-amount, 8 larger-output);
    the last row is (n, why, 0, 0) with why 0 unspent, 1 not_peel, 2 ambiguous, 3 max_hops."""
    res = np.empty((max(max_hops, 0) + 1, 4), dtype=np.int64)
    n = 0
    why = 3
    row = start_row
    for _hop in range(max_hops):
        spent = out_spent_in[row]
        if spent < 0:
            why = 0
            break
        tx = in_tx[spent]
        if not peel_tx[tx]:
            why = 1
            break
        a = tx_out_ptr[tx]
        b = a + 1
        va = 0
        vb = 0
        ad_a = out_addr[a]
        ad_b = out_addr[b]
        for i in range(tx_in_ptr[tx], tx_in_ptr[tx + 1]):
            x = in_addr[i]
            if x != -1:
                if x == ad_a:
                    va |= 1
                if x == ad_b:
                    vb |= 1
        sa = out_spent_in[a]
        sb = out_spent_in[b]
        ca = sa >= 0 and peel_tx[in_tx[sa]]
        cb = sb >= 0 and peel_tx[in_tx[sb]]
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
