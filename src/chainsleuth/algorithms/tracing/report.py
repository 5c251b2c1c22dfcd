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
    """A trace result seen through address ids: where each edge comes from and goes to, where each endpoint
    sits, and when each edge happened. Built by the caller from the graph (numpy indexing)."""

    e_from_addr: np.ndarray
    e_to_addr: np.ndarray
    e_time: np.ndarray
    e_height: np.ndarray
    ep_addr: np.ndarray


def _int(x: Any) -> int:
    return int(x)


def endpoint_rows(r: TraceResult, view: IdView) -> list[dict[str, Any]]:
    """Endpoints grouped by (address id, kind): amount summed, hops the smallest, sorted by amount."""
    acc: dict[tuple[int, int], list[int]] = {}
    for a, k, amt, hop in zip(view.ep_addr.tolist(), r.ep_kind.tolist(), r.ep_amount.tolist(), r.ep_hop.tolist(),
                              strict=True):
        cur = acc.setdefault((int(a), int(k)), [0, int(hop)])
        cur[0] += _int(amt)
        cur[1] = min(cur[1], int(hop))
    rows = [{"address_id": a, "reason": ENDPOINT_KINDS[k], "amount": v[0], "hops": v[1]} for (a, k), v in acc.items()]
    rows.sort(key=lambda d: (-d["amount"], d["address_id"], d["reason"]))
    return rows


def trace_document(r: TraceResult, view: IdView, *, source: str, max_hops: int, asset: str,
                   txid: Mapping[int, str], address: Mapping[int, str], attribution: Mapping[int, Attribution],
                   provenance: dict[str, Any]) -> dict[str, Any]:
    """The Trace JSON of DESIGN.md. Totals, endpoint reasons and limits go into ``provenance``."""
    edges = []
    for i in range(r.e_tx.size):
        amt = _int(r.e_amount[i])
        val = _int(r.e_value[i]) if r.e_value.size else 0
        fa, ta = int(view.e_from_addr[i]), int(view.e_to_addr[i])
        edges.append({
            "txid": txid.get(int(r.e_tx[i])), "from": address.get(fa), "to": address.get(ta), "amount": amt,
            "taint": round(amt / val, 6) if val else None, "asset": asset,
            "time": int(view.e_time[i]), "height": int(view.e_height[i]), "hop": int(r.e_hop[i]),
        })
    edges.sort(key=lambda e: (e["hop"], e["height"], e["txid"] or "", -e["amount"]))
    eps, reasons = [], []
    for row in endpoint_rows(r, view):
        a = row["address_id"]
        att = attribution.get(a, Attribution())
        eps.append({"address": address.get(a), "cluster": att.cluster, "entity": att.entity,
                    "category": att.category, "amount": row["amount"], "hops": row["hops"]})
        reasons.append(row["reason"])
    prov = dict(provenance)
    prov["totals"] = r.totals()
    prov["conserved"] = r.conservation_gap() == 0
    prov["endpoint_reasons"] = reasons
    prov["limits_hit"] = list(r.limits_hit)
    return {"source": source, "direction": r.direction, "policy": r.policy, "max_hops": max_hops,
            "edges": edges, "endpoints": eps, "provenance": prov}


def compare_table(docs: Mapping[str, dict[str, Any] | None]) -> dict[str, Any]:
    """Every endpoint's amount under every policy, one row per (address, reason); None where a policy does
    not apply (e.g. tiho on account chains)."""
    policies = list(docs)
    rows: dict[tuple[Any, str], dict[str, Any]] = {}
    for pol, doc in docs.items():
        if doc is None:
            continue
        for ep, reason in zip(doc["endpoints"], doc["provenance"]["endpoint_reasons"], strict=True):
            key = (ep["address"], reason)
            row = rows.setdefault(key, {"address": ep["address"], "cluster": ep["cluster"], "entity": ep["entity"],
                                        "category": ep["category"], "reason": reason, "hops": ep["hops"],
                                        "amounts": {p: (0 if docs[p] is not None else None) for p in policies}})
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
    diagram has no cycles; links sum the traced amounts between them; endpoints get a final node each."""
    nodes: dict[str, int] = {}
    links: dict[tuple[int, int], int] = {}

    def node(key: str) -> int:
        return nodes.setdefault(key, len(nodes))

    for e in doc["edges"]:
        src = node(f"{e['hop'] - 1}:{_label(e['from'], attribution_by_address.get(e['from'] or ''))}")
        dst = node(f"{e['hop']}:{_label(e['to'], attribution_by_address.get(e['to'] or ''))}")
        links[(src, dst)] = links.get((src, dst), 0) + int(e["amount"])
    reasons = doc["provenance"].get("endpoint_reasons", [])
    for ep, reason in zip(doc["endpoints"], reasons, strict=False):
        a = node(f"{ep['hops']}:{_label(ep['address'], ep)}")
        b = node(f"end:{ep['category'] or reason}")
        links[(a, b)] = links.get((a, b), 0) + int(ep["amount"])
    fees = int(doc["provenance"].get("totals", {}).get("fees", 0))
    if fees:
        links[(node("0:source"), node("end:fees"))] = fees
    return {"nodes": [{"id": i, "name": k.split(":", 1)[1], "column": k.split(":", 1)[0]} for k, i in nodes.items()],
            "links": [{"source": s, "target": t, "value": v} for (s, t), v in sorted(links.items())]}


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
    return {"source": doc["source"], "direction": doc["direction"], "policy": doc["policy"], "total": total,
            "by_category": cats, "by_entity": ents, "unattributed": unattributed,
            "fees": int(doc["provenance"]["totals"]["fees"]), "cut_off": int(doc["provenance"]["totals"]["cut_off"])}
