"""Seeded random UTXO and account graphs for the tracing tests (not a test module)."""

from __future__ import annotations

import random
from typing import Any

from chainsleuth.algorithms.tracing.utxo import UtxoGraph

__all__ = ["assert_matches_reference", "random_utxo_graph"]


def random_utxo_graph(seed: int, n_tx: int = 60, n_addr: int = 25, n_coinbase: int = 6,
                      max_in: int = 4, max_out: int = 4, unresolved: float = 0.05) -> UtxoGraph:
    rng = random.Random(seed)
    in_tx, in_value, in_prev, in_addr = [], [], [], []
    out_tx, out_value, out_addr = [], [], []
    unspent: list[int] = []
    cb = []
    for tx in range(n_tx):
        ins = []
        if tx >= n_coinbase and unspent:
            for _ in range(rng.randint(1, max_in)):
                if not unspent:
                    break
                ins.append(unspent.pop(rng.randrange(len(unspent))))
        if not ins:
            cb.append(True)
            in_tx.append(tx)
            in_value.append(0)
            in_prev.append(-1)
            in_addr.append(-1)
            total = rng.randint(1, 10_000)
        else:
            cb.append(False)
            total = 0
            for o in ins:
                in_tx.append(tx)
                if rng.random() < unresolved:      # prevout outside the workspace
                    in_value.append(0)
                    in_prev.append(-1)
                    in_addr.append(-1)
                    total += rng.randint(0, 500)
                else:
                    in_value.append(out_value[o])
                    in_prev.append(o)
                    in_addr.append(out_addr[o])
                    total += out_value[o]
            total -= rng.randint(0, min(total, 50))
        n_out = rng.randint(1, max_out)
        cuts = sorted(rng.randint(0, total) for _ in range(n_out - 1))
        vals = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
        for v in vals:
            out_tx.append(tx)
            out_value.append(v)
            out_addr.append(rng.randrange(n_addr) if rng.random() > 0.05 else -1)
            unspent.append(len(out_value) - 1)
    return UtxoGraph.build(n_tx, in_tx=in_tx, in_value=in_value, in_prev=in_prev, in_addr=in_addr, out_tx=out_tx,
                           out_value=out_value, out_addr=out_addr, is_coinbase=cb)


def random_account_graph(seed: int, n_ev: int = 80, n_addr: int = 12):
    """Random transfers of one asset; nobody ever spends more than it holds. Returns (graph, events)."""
    from chainsleuth.algorithms.tracing.account import AccountGraph

    rng = random.Random(seed)
    bal = [0] * n_addr
    ev = []                       # (from, to, value, fee)
    for _ in range(n_ev):
        rich = [a for a in range(n_addr) if bal[a] > 0]
        if not rich or rng.random() < 0.15:
            a, v = rng.randrange(n_addr), rng.randint(1, 10**20)      # wei-sized: beyond int64
            ev.append((-1, a, v, False))
            bal[a] += v
            continue
        a = rng.choice(rich)
        v = rng.randint(1, bal[a])
        if rng.random() < 0.1:
            ev.append((a, -1, v, True))
            bal[a] -= v
            continue
        b = rng.randrange(n_addr)
        ev.append((a, b, v, False))
        bal[a] -= v
        bal[b] += v
    g = AccountGraph.build(n_addr, ev_from=[e[0] for e in ev], ev_to=[e[1] for e in ev],
                           ev_value=[e[2] for e in ev], ev_tx=list(range(len(ev))), ev_fee=[e[3] for e in ev])
    return g, ev


def simulate_account_forward(ev, seed_row: int, policy: str, n_addr: int) -> tuple[dict[int, int], int]:
    """Plain full simulation of every pool from the first transfer: final taint per address, and fees."""
    from collections import deque

    bal = [0] * n_addr
    taint = [0] * n_addr
    lots = [deque() for _ in range(n_addr)]
    fees = 0
    for row, (a, b, v, fee) in enumerate(ev):
        c = 0
        if a >= 0:
            if policy == "haircut":
                if taint[a] > 0:
                    d = max(bal[a], v, taint[a])
                    c = taint[a] if v >= d else min(taint[a], v, (2 * v * taint[a] + d) // (2 * d))
            else:
                need = v
                while need > 0 and lots[a]:
                    lot = lots[a][-1] if policy == "lifo" else lots[a][0]
                    x = min(need, lot[0])
                    t = min(x, lot[1]) if policy == "fifo" else max(0, x - (lot[0] - lot[1]))
                    lot[0] -= x
                    lot[1] -= t
                    c += t
                    need -= x
                    if lot[0] == 0:
                        lots[a].pop() if policy == "lifo" else lots[a].popleft()
            bal[a] -= v
            taint[a] -= c
        if row == seed_row:
            c = v
        if b < 0 or fee:
            fees += c
            continue
        bal[b] += v
        taint[b] += c
        lots[b].append([v, c])
    return {a: t for a, t in enumerate(taint) if t > 0}, fees


def assert_matches_reference(g: UtxoGraph, r: Any, ref: dict[str, Any]) -> None:
    """The compiled trace ``r`` (a TraceResult) against the plain reference's answer ``ref``: every field of
    every edge and endpoint (as multisets: the reference does not fix an order), the edge values, the totals,
    the hops done and the limit reports; and the kernel's own order (edges by hop then transaction, endpoints
    by hop)."""
    fwd = r.direction == "forward"
    edges = list(zip(*(x.tolist() for x in (r.e_tx, r.e_from, r.e_to, r.e_amount, r.e_hop)), strict=True))
    eps = list(zip(*(x.tolist() for x in (r.ep_item, r.ep_kind, r.ep_amount, r.ep_hop, r.ep_tx)), strict=True))
    assert sorted(edges) == sorted(ref["edges"]), "edges"
    assert sorted(eps) == sorted(e for e in ref["endpoints"] if e[2] > 0), "endpoints"
    assert r.e_value.tolist() == (g.out_value[r.e_to] if fwd else g.in_value[r.e_from]).tolist(), "e_value"
    assert (r.fees, r.cut_off, r.source_amount, r.hops_done) == (
        ref["fees"], ref["cut_off"], ref["source_amount"], ref["hops_done"]), "totals"
    assert r.limits_hit == ref["limits_hit"], "limits_hit"
    assert [(h, t) for t, _, _, _, h in edges] == sorted((h, t) for t, _, _, _, h in edges), "edge order"
    assert r.ep_hop.tolist() == sorted(r.ep_hop.tolist()), "endpoint order"
    assert (r.e_amount > 0).all() and (r.ep_amount > 0).all()
