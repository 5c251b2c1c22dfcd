"""A plain, slow, obviously-correct UTXO tracer: one transaction at a time, Python ints, no numpy tricks.

It implements the semantics of :func:`.utxo.trace_utxo` (see that module's docstring) straight from the
definitions, so that the tests can check the compiled kernel against it on random graphs: every edge and
endpoint, the totals, the hops done and the limit reports (hop, edge and degree limits), under partial seed
amounts, stop masks and amounts far beyond 2**53 (Python integers do not round). It is the oracle, not an
engine: its cost is Python-level per input and output, so it serves tests only.
"""

from __future__ import annotations

from typing import Any

from chainsleuth.algorithms.tracing.policies import Policy, get_policy
from chainsleuth.algorithms.tracing.result import ENDPOINT_KINDS, TraceLimits
from chainsleuth.algorithms.tracing.utxo import UtxoGraph

__all__ = ["reference_trace_utxo"]

_EP = {k: i for i, k in enumerate(ENDPOINT_KINDS)}


def _side(g: UtxoGraph, tx: int, outputs: bool) -> tuple[list[int], list[int], int]:
    """(rows, values, tail) of one side of ``tx``: outputs + fee, or inputs + gap."""
    if outputs:
        lo, hi = int(g.tx_out_ptr[tx]), int(g.tx_out_ptr[tx + 1])
        return list(range(lo, hi)), [int(g.out_value[r]) for r in range(lo, hi)], int(g.fee[tx])
    lo, hi = int(g.tx_in_ptr[tx]), int(g.tx_in_ptr[tx + 1])
    return list(range(lo, hi)), [int(g.in_value[r]) for r in range(lo, hi)], int(g.gap[tx])


def _allocate(pol: Policy, line: int, src: list[tuple[int, int, int]], dst: list[tuple[int, int]],
              pooled_start: int) -> list[int]:
    """Taint landing on each ``dst`` (row, length) segment, the last being the tail.

    ``src`` holds (start on the line, already placed, new taint) for positional policies.
    """
    total = sum(t for _, _, t in src)
    if pol.mode == "full":
        return [ln for _, ln in dst]
    if pol.mode == "proportional":
        q = [total * ln // line for _, ln in dst]
        r = [total * ln % line for _, ln in dst]
        short = total - sum(q)
        for j in sorted(range(len(dst)), key=lambda j: (-r[j], j))[:short]:
            q[j] += 1
        return q
    intervals = [(pooled_start, pooled_start + total)] if pol.mode == "pooled" else [
        (s + placed, s + placed + t) for s, placed, t in src]
    out, pos = [], 0
    for _, ln in dst:
        out.append(sum(max(0, min(b, pos + ln) - max(a, pos)) for a, b in intervals))
        pos += ln
    return out


def _seeds(g: UtxoGraph, seeds: Any, amounts: Any) -> dict[int, int]:
    """Seed row -> taint: the output's value, or the amounts given for it summed and capped at its value."""
    rows = [int(x) for x in seeds]
    for o in rows:
        if not 0 <= o < len(g.out_value):
            raise ValueError("seed output row out of range")
    if amounts is None:
        return {o: int(g.out_value[o]) for o in sorted(set(rows))}
    got: dict[int, int] = {}
    for o, t in zip(rows, (int(x) for x in amounts), strict=True):
        got[o] = got.get(o, 0) + t
    return {o: min(t, int(g.out_value[o])) for o, t in sorted(got.items())}


def reference_trace_utxo(g: UtxoGraph, seeds: Any, *, direction: str = "forward", policy: str = "haircut",
                         limits: TraceLimits | None = None, stop_mask: Any = None,
                         seed_amounts: Any = None) -> dict[str, Any]:
    """The trace as plain Python: {'edges': [(tx, in_row, out_row, amount, hop)], 'endpoints': [(row, kind,
    amount, hop, tx)], 'fees', 'cut_off', 'source_amount', 'hops_done', 'limits_hit'} (order of edges and
    endpoints unspecified; ``limits_hit`` as :attr:`.result.TraceResult.limits_hit`)."""
    pol = get_policy(policy)
    lim = limits or TraceLimits()
    fwd = direction == "forward"
    frontier = _seeds(g, seeds, seed_amounts)
    source = sum(frontier.values())
    acc: dict[int, int] = {}
    # a seed is full: taint reaching it again later has no room left on it
    recv: dict[int, int] = (dict(frontier) if fwd else
                            {int(g.out_spent_in[o]): t for o, t in frontier.items() if g.out_spent_in[o] >= 0})
    fill: dict[int, int] = {}
    poisoned: set[int] = set()
    edges: list[tuple[int, int, int, int, int]] = []
    eps: list[tuple[int, int, int, int, int]] = []
    limits_hit: list[dict[str, Any]] = []
    paged: dict[int, int] = {}      # tx -> degree, first paged at the earliest hop, then by tx
    fees = cut = 0
    hop = 0
    while frontier:
        expand: dict[int, list[tuple[int, int]]] = {}
        paged_now: dict[int, int] = {}
        n_eps = len(eps)
        for o, t in sorted(frontier.items()):
            if t <= 0:
                continue
            spent_in = int(g.out_spent_in[o])
            tx = int(g.in_tx[spent_in]) if (fwd and spent_in >= 0) else (int(g.out_tx[o]) if not fwd else -1)
            if hop > 0 and t < lim.min_amount:
                cut += t
                continue
            a = int(g.out_addr[o])
            if hop > 0 and stop_mask is not None and a >= 0 and bool(stop_mask[a]):
                eps.append((o, _EP["service"], t, hop, -1))
                continue
            if fwd and spent_in < 0:
                eps.append((o, _EP["unspent"], t, hop, -1))
                continue
            if hop >= lim.max_hops:
                eps.append((o, _EP["hop_limit"], t, hop, tx))
                continue
            n_deg = int(g.tx_in_ptr[tx + 1] - g.tx_in_ptr[tx] + g.tx_out_ptr[tx + 1] - g.tx_out_ptr[tx])
            if n_deg > lim.max_degree:
                eps.append((o, _EP["paged"], t, hop, tx))
                paged_now[tx] = n_deg
                continue
            expand.setdefault(tx, []).append((o, t))
        for tx in sorted(paged_now):
            paged.setdefault(tx, paged_now[tx])
        at_limit = [e for e in eps[n_eps:] if e[1] == _EP["hop_limit"]]
        if at_limit:
            limits_hit.append({"limit": "max_hops", "value": lim.max_hops, "outputs": len(at_limit),
                               "amount": sum(e[2] for e in at_limit)})
        if hop >= lim.max_hops or not expand:
            break
        if len(edges) >= lim.max_edges:     # the edge budget is spent: what would expand is reported instead
            items = [it for _, its in expand.items() for it in its]
            for tx, its in expand.items():
                eps.extend((o, _EP["edge_limit"], t, hop, tx) for o, t in its)
            limits_hit.append({"limit": "max_edges", "value": lim.max_edges, "outputs": len(items),
                               "amount": sum(t for _, t in items)})
            break
        nxt: dict[int, int] = {}
        for tx, items in sorted(expand.items()):
            line = int(g.line[tx])
            s_rows, s_vals, _ = _side(g, tx, outputs=not fwd)
            d_rows, d_vals, d_tail = _side(g, tx, outputs=fwd)
            # source side order and each frontier item's start on the line
            order = list(range(len(s_rows)))
            if pol.reverse_inputs and fwd:
                order.reverse()
            starts: dict[int, int] = {}
            pos = 0
            for j in order:
                starts[s_rows[j]] = pos
                pos += s_vals[j]
            src = []
            for o, t in items:
                item = int(g.out_spent_in[o]) if fwd else o
                src.append((starts[item], acc.get(item, 0), t))
                if pol.mode == "positional":
                    acc[item] = acc.get(item, 0) + t
            # destination side order
            dorder = list(range(len(d_rows)))
            if pol.reverse_inputs and not fwd:
                dorder.reverse()
            if pol.largest_first:
                dorder.sort(key=lambda j: (-d_vals[j], j))
            dst = [(d_rows[j], d_vals[j]) for j in dorder] + [(-1, d_tail)]
            total = sum(t for _, t in items)
            if pol.mode == "full":
                if tx in poisoned:
                    continue
                poisoned.add(tx)
            taint = _allocate(pol, line, src, dst, fill.get(tx, 0))
            if pol.mode == "pooled":
                fill[tx] = fill.get(tx, 0) + total
            if pol.mode != "full":
                for j, (row, ln) in enumerate(dst[:-1]):
                    room = ln - recv.get(row, 0)
                    if taint[j] > room:
                        taint[-1] += taint[j] - room
                        taint[j] = room
                    recv[row] = recv.get(row, 0) + taint[j]
            rep_o = sorted(items, key=lambda it: (-it[1], it[0]))[0][0]
            rep = int(g.out_spent_in[rep_o]) if fwd else rep_o
            for j, (row, _) in enumerate(dst[:-1]):
                if taint[j] <= 0:
                    continue
                if fwd:
                    edges.append((tx, rep, row, taint[j], hop + 1))
                    nxt[row] = nxt.get(row, 0) + taint[j]
                else:
                    edges.append((tx, row, rep, taint[j], hop + 1))
                    prev = int(g.in_prev[row])
                    if prev >= 0:
                        nxt[prev] = nxt.get(prev, 0) + taint[j]
            if taint[-1] > 0:
                if fwd:
                    fees += taint[-1]
                else:
                    kind = _EP["coinbase"] if bool(g.is_coinbase[tx]) else _EP["unknown_origin"]
                    eps.append((-1, kind, taint[-1], hop + 1, tx))
        frontier = nxt
        hop += 1
    if paged:
        limits_hit.append({"limit": "max_degree", "value": lim.max_degree, "txs": len(paged),
                           "degrees": dict(sorted(paged.items(), key=lambda kv: -kv[1])[:20])})
    return {"edges": edges, "endpoints": eps, "fees": fees, "cut_off": cut, "source_amount": source,
            "hops_done": hop, "limits_hit": limits_hit}
