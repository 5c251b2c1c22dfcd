"""``chainsleuth trace forward|backward|exposure|peel SOURCE`` and ``chainsleuth path FROM TO``."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from chainsleuth.cli.console import amount, err_console, out_console, print_json, safe
from chainsleuth.cli.context import open_workspace
from chainsleuth.errors import InvalidInput

__all__ = ["app", "path"]

app = typer.Typer(help="Trace funds: forward (where did it go) or backward (where did it come from), under the "
                       "allocation rule you choose (poison, haircut, fifo, lifo, tiho).", no_args_is_help=True)

SourceArg = Annotated[str, typer.Argument(metavar="SOURCE", help="TXID:VOUT (one output; on EVM chains TXHASH:INDEX picks one "
                                                "transfer), TXID (all its outputs), an address, or cluster:ID; "
                                                "several separated by commas.")]
PolicyOpt = Annotated[str, typer.Option("--policy", "-p", help="poison, haircut, fifo, lifo or tiho "
                                                                "(docs/tracing.md explains each).")]
HopsOpt = Annotated[int, typer.Option("--max-hops", min=0, max=10_000, help="Stop after this many transactions from the source.")]
MinOpt = Annotated[int, typer.Option("--min-amount", min=0, max=2**63 - 1, help="Cut off traced amounts below this (base units: "
                                                           "satoshi, wei, token units).")]
StopOpt = Annotated[str | None, typer.Option("--stop-at", help="Comma-separated taxonomy categories where the "
                                             "trace stops (default: exchange, mixing_service, defi_bridge, "
                                             "gambling, defi, ...; '' for none). mixer and bridge are accepted.")]
ChainOpt = Annotated[str | None, typer.Option(help="Chain (default: wherever the source is found).")]
AssetOpt = Annotated[str | None, typer.Option(help="EVM: token contract address (default: the native coin).")]
DegreeOpt = Annotated[int, typer.Option("--max-degree", min=1, help="Transactions (UTXO) or addresses (EVM) with more "
                                                              "links than this are paged: reported, not expanded.")]
EdgesOpt = Annotated[int, typer.Option("--max-edges", min=1, max=10**12, help="Stop expanding once the trace has this many edges.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
_MAX_ROWS = 50      # endpoints shown in the terminal table (largest first)


def _amt(v: int | None, of: dict[str, Any]) -> str:
    """``v`` in the unit of the amount object ``of`` (its ``asset``, ``unit`` and, where given, ``decimals``)."""
    return amount(v, of.get("asset", "BTC"), of.get("unit"), of.get("decimals"))


def _utc(t: int | None) -> str:
    from datetime import UTC, datetime

    return "-" if t is None else datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _endpoint_table(doc: dict[str, Any], title: str) -> Table:
    """Endpoints, largest first, each with the coin it rests on (the first, when several) and the block and
    UTC time of the transaction that paid it there."""
    t = Table(title=title, title_justify="left")
    paid = {e.get("outpoint") or e.get("transfer"): e for e in doc.get("edges", [])}
    rows = [(ep, ep["reason"]) for ep in doc["endpoints"]]
    # addresses and coins are copied out of the table into requests and reports: whole on one line where
    # the width allows (always when piped), folded rather than cut where it does not
    widths = {"address": max([len(ep["address"] or "-") for ep, _ in rows[:_MAX_ROWS]] or [7]),
              "coin": max([len(str((ep.get("coins") or [{}])[0].get("outpoint") or "")) + 5
                           for ep, _ in rows[:_MAX_ROWS]] or [4])}
    for col in ("address", "entity", "category", "cluster", "amount", "hops", "coin", "block", "time",
                "why it stopped"):
        t.add_column(col, justify="right" if col in ("amount", "hops", "cluster", "block") else "left",
                     overflow="fold", min_width=widths.get(col))
    for ep, why in rows[:_MAX_ROWS]:
        coins = ep.get("coins") or [{}]
        cite = coins[0].get("outpoint") or coins[0].get("transfer") or coins[0].get("txid") or "-"
        edge = paid.get(cite, {})
        more = f" (+{len(coins) - 1})" if len(coins) > 1 else ""
        t.add_row(safe(ep["address"] or "-"), safe(ep["entity"] or ""), safe(ep["category"] or ""),
                  "" if ep["cluster"] is None else str(ep["cluster"]), _amt(ep["amount"], ep), str(ep["hops"]),
                  safe(cite) + more, "-" if edge.get("height") is None else f"{edge['height']:,}",
                  _utc(edge.get("time")), why)
    if len(rows) > _MAX_ROWS:
        rest = sum(ep["amount"] for ep, _ in rows[_MAX_ROWS:])
        t.add_row(f"... {len(rows) - _MAX_ROWS} more (--json or --csv for all)", "", "", "",
                  _amt(rest, rows[_MAX_ROWS][0]), "", "", "", "", "")
    return t


def _limits(doc: dict[str, Any]) -> None:
    for hit in doc.get("provenance", {}).get("limits_hit", []):
        info = ", ".join(f"{k}={v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{k}={v}"
                         for k, v in hit.items() if k not in ("limit", "value", "degrees"))
        err_console.print(f"[yellow]limit hit:[/] --{hit['limit'].replace('_', '-')} {hit['value']} ({info})")


def _write_csv(doc: dict[str, Any], path: Path) -> None:
    try:
        f = path.open("w", newline="", encoding="utf-8")
    except OSError as e:
        raise InvalidInput(f"cannot write the CSV file {path}: {e.strerror or e}", file=str(path),
                           field="--csv") from None
    with f:
        w = csv.writer(f)
        w.writerow(["kind", "hop", "txid", "coin", "from", "to", "amount", "taint", "asset", "unit", "height",
                    "time", "entity", "category", "reason"])

        def names(v: Any) -> str:     # one address, or the list of a transaction's tainted inputs / outputs
            return ";".join(x or "" for x in v) if isinstance(v, list) else (v or "")

        for edge in doc["edges"]:
            w.writerow(["edge", edge["hop"], edge["txid"], edge.get("outpoint") or edge.get("transfer"),
                        names(edge["from"]), names(edge["to"]), edge["amount"], edge["taint"], edge["asset"],
                        edge["unit"], edge["height"], edge["time"], "", "", ""])
        for ep in doc["endpoints"]:
            for coin in ep["coins"]:
                cited = coin.get("outpoint") or coin.get("transfer") or coin.get("txid")
                w.writerow(["endpoint", coin["hop"], "", cited, "", ep["address"], coin["amount"], "", ep["asset"],
                            ep["unit"], "", "", ep["entity"] or "", ep["category"] or "", ep["reason"]])


def _run(direction: str, source: str, policy: str, max_hops: int, min_amount: int, stop_at: str | None,
         compare_policies: bool, csv_path: Path | None, sankey: bool, json_: bool, chain: str | None,
         asset: str | None, max_degree: int, max_edges: int) -> None:
    if csv_path is not None and not csv_path.parent.is_dir():   # before a long trace, not after it
        raise InvalidInput(f"cannot write the CSV file {csv_path}: no directory {csv_path.parent}",
                           file=str(csv_path), field="--csv")
    kw: dict[str, Any] = {"max_hops": max_hops, "min_amount": min_amount, "stop_at": stop_at, "chain": chain,
                          "asset": asset, "max_degree": max_degree, "max_edges": max_edges}
    with open_workspace(read_only=True) as ws:
        if compare_policies:
            result = ws.tracing.compare_policies(source, direction, **kw)
        elif sankey:
            result = ws.tracing.sankey(source, direction, policy, **kw)
        else:
            result = ws.tracing.trace(source, direction, policy, **kw)
    if csv_path is not None and not compare_policies and not sankey:
        _write_csv(result, csv_path)
        err_console.print(f"wrote {len(result['edges'])} edges and {len(result['endpoints'])} endpoints to {csv_path}")
    if json_:
        print_json(result)
        return
    if compare_policies:
        t = Table(title=f"{direction} trace of {source}: every endpoint under every policy", title_justify="left")
        for col in ("address", "entity", "category", "why", *result["policies"]):
            t.add_column(col, justify="right" if col in result["policies"] else "left", overflow="fold")
        for r in result["rows"]:
            t.add_row(safe(r["address"] or "-"), safe(r["entity"] or ""), safe(r["category"] or ""), safe(r["reason"]),
                      *[_amt(r["amounts"][p], r) for p in result["policies"]])
        out_console.print(t)
        return
    if sankey:
        for link in result["links"]:
            a, b = result["nodes"][link["source"]], result["nodes"][link["target"]]
            out_console.print(f"{safe(a['column'])}:{safe(a['name'])} -> {safe(b['column'])}:{safe(b['name'])}  "
                              f"{_amt(link['value'], link)}")
        return
    tot = result["provenance"]["totals"]
    out_console.print(_endpoint_table(result, f"{direction} trace of {source} under {result['policy']}: "
                                              f"{len(result['edges'])} edges"))
    out_console.print(f"source {_amt(tot['source_amount'], tot)} = endpoints {_amt(tot['endpoints'], tot)} + fees "
                      f"{_amt(tot['fees'], tot)} + cut off {_amt(tot['cut_off'], tot)}"
                      + ("" if result["provenance"]["conserved"] else "  (poison: amounts are not conserved)"))
    _limits(result)


@app.command()
def forward(source: SourceArg, policy: PolicyOpt = "haircut", max_hops: HopsOpt = 10, min_amount: MinOpt = 0,
            stop_at: StopOpt = None,
            compare_policies: Annotated[bool, typer.Option("--compare-policies", help="One table: every endpoint's "
                                                           "amount under every policy.")] = False,
            csv_path: Annotated[Path | None, typer.Option("--csv", help="Also write edges and endpoints to this "
                                                                       "CSV file.")] = None,
            sankey: Annotated[bool, typer.Option("--sankey", help="Print the aggregate for a Sankey diagram "
                                                                  "(nodes per hop and entity).")] = False,
            json_: JsonOpt = False, chain: ChainOpt = None, asset: AssetOpt = None, max_degree: DegreeOpt = 5000,
            max_edges: EdgesOpt = 1_000_000) -> None:
    """Where did the money go: follow value from SOURCE to where it stops (services, unspent, hop limit).

    Example: chainsleuth trace forward f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16:0
    --policy fifo"""
    _run("forward", source, policy, max_hops, min_amount, stop_at, compare_policies, csv_path, sankey, json_, chain,
         asset, max_degree, max_edges)


@app.command()
def backward(source: SourceArg, policy: PolicyOpt = "haircut", max_hops: HopsOpt = 10, min_amount: MinOpt = 0,
             stop_at: StopOpt = None,
             compare_policies: Annotated[bool, typer.Option("--compare-policies", help="One table: every "
                                                            "endpoint's amount under every policy.")] = False,
             csv_path: Annotated[Path | None, typer.Option("--csv", help="Also write edges and endpoints to this "
                                                                        "CSV file.")] = None,
             sankey: Annotated[bool, typer.Option("--sankey", help="Print the aggregate for a Sankey "
                                                                   "diagram.")] = False,
             json_: JsonOpt = False, chain: ChainOpt = None, asset: AssetOpt = None, max_degree: DegreeOpt = 5000,
             max_edges: EdgesOpt = 1_000_000) -> None:
    """Where did the money come from: follow value back from SOURCE to its origins.

    Example: chainsleuth trace backward 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S --max-hops 5"""
    _run("backward", source, policy, max_hops, min_amount, stop_at, compare_policies, csv_path, sankey, json_, chain,
         asset, max_degree, max_edges)


@app.command()
def exposure(source: SourceArg,
             direction: Annotated[str, typer.Option(help="forward (destination of funds) or backward (source "
                                                         "of funds).")] = "forward",
             policy: PolicyOpt = "haircut", max_hops: HopsOpt = 6, json_: JsonOpt = False,
             chain: ChainOpt = None) -> None:
    """Direct and indirect exposure to attributed services, by category and entity.

    Example: chainsleuth trace exposure 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"""
    with open_workspace(read_only=True) as ws:
        r = ws.tracing.exposure(source, direction, policy, max_hops=max_hops, chain=chain)
    if json_:
        print_json(r)
        return
    t = Table(title=f"exposure ({r['direction']}, {r['policy']}) of {source}: total {_amt(r['total'], r)}",
              title_justify="left")
    for col in ("category", "entity", "direct", "indirect", "total", "share"):
        t.add_column(col, justify="left" if col in ("category", "entity") else "right", overflow="fold")
    for row in r["by_entity"]:
        t.add_row(safe(row["category"]), safe(row["entity"]), _amt(row["direct"], r), _amt(row["indirect"], r),
                  _amt(row["total"], r),
                  f"{row['share']:.1%}")
    out_console.print(t)
    out_console.print(f"unattributed {_amt(r['unattributed'], r)}, fees {_amt(r['fees'], r)}, "
                      f"cut off {_amt(r['cut_off'], r)}")


@app.command()
def peel(source: Annotated[str, typer.Argument(metavar="SOURCE", help="TXID:VOUT where the chain starts.")],
         max_hops: Annotated[int, typer.Option("--max-hops", min=0, max=1_000_000,
                                               help="Follow at most this many steps.")] = 100,
         json_: JsonOpt = False, chain: ChainOpt = None) -> None:
    """Follow a peel chain: at each transaction keep to the change output, with the evidence for it.

    Example: chainsleuth trace peel f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16:1"""
    with open_workspace(read_only=True) as ws:
        r = ws.tracing.peel_chain(source, max_hops=max_hops, chain=chain)
    if json_:
        print_json(r)
        return
    for s in r["steps"]:
        out_console.print(f"{s['hop']:>4} {s['txid']}  peel {_amt(s['peeled']['value'], s['peeled'])} -> "
                          f"{s['peeled']['address']}  change {_amt(s['change']['value'], s['change'])}  [{s['evidence']['heuristic']} "
                          f"{s['evidence']['confidence']:.2f}]", markup=False)
    out_console.print(f"{r['hops']} step(s); ended: {r['ended']}")


def path(src: Annotated[str, typer.Argument(metavar="FROM", help="Address or cluster:ID.")],
         dst: Annotated[str, typer.Argument(metavar="TO", help="Address or cluster:ID.")],
         max_depth: Annotated[int, typer.Option("--max-depth", min=1, max=100, help="Most transactions on the path.")] = 6,
         max_degree: Annotated[int, typer.Option("--max-degree", min=1, help="Skip transactions/addresses with more "
                                                                       "links than this (hubs).")] = 1000,
         json_: JsonOpt = False, chain: ChainOpt = None) -> None:
    """The shortest money-flow path from FROM to TO, with its transactions.

    Example: chainsleuth path 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"""
    with open_workspace(read_only=True) as ws:
        r = ws.tracing.find_path(src, dst, max_depth=max_depth, max_degree=max_degree, chain=chain)
    if json_:
        print_json(r)
        return
    for s in r["steps"]:
        out_console.print(f"{s['hop']:>3} {s['txid']}  {safe(s['from'])} -> {safe(s['to'])}  "
                          f"{_amt(s['amount'], s)}  block {s['height']}  {_utc(s.get('time'))}")
    sys.stdout.flush()
