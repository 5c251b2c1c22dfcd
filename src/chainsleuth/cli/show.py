"""``chainsleuth show block|tx|address``: look things up."""

from __future__ import annotations

from typing import Annotated

import typer

from chainsleuth.cli.console import out_console, print_json, print_kv
from chainsleuth.cli.context import open_workspace

__all__ = ["app"]

app = typer.Typer(help="Show a block, transaction, address or cluster.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
ChainOpt = Annotated[str | None, typer.Option(help="Chain to look in (default: wherever it is found).")]


@app.command()
def block(ref: Annotated[str, typer.Argument(help="Block hash or height.")], chain: ChainOpt = None,
          json_: JsonOpt = False) -> None:
    """A block's header facts."""
    with open_workspace(read_only=True) as ws:
        b = ws.show_block(ref, chain=chain)
    if json_:
        print_json(b)
    else:
        print_kv(f"block {b.height}", list(b.model_dump().items()))


@app.command()
def tx(txid: Annotated[str, typer.Argument(help="Transaction id (hex).")], chain: ChainOpt = None,
       json_: JsonOpt = False) -> None:
    """A transaction with its inputs (resolved prevouts) and outputs."""
    with open_workspace(read_only=True) as ws:
        t = ws.show_tx(txid, chain=chain)
    if json_:
        print_json(t)
        return
    d = t.model_dump()
    print_kv(f"tx {t.txid}", [(k, d[k]) for k in ("chain", "block_height", "block_hash", "time", "fee")])
    for i in t.inputs:
        out_console.print(f"  in  #{i.n:<4} {i.address or '-':<62} {_amt(i.value)}  <- {i.prev_txid}:{i.prev_n}")
    for o in t.outputs:
        spent = f"spent by {o.spent_by}" if o.spent_by else "unspent"
        out_console.print(f"  out #{o.n:<4} {o.address or '(' + o.script_type + ')':<62} {_amt(o.value)}  {spent}")


@app.command()
def address(addr: Annotated[str, typer.Argument(help="Address as the chain writes it.")], chain: ChainOpt = None,
            json_: JsonOpt = False) -> None:
    """An address: received, sent, balance, activity, cluster and tags."""
    with open_workspace(read_only=True) as ws:
        a = ws.show_address(addr, chain=chain)
    if json_:
        print_json(a)
    else:
        print_kv(f"address {a.address}", list(a.model_dump().items()))


def _amt(v: int | None) -> str:
    return "?" if v is None else f"{v:>16,} sat"


app.command("cluster")(__import__("chainsleuth.cli.cluster", fromlist=["show_cluster"]).show_cluster)
