"""Ethereum deposit-address clustering (Victor, "Address Clustering Heuristics for Ethereum", FC 2020).

Exchanges give each customer a deposit address and sweep what arrives there to their own wallet. An account
that receives a transfer and forwards about the same amount to a known exchange wallet soon after is a
deposit address; the accounts that send to one deposit address are taken to be one user.

Caveats (flagged on every result, after Victor 2020 section 4 and 6):
- a deposit address belongs to the exchange; only its senders are merged, never the deposit address itself;
- a sender that is itself a service (another exchange paying out, a payment processor) would merge many
  users: senders feeding more than :data:`SERVICE_MIN_DEPOSITS` distinct deposit addresses are left out;
- the exchange wallet list decides everything: an unknown exchange yields nothing, a wrong one false links;
- amounts are compared in wei including the forwarding fee, so tokens are matched only within their asset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chainsleuth.algorithms.clustering.cospend import Edges

__all__ = ["CAVEATS", "DEPOSIT_HEURISTIC", "MAX_AMOUNT_DIFF_WEI", "MAX_BLOCK_DIFF", "SERVICE_MIN_DEPOSITS",
           "DepositClusters", "deposit_clusters"]

DEPOSIT_HEURISTIC = "deposit-address"
#: blocks; the forward to the exchange follows the receipt within this many blocks (Victor 2020: d_max)
MAX_BLOCK_DIFF = 3200
#: wei; received minus forwarded is at most 0.01 ether (Victor 2020: a_max)
MAX_AMOUNT_DIFF_WEI = 10**16
#: deposit addresses; a sender paying into more than this many is treated as a service (this project's
#: guard against the merge-everything failure Victor describes; not in the paper)
SERVICE_MIN_DEPOSITS = 10
#: confidence of a deposit-address link (prior; see docs/clustering.md)
DEPOSIT_CONFIDENCE = 0.8

CAVEATS = (
    "deposit addresses belong to the exchange; only their senders are merged",
    "senders paying into many deposit addresses are treated as services and left out",
    "results depend on the list of known exchange wallets",
    "amounts are compared within one asset; forwarding fees must stay under the amount tolerance",
)


@dataclass(frozen=True, eq=False)
class DepositClusters:
    """Deposit addresses found, the sender links they imply, and the caveats to show with them."""

    deposit_addresses: np.ndarray
    exchange_of: np.ndarray
    edges: Edges
    caveats: tuple[str, ...] = field(default=CAVEATS)


def deposit_clusters(from_id: np.ndarray, to_id: np.ndarray, value: np.ndarray, block: np.ndarray,
                     exchanges: np.ndarray, *, tx_id: np.ndarray | None = None,
                     max_blocks: int = MAX_BLOCK_DIFF, max_diff: int = MAX_AMOUNT_DIFF_WEI) -> DepositClusters:
    """Find deposit addresses and link the senders of each.

    Parameters
    ----------
    from_id, to_id : ndarray of int
        Account ids of each transfer (one asset).
    value : ndarray
        Amount in base units (wei); int64 or object (Python ints, for amounts beyond int64).
    block : ndarray of int
        Block height of each transfer.
    exchanges : ndarray of int
        Account ids of known exchange wallets.
    tx_id : ndarray of int, optional
        Transaction id per transfer (default: the transfer's row).
    max_blocks, max_diff : int
        :data:`MAX_BLOCK_DIFF` and :data:`MAX_AMOUNT_DIFF_WEI`.

    Returns
    -------
    DepositClusters

    Notes
    -----
    Complexity: O(T log T + F * k) for T transfers, F forwards to exchanges and k receipts in each window.
    Source: Victor (FC 2020), section 4.1, "deposit address reuse".

    Examples
    --------
    >>> f = np.array([1, 2, 10, 10]); t = np.array([10, 10, 99, 99])
    >>> v = np.array([5 * 10**18, 3 * 10**18, 5 * 10**18 - 10**15, 3 * 10**18 - 10**15], dtype=object)
    >>> r = deposit_clusters(f, t, v, np.array([100, 200, 110, 210]), np.array([99]))
    >>> r.deposit_addresses.tolist(), r.edges.a.tolist(), r.edges.b.tolist()
    ([10], [1], [2])
    """
    fr = np.asarray(from_id, dtype=np.int64)
    to = np.asarray(to_id, dtype=np.int64)
    bl = np.asarray(block, dtype=np.int64)
    val = np.asarray(value)
    txs = np.arange(len(fr), dtype=np.int64) if tx_id is None else np.asarray(tx_id, dtype=np.int64)
    exch = np.asarray(exchanges, dtype=np.int64)
    to_ex = np.isin(to, exch) & ~np.isin(fr, exch)
    # receipts sorted by (receiver, block) for window look-ups
    o = np.lexsort((bl, to))
    r_to, r_bl = to[o], bl[o]
    matched: dict[int, set[int]] = {}          # deposit address -> receipt rows
    ex_of: dict[int, int] = {}
    for f in np.flatnonzero(to_ex).tolist():
        d = int(fr[f])
        lo = np.searchsorted(r_to, d, side="left")
        hi = np.searchsorted(r_to, d, side="right")
        if lo == hi:
            continue
        w_lo = lo + np.searchsorted(r_bl[lo:hi], int(bl[f]) - max_blocks, side="left")
        w_hi = lo + np.searchsorted(r_bl[lo:hi], int(bl[f]), side="right")
        for k in range(w_lo, w_hi):
            r = int(o[k])
            if r == f or int(fr[r]) == d or to_ex[r]:
                continue
            diff = int(val[r]) - int(val[f])
            if 0 <= diff <= max_diff:
                matched.setdefault(d, set()).add(r)
                ex_of.setdefault(d, int(to[f]))
    # once an account is a deposit address, every transfer into it comes from its user (Victor 2020: all
    # senders to one deposit address are clustered), not only the receipts matched to a forward
    into = np.isin(to, np.fromiter(matched, dtype=np.int64, count=len(matched))) & ~to_ex & ~np.isin(fr, exch)
    for r in np.flatnonzero(into).tolist():
        if int(fr[r]) != int(to[r]):
            matched[int(to[r])].add(r)
    # senders per deposit address; drop service-like senders
    deps_of_sender: dict[int, set[int]] = {}
    for d, rows in matched.items():
        for r in rows:
            deps_of_sender.setdefault(int(fr[r]), set()).add(d)
    services = {s for s, ds in deps_of_sender.items() if len(ds) > SERVICE_MIN_DEPOSITS} | set(exch.tolist())
    a: list[int] = []
    b: list[int] = []
    t: list[int] = []
    for d in sorted(matched):
        rows = sorted(matched[d], key=lambda r: (int(bl[r]), r))
        senders = [r for r in rows if int(fr[r]) not in services]
        if not senders:
            continue
        head = int(fr[senders[0]])
        for r in senders[1:]:
            if int(fr[r]) != head:
                a.append(head)
                b.append(int(fr[r]))
                t.append(int(txs[r]))
    deps = np.array(sorted(matched), dtype=np.int64)
    edges = Edges(np.array(a, dtype=np.int64), np.array(b, dtype=np.int64), np.array(t, dtype=np.int64),
                  np.zeros(len(a), dtype=np.int64), np.full(len(a), DEPOSIT_CONFIDENCE), (DEPOSIT_HEURISTIC,))
    return DepositClusters(deps, np.array([ex_of[d] for d in deps.tolist()], dtype=np.int64), edges)
