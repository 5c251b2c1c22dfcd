"""Turn a :class:`TraceResult` into the documents of DESIGN.md (Trace JSON), the policy comparison table,
a Sankey aggregate and an exposure table. Pure functions over ids plus the lookups the caller passes in
(txid per tx id, address text per address id, attribution per address id): no store, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainsleuth.algorithms.tracing.result import ENDPOINT_KINDS, TraceResult

__all__ = ["Attribution", "IdView", "compare_table", "endpoint_rows", "exposure_table", "sankey", "trace_document"]


@dataclass(frozen=True)
class Attribution:
    """What the workspace knows about an address: its cluster and its best-ranked tag."""

    cluster: int | None = None
    entity: str | None = None
    category: str | None = None


@dataclass
class IdView:
    """A trace result seen through address ids and the names of what it moved, built by the caller from the
    graph (numpy indexing) and the store (txids).

    Per edge: the addresses it comes from and goes to (UTXO forward: the input carrying the most taint and
    the output; backward: the input, i.e. the coin spent, and that output; account: sender and receiver),
    its time and height, ``e_coin`` (the coin it moves: ``txid:vout`` of the output (forward) or of the coin
    the input spends (backward); on account chains the transfer ``txhash:index``) and ``e_links`` (UTXO: the
    coins on the other side of its transaction that carried the taint at that hop, as (outpoint, address id,
    amount)). Per endpoint row: its address, ``ep_coin`` (the coin, transfer or transaction where the value
    stopped) and ``ep_reason`` (the reason as the document states it).
    """

    e_from_addr: np.ndarray
    e_to_addr: np.ndarray
    e_time: np.ndarray
    e_height: np.ndarray
    ep_addr: np.ndarray
    e_coin: Sequence[str | None] = ()
    e_links: Sequence[Sequence[tuple[str | None, int, int]]] = ()
    ep_coin: Sequence[str | None] = ()
    ep_reason: Sequence[str] = ()


def _int(x: Any) -> int:
    return int(x)


def utxo_flow_links(r: TraceResult, *, in_tx: np.ndarray, out_tx: np.ndarray, out_spent_in: np.ndarray,
                    in_prev: np.ndarray, seed_rows: Sequence[int], seed_amounts: Sequence[int], min_amount: int,
                    forward: bool) -> list[list[tuple[int, int]]]:
    """For each edge of a UTXO trace, the coins on the other side of its transaction that carried taint into
    it at that hop, as (output row, amount): forward, the tainted coins its inputs spend; backward, its
    tainted outputs. Exact: the frontier of each hop is rebuilt from the seeds and the edges (summed per
    coin, as the engines do), less the coins that stopped there (endpoints) or were cut off.

    >>> r = TraceResult("forward", "poison", 10, e_tx=np.array([1]), e_from=np.array([0]), e_to=np.array([1]),
    ...                 e_amount=np.array([10]), e_hop=np.array([1]))
    >>> utxo_flow_links(r, in_tx=np.array([1]), out_tx=np.array([0, 1]), out_spent_in=np.array([0, -1]),
    ...                 in_prev=np.array([0]), seed_rows=[0], seed_amounts=[10], min_amount=0, forward=True)
    [[(0, 10)]]
    """
    items: dict[tuple[int, int], int] = {}                  # (hop, coin row) -> taint
    for row, amt in zip(seed_rows, seed_amounts, strict=True):
        items[(0, int(row))] = items.get((0, int(row)), 0) + int(amt)
    land = r.e_to if forward else (in_prev[r.e_from] if r.e_from.size else r.e_from)
    for hop, row, amt in zip(r.e_hop.tolist(), land.tolist(), r.e_amount.tolist(), strict=True):
        if row >= 0:
            items[(int(hop), int(row))] = items.get((int(hop), int(row)), 0) + int(amt)
    stopped = {(int(h), int(i)) for h, i in zip(r.ep_hop.tolist(), r.ep_item.tolist(), strict=True) if i >= 0}
    by_tx: dict[tuple[int, int], list[tuple[int, int]]] = {}   # (tx, hop of its edges) -> coins
    for (hop, row), amt in sorted(items.items()):
        if (hop, row) in stopped or (hop > 0 and amt < min_amount) or amt <= 0:
            continue
        if forward:
            spent = int(out_spent_in[row])
            if spent < 0:
                continue
            tx = int(in_tx[spent])
        else:
            tx = int(out_tx[row])
        by_tx.setdefault((tx, hop + 1), []).append((row, amt))
    for v in by_tx.values():
        v.sort(key=lambda x: (-x[1], x[0]))
    return [list(by_tx.get((int(t), int(h)), [])) for t, h in zip(r.e_tx.tolist(), r.e_hop.tolist(), strict=True)]


def endpoint_rows(r: TraceResult, view: IdView) -> list[dict[str, Any]]:
    """Endpoints grouped by (address id, reason): amount summed, hops the smallest, the coins where the value
    stopped; sorted by amount."""
    acc: dict[tuple[int, str], dict[str, Any]] = {}
    reasons = list(view.ep_reason) or [ENDPOINT_KINDS[k] for k in r.ep_kind.tolist()]
    coins = list(view.ep_coin) or [None] * r.ep_kind.size
    for a, why, amt, hop, coin in zip(view.ep_addr.tolist(), reasons, r.ep_amount.tolist(), r.ep_hop.tolist(),
                                      coins, strict=True):
        cur = acc.setdefault((int(a), why), {"amount": 0, "hops": int(hop), "coins": {}})
        cur["amount"] += _int(amt)
        cur["hops"] = min(cur["hops"], int(hop))
        if coin is not None:
            c = cur["coins"].setdefault(coin, [0, int(hop)])
            c[0] += _int(amt)
            c[1] = min(c[1], int(hop))
    rows = [{"address_id": a, "reason": why, "amount": v["amount"], "hops": v["hops"],
             "coins": sorted(([k, x[0], x[1]] for k, x in v["coins"].items()), key=lambda c: (-c[1], c[0]))}
            for (a, why), v in acc.items()]
    rows.sort(key=lambda d: (-d["amount"], d["address_id"], d["reason"]))
    return rows


def trace_document(r: TraceResult, view: IdView, *, source: str, max_hops: int, unit: Mapping[str, Any],
                   txid: Mapping[int, str], address: Mapping[int, str], attribution: Mapping[int, Attribution],
                   provenance: dict[str, Any], utxo: bool = True, unseen: Mapping[str, Any] | None = None
                   ) -> dict[str, Any]:
    """The Trace JSON (docs/tracing.md, "The Trace JSON"): edges citing the coin or transfer they move,
    endpoints with their reason and coins inline, every amount object with its ``asset`` and ``unit``.
    Totals, limits, what the trace could not see and the provenance go into ``provenance``."""
    u = {"asset": unit["asset"], "unit": unit["unit"]}
    forward = r.direction == "forward"
    coins = list(view.e_coin) or [None] * r.e_tx.size
    links = list(view.e_links) or [[] for _ in range(r.e_tx.size)]
    edges = []
    for i in range(r.e_tx.size):
        amt = _int(r.e_amount[i])
        val = _int(r.e_value[i]) if r.e_value.size else 0
        fa, ta = int(view.e_from_addr[i]), int(view.e_to_addr[i])
        e: dict[str, Any] = {"hop": int(r.e_hop[i]), "txid": txid.get(int(r.e_tx[i]))}
        if utxo:
            other = [{"outpoint": op, "address": address.get(a), "amount": x, **u} for op, a, x in links[i]]
            e["outpoint"] = coins[i]
            if forward:     # value reaches the output through the transaction's tainted inputs
                e["from"] = list(dict.fromkeys(o["address"] for o in other))
                e["to"] = address.get(ta)
                e["inputs"] = other
            else:           # value comes from the coin this input spends, for the tainted outputs
                e["from"] = address.get(fa)
                e["to"] = list(dict.fromkeys(o["address"] for o in other))
                e["outputs"] = other
        else:
            e.update({"transfer": coins[i], "from": address.get(fa), "to": address.get(ta)})
        e.update({"amount": amt, "value": val, "taint": round(amt / val, 6) if val else None, **u,
                  "time": int(view.e_time[i]), "height": int(view.e_height[i])})
        edges.append(e)
    edges.sort(key=lambda e: (e["hop"], e["height"], e["txid"] or "", -e["amount"], e.get("outpoint") or
                              e.get("transfer") or ""))
    eps = []
    for row in endpoint_rows(r, view):
        a = row["address_id"]
        att = attribution.get(a, Attribution())
        key = "outpoint" if utxo else "transfer"
        eps.append({"address": address.get(a), "cluster": att.cluster, "entity": att.entity,
                    "category": att.category, "reason": row["reason"], "amount": row["amount"], **u,
                    "hops": row["hops"],
                    "coins": [{key if ":" in c else "txid": c, "amount": x, "hop": h} for c, x, h in row["coins"]]})
    prov = dict(provenance)
    prov["totals"] = {**r.totals(), **u}
    prov["conserved"] = r.conservation_gap() == 0
    prov["limits_hit"] = list(r.limits_hit)
    prov["unseen_inputs"] = dict(unseen) if unseen is not None else None
    return {"source": source, "direction": r.direction, "policy": r.policy, "max_hops": max_hops,
            "edges": edges, "endpoints": eps, "provenance": prov}


def compare_table(docs: Mapping[str, dict[str, Any] | None]) -> dict[str, Any]:
    """Every endpoint's amount under every policy, one row per (address, reason); None where a policy does
    not apply (e.g. tiho on account chains). Rows and totals carry the asset and unit of their amounts."""
    policies = list(docs)
    rows: dict[tuple[Any, str], dict[str, Any]] = {}
    unit: dict[str, Any] = {}
    for pol, doc in docs.items():
        if doc is None:
            continue
        for ep in doc["endpoints"]:
            unit = {"asset": ep["asset"], "unit": ep["unit"]}
            key = (ep["address"], ep["reason"])
            row = rows.setdefault(key, {"address": ep["address"], "cluster": ep["cluster"], "entity": ep["entity"],
                                        "category": ep["category"], "reason": ep["reason"], "hops": ep["hops"],
                                        "amounts": {p: (0 if docs[p] is not None else None) for p in policies},
                                        **unit})
            row["amounts"][pol] += ep["amount"]
            row["hops"] = min(row["hops"], ep["hops"])
    out = sorted(rows.values(), key=lambda r: (-max((v or 0) for v in r["amounts"].values()), str(r["address"])))
    totals = {p: (d["provenance"]["totals"] if d is not None else None) for p, d in docs.items()}
    return {"policies": policies, "rows": out, "totals": totals}


def _label(addr: str | None, att: Mapping[str, Any] | None) -> str:
    if att and att.get("entity"):
        return str(att["entity"])
    if att and att.get("cluster") is not None:
        return f"cluster {att['cluster']}"
    return addr or "(none)"


def sankey(doc: Mapping[str, Any], attribution_by_address: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Aggregate a Trace JSON for a Sankey diagram: nodes are (hop, entity / cluster / address) so the
    diagram has no cycles; links sum the traced amounts between them; endpoints get a final node each.

    An edge whose transaction had several tainted coins on its other side is split between them in
    proportion to the taint each carried, in whole base units (largest remainder), so that the links still
    sum to the traced amounts exactly."""
    nodes: dict[str, int] = {}
    links: dict[tuple[int, int], int] = {}

    def node(key: str) -> int:
        return nodes.setdefault(key, len(nodes))

    def lab(addr: str | None) -> str:
        return _label(addr, attribution_by_address.get(addr or ""))

    forward = doc["direction"] == "forward"

    def apportion(amount: int, side: Sequence[Mapping[str, Any]]) -> list[tuple[str | None, int]]:
        weights = [int(o["amount"]) for o in side]
        total = sum(weights)
        if not total:
            return [(None, amount)]
        shares = [amount * w // total for w in weights]
        for j in sorted(range(len(weights)), key=lambda j: (-(amount * weights[j] % total), j))[:amount - sum(shares)]:
            shares[j] += 1
        return [(o["address"], x) for o, x in zip(side, shares, strict=True) if x]

    spent_by_tx: dict[tuple[str, int], tuple[int, Sequence[Mapping[str, Any]]]] = {}
    for e in doc["edges"]:
        amount = int(e["amount"])
        # column hop: where the value is after this edge; column hop - 1: where it was before
        side = e.get("inputs") if forward else e.get("outputs")
        here = e["to"] if forward else e["from"]
        if side is None:                                    # account chains: a transfer from one to one
            pairs = [(e["from"] if forward else e["to"], amount)]
        elif not side:
            pairs = [(None, amount)]
        else:
            pairs = apportion(amount, side)
            if forward:
                key = (str(e["txid"]), int(e["hop"]))
                done, _ = spent_by_tx.get(key, (0, side))
                spent_by_tx[key] = (done + amount, side)
        dst = node(f"{e['hop']}:{lab(here)}")
        for before, x in pairs:
            src = node(f"{e['hop'] - 1}:{lab(before)}")
            links[(src, dst)] = links.get((src, dst), 0) + x
    for ep in doc["endpoints"]:
        a = node(f"{ep['hops']}:{_label(ep['address'], ep)}")
        b = node(f"end:{ep['category'] or ep['reason']}")
        links[(a, b)] = links.get((a, b), 0) + int(ep["amount"])
    # fees leave from where the value was when its transaction paid them: what a transaction's tainted
    # inputs brought less what its outputs received (a transaction that gave all its taint to the fee has no
    # edge to show it by: that rest leaves from the source)
    totals = doc["provenance"].get("totals", {})
    located = 0
    for (_, hop), (out_amt, side) in sorted(spent_by_tx.items()):
        fee = sum(int(o["amount"]) for o in side) - out_amt
        if fee > 0:
            located += fee
            for before, x in apportion(fee, side):
                key2 = (node(f"{hop - 1}:{lab(before)}"), node("end:fees"))
                links[key2] = links.get(key2, 0) + x
    rest = int(totals.get("fees", 0)) - located
    if rest > 0:
        key2 = (node("0:source"), node("end:fees"))
        links[key2] = links.get(key2, 0) + rest
    unit = {"asset": totals.get("asset"), "unit": totals.get("unit")}
    return {"nodes": [{"id": i, "name": k.split(":", 1)[1], "column": k.split(":", 1)[0]} for k, i in nodes.items()],
            "links": [{"source": s, "target": t, "value": v, **unit} for (s, t), v in sorted(links.items())]}


def exposure_table(doc: Mapping[str, Any], categories: Sequence[str] | None = None) -> dict[str, Any]:
    """Direct and indirect exposure of a trace by category and by entity.

    Direct: the traced value meets the attributed service in one hop (the source paid it / was paid by it);
    indirect: through intermediaries (hops > 1). Shares are of the traced source amount. Value that reached
    no attributed service (unspent, hop limit, unknown origin) is ``unattributed``.
    """
    total = int(doc["provenance"]["totals"]["source_amount"])
    by_cat: dict[str, dict[str, int]] = {}
    by_ent: dict[tuple[str, str], dict[str, int]] = {}
    unattributed = 0
    for ep in doc["endpoints"]:
        cat = ep["category"]
        if not cat or (categories is not None and cat not in categories):
            unattributed += int(ep["amount"])
            continue
        kind = "direct" if ep["hops"] <= 1 else "indirect"
        c = by_cat.setdefault(cat, {"direct": 0, "indirect": 0})
        c[kind] += int(ep["amount"])
        e = by_ent.setdefault((cat, ep["entity"] or ep["address"] or "?"), {"direct": 0, "indirect": 0})
        e[kind] += int(ep["amount"])

    def share(x: int) -> float:
        return round(x / total, 6) if total else 0.0

    cats = [{"category": k, **v, "total": v["direct"] + v["indirect"], "share": share(v["direct"] + v["indirect"])}
            for k, v in by_cat.items()]
    ents = [{"category": k[0], "entity": k[1], **v, "total": v["direct"] + v["indirect"],
             "share": share(v["direct"] + v["indirect"])} for k, v in by_ent.items()]
    cats.sort(key=lambda r: -r["total"])
    ents.sort(key=lambda r: -r["total"])
    t = doc["provenance"]["totals"]
    unit = {"asset": t.get("asset"), "unit": t.get("unit")}
    for row in (*cats, *ents):
        row.update(unit)
    return {"source": doc["source"], "direction": doc["direction"], "policy": doc["policy"], "total": total,
            "by_category": cats, "by_entity": ents, "unattributed": unattributed,
            "fees": int(t["fees"]), "cut_off": int(t["cut_off"]), **unit}
