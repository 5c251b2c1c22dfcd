"""``chainsleuth demo``: the main job on a generated training case, in the terminal."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from chainsleuth.cli.console import err_console, out_console, print_json
from chainsleuth.cli.context import open_workspace

__all__ = ["demo"]


def _amt(v: int) -> str:
    return f"{v:,}"


def demo(
    typology: Annotated[str, typer.Option(help="Case type: ransomware, darknet_market, investment_scam, "
                                               "exchange_hack, sanctions_evasion.")] = "ransomware",
    difficulty: Annotated[int, typer.Option(help="1 (plain) to 3 (mixers, peel chains, cross-chain).")] = 1,
    seed: Annotated[int, typer.Option(help="Same seed, same case.")] = 7,
    size: Annotated[int, typer.Option(help="About how many background Bitcoin transactions.")] = 2000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop after the report. The web workbench does not "
                                                              "exist yet, so the demo never serves; the flag is "
                                                              "accepted for scripts.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Generate a training case, ingest it through the real adapters, import its tags, cluster, trace the
    proceeds from the case's starting point under haircut and FIFO, and show where they went and the exposure.
    (Terminal form: serving the web workbench is not implemented yet.)"""
    with open_workspace() as ws:
        r = ws.demo.run(typology=typology, difficulty=difficulty, seed=seed, size=size)
    if json_:
        print_json(r)
        return
    w = r["world"]
    out_console.print(f"[bold]{w['typology']}[/] case, difficulty {w['difficulty']}, seed {w['seed']}: "
                      f"{w['btc_transactions']:,} Bitcoin and {w['eth_transactions']:,} Ethereum transactions "
                      f"written to {w['dir']}, ingested, {r['tags_new']} tags imported"
                      + (f", {r['clusters']['clusters']} clusters" if r["clusters"] else ""))
    for s in r["starts"]:
        origin = f"{s['txid']} -> {s['address']}" if s["txid"] else f"address {s['address']}"
        out_console.print(f"start: {s['chain']} {origin}")
    pols: list[str] = r["policies"]
    t = Table(title="where the proceeds went", title_justify="left")
    for col in ("chain", "entity", "category", "hops", *pols):
        t.add_column(col, justify="right" if col in (*pols, "hops") else "left")
    for row in r["proceeds"]:
        t.add_row(row["chain"], row["entity"], row["category"] or "", str(row["hops"]),
                  *[_amt(row["amounts"][p]) for p in pols])
    out_console.print(t)
    for name, ex in r["exposure"].items():
        e = Table(title=f"exposure of the proceeds on {name} ({ex['policy']})", title_justify="left")
        for col in ("category", "entity", "direct", "indirect", "share"):
            e.add_column(col, justify="left" if col in ("category", "entity") else "right")
        for row in ex["by_entity"]:
            e.add_row(row["category"], row["entity"], _amt(row["direct"]), _amt(row["indirect"]),
                      f"{row['share']:.1%}")
        out_console.print(e)
    key: dict[str, int] = {}
    for c in r["answer_key_cashouts"]:
        key[c["entity"]] = key.get(c["entity"], 0) + c["amount"]
    traced = {row["entity"]: row["amounts"] for row in r["proceeds"]}
    k = Table(title="check against the case's answer key (what reached each cash-out)", title_justify="left")
    for col in ("entity", "answer key", *[f"traced ({p})" for p in pols]):
        k.add_column(col, justify="left" if col == "entity" else "right")
    for entity, amount in key.items():
        k.add_row(entity, _amt(amount), *[_amt(traced.get(entity, {}).get(p, 0)) for p in pols])
    out_console.print(k)
    out_console.print("[dim]The key counts what reached each deposit address. Where a deposit address is not "
                      "tagged, the trace goes on into the exchange's own consolidation and stops at a tagged hot "
                      "wallet after paying part of that transaction's fee, so it can show slightly less.[/]")
    tr: dict[str, Any] = r["traces"]
    for name, v in tr.items():
        for p, tot in v["totals"].items():
            out_console.print(f"{name} {p}: source {_amt(tot['source_amount'])} = endpoints {_amt(tot['endpoints'])}"
                              f" + fees {_amt(tot['fees'])} + cut off {_amt(tot['cut_off'])}")
    if not no_serve:
        err_console.print("note: the web workbench is not implemented yet; nothing to serve (use --no-serve to "
                          "silence this)")
