"""``chainsleuth demo``: the main job on a generated training case, in the terminal."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from chainsleuth.cli.console import amount, coin, err_console, out_console, print_json
from chainsleuth.cli.context import open_workspace
from chainsleuth.core.units import unit_of

__all__ = ["demo"]


def _amt(v: int, of: str | dict[str, Any]) -> str:
    """``v`` in the unit people read: ``of`` is a trace name (``btc:native``, ``eth:0xTOKEN``) or an amount
    object with ``asset`` and ``unit``."""
    if isinstance(of, dict):
        return amount(v, of.get("asset", "BTC"), of.get("unit"), of.get("decimals"))
    chain, _, asset = of.partition(":")
    return coin(v, chain, asset)


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
    (Terminal form: serving the web workbench is not implemented yet.)

    Example: chainsleuth demo --seed 7"""
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
                  *[_amt(row["amounts"][p], row["chain"]) for p in pols])
    out_console.print(t)
    for name, ex in r["exposure"].items():
        e = Table(title=f"exposure of the proceeds on {name} ({ex['policy']})", title_justify="left")
        for col in ("category", "entity", "direct", "indirect", "share"):
            e.add_column(col, justify="left" if col in ("category", "entity") else "right")
        for row in ex["by_entity"]:
            e.add_row(row["category"], row["entity"], _amt(row["direct"], ex), _amt(row["indirect"], ex),
                      f"{row['share']:.1%}")
        out_console.print(e)
    key: dict[tuple[str, str], int] = {}       # (entity, trace name): amounts of one chain and asset add up
    for c in r["answer_key_cashouts"]:
        native = c["asset"] in (None, "native", unit_of(c["chain"])["asset"])
        k_ = (c["entity"], f"{c['chain']}:{'native' if native else c['asset']}")
        key[k_] = key.get(k_, 0) + c["amount"]
    traced = {(row["entity"], row["chain"]): row["amounts"] for row in r["proceeds"]}
    k = Table(title="check against the case's answer key (what reached each cash-out)", title_justify="left")
    for col in ("entity", "answer key", *[f"traced ({p})" for p in pols]):
        k.add_column(col, justify="left" if col == "entity" else "right")
    for (entity, name), due in key.items():
        k.add_row(entity, _amt(due, name), *[_amt(traced.get((entity, name), {}).get(p, 0), name) for p in pols])
    out_console.print(k)
    out_console.print("[dim]The key counts what reached each deposit address. Where a deposit address is not "
                      "tagged, the trace goes on into the exchange's own consolidation and stops at a tagged hot "
                      "wallet after paying part of that transaction's fee, so it can show slightly less.[/]")
    tr: dict[str, Any] = r["traces"]
    for name, v in tr.items():
        for p, tot in v["totals"].items():
            out_console.print(f"{name} {p}: source {_amt(tot['source_amount'], tot)} = endpoints "
                              f"{_amt(tot['endpoints'], tot)} + fees {_amt(tot['fees'], tot)} + cut off "
                              f"{_amt(tot['cut_off'], tot)}")
    if not no_serve:
        err_console.print("note: the web workbench is not implemented yet; nothing to serve (use --no-serve to "
                          "silence this)")
