"""``chainsleuth cluster`` and ``chainsleuth show cluster``: build, compare and explain address clusters."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from chainsleuth.cli.console import out_console, print_json, print_kv, safe
from chainsleuth.cli.context import open_workspace

__all__ = ["cluster", "show_cluster"]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
ChainOpt = Annotated[str | None, typer.Option(help="Chain to cluster (default: the workspace's only UTXO chain).")]


def cluster(
    heuristics: Annotated[str | None, typer.Option(
        help="Comma-separated heuristics (default co-spend; deposit-address on account chains). Add "
             "change:<name> or change-consensus to merge change outputs; see docs/clustering.md.")] = None,
    chain: ChainOpt = None,
    compare: Annotated[tuple[str, str] | None, typer.Option(
        help="Compare two cluster sets (name or id): which clusters split and which merge.")] = None,
    explain_tx: Annotated[str | None, typer.Option(
        help="Show, for one transaction, the CoinJoin verdict and each change heuristic's guess with evidence.")] = None,
    batch: Annotated[bool, typer.Option("--batch", help="Rebuild the set instead of extending it.")] = False,
    include_coinjoins: Annotated[bool, typer.Option(
        "--include-coinjoins", help="Let co-spend merge CoinJoin inputs (wrong on purpose; for comparison).")] = False,
    alert_size: Annotated[int | None, typer.Option(
        help="Alert when a merge joins two clusters of at least this many addresses (default: the cluster_alert_size setting, 1000).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Cluster addresses (co-spend by default, CoinJoins left out) and keep the evidence of every merge.

    Example: chainsleuth cluster --chain btc --heuristics co-spend,change-consensus"""
    if explain_tx is not None:
        with open_workspace(read_only=True) as ws:
            e = ws.clustering.explain_tx(explain_tx, chain=chain)
        if json_:
            print_json(e)
            return
        cj = e["coinjoin"]
        out_console.print(f"tx {e['txid']} on {e['chain']}: "
                          + (f"{cj['summary']} ({cj['source']})" if cj else "not a CoinJoin"))
        for h, ev in e["change"].items():
            out_console.print(f"  {h:<16} " + (f"output {ev['details']['output']} -> {ev['details']['address']} "
                                              f"(confidence {ev['confidence']:.2f})" if ev else "abstains"))
        return
    if compare is not None:
        with open_workspace(read_only=True) as ws:
            r = ws.clustering.compare(compare[0], compare[1], chain=chain)
        if json_:
            print_json(r)
            return
        print_kv(f"{r['set1']} -> {r['set2']} on {r['chain']}", [
            ("identical", r["identical"]), ("clusters split", r["n_splits"]), ("clusters merged", r["n_merges"]),
            ("address pairs together in set 1", r["pairs_in_set1"]),
            ("address pairs together in set 2", r["pairs_in_set2"]), ("pairs in both", r["pairs_in_both"])])
        for s in r["splits"][:20]:
            out_console.print(f"  split  {s['cluster']} ({s['size']} addresses) -> {s['into']}")
        for m in r["merges"][:20]:
            out_console.print(f"  merge  {m['from']} -> {m['cluster']} ({m['size']} addresses)")
        return
    names = [h.strip() for h in heuristics.split(",") if h.strip()] if heuristics is not None else None
    with open_workspace(read_only=True):  # a missing workspace is an error, not a new empty one
        pass
    with open_workspace() as ws:
        r = ws.clustering.cluster(chain, heuristics=names, incremental=not batch,
                                  include_coinjoins=include_coinjoins, alert_size=alert_size)
    if json_:
        print_json(r)
        return
    print_kv(f"cluster set {r['set_id']} '{r['name']}' on {r['chain']}", [
        ("mode", r["mode"]), ("transactions read", r["txs_processed"]), ("links added", r["links_added"]),
        ("addresses", r["addresses"]), ("clusters (2+ addresses)", r["clusters"]), ("links", r["links"]),
        ("largest", ", ".join(f"{x['id']} ({x['size']})" for x in r["largest"] if x["size"] > 1) or "none"),
        ("CoinJoins found", ", ".join(f"{k} {v}" for k, v in r["coinjoins"].items() if v) or "none"),
        ("unresolved inputs", r["unresolved_inputs"]), ("seconds", r["seconds"])])
    for a in r["alerts"]:
        out_console.print(f"[bold yellow]alert:[/] {a['message']}: tx {a['txid']} joined {a['address_a']} "
                          f"and {a['address_b']}")


def show_cluster(
    ref: Annotated[str, typer.Argument(help="Cluster id or any address in the cluster.")],
    why: Annotated[tuple[str, str] | None, typer.Option(
        help="Two member addresses: print the chain of links (transactions, heuristics) joining them.")] = None,
    chain: Annotated[str | None, typer.Option(help="Chain (default: wherever the address is found).")] = None,
    cluster_set: Annotated[str | None, typer.Option("--set", help="Cluster set name or id (default: active).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1_000_000, help="Addresses and links per page.")] = 100,
    offset: Annotated[int, typer.Option(min=0, max=10**12, help="Skip this many addresses and links.")] = 0,
    json_: JsonOpt = False,
) -> None:
    """A cluster: its addresses, tags and the links (transactions and heuristics) that built it.

    Example: chainsleuth show cluster 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S --limit 50"""
    with open_workspace(read_only=True) as ws:
        c = ws.clustering.show_cluster(ref, chain=chain, why=why, cluster_set=cluster_set, limit=limit, offset=offset)
    if json_:
        print_json(c)
        return
    _render(c)


def _render(c: dict[str, Any]) -> None:
    print_kv(f"cluster {c['id']} on {c['chain']} (set {c['set']})",
             [("size", c["size"]),
              ("tags", ", ".join(safe(t.get("label", t), markup=False) for t in c["tags"]) or "none")])
    for a in c["addresses"]:
        out_console.print(f"  {a}")
    if len(c["addresses"]) < c["size"]:
        out_console.print(f"  ... {c['size'] - len(c['addresses'])} more (--offset/--limit)")
    if "why" in c:
        w = c["why"]
        out_console.print(f"why {w['from']} and {w['to']} are together (confidence {w['confidence']:.3f}):")
        for i, s in enumerate(w["steps"], 1):
            out_console.print(f"  {i}. {s['from']} -- {s['heuristic']} in tx {s['txid']} "
                              f"(confidence {s['confidence']:.2f}) -- {s['to']}")
    else:
        out_console.print(f"links ({len(c['links'])} shown):")
        for link in c["links"][:20]:
            out_console.print(f"  {link['from']} -- {link['heuristic']} {link['txid']} -- {link['to']}")
