"""``chainsleuth show block|tx|address``: look things up."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from chainsleuth.cli.cluster import show_cluster
from chainsleuth.cli.console import coin, out_console, print_json, print_kv, safe
from chainsleuth.cli.context import open_workspace

if TYPE_CHECKING:
    from chainsleuth.core.models import AccountTxInfo, AddressInfo

__all__ = ["app"]

app = typer.Typer(help="Show a block, transaction, address or cluster.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
ChainOpt = Annotated[str | None, typer.Option(help="Chain to look in (default: wherever it is found).")]


@app.command()
def block(ref: Annotated[str, typer.Argument(help="Block hash or height.")], chain: ChainOpt = None,
          json_: JsonOpt = False) -> None:
    """A block's header facts.

    Example: chainsleuth show block 170"""
    with open_workspace(read_only=True) as ws:
        b = ws.queries.show_block(ref, chain=chain)
    if json_:
        print_json(b)
    else:
        d = b.model_dump()
        print_kv(f"block {b.height if b.height is not None else b.hash}",
                 [(k, _when(v) if k == "time" else v) for k, v in d.items()])


@app.command()
def tx(txid: Annotated[str, typer.Argument(help="Transaction id (hex).")], chain: ChainOpt = None,
       include_stale: Annotated[bool, typer.Option(
           "--include-stale", help="Also show a transaction that is only in a stale block (off the best chain).")]
       = False, json_: JsonOpt = False) -> None:
    """A transaction with its inputs (resolved prevouts) and outputs.

    Example: chainsleuth show tx f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"""
    with open_workspace(read_only=True) as ws:
        t = ws.queries.show_tx(txid, chain=chain, include_stale=include_stale)
    if json_:
        print_json(t)
        return
    from chainsleuth.core.models import AccountTxInfo

    if isinstance(t, AccountTxInfo):
        _account_tx(t)
        return
    print_kv(f"tx {t.txid}", [
        ("chain", t.chain), ("block_height", "unknown" if t.block_height is None else t.block_height),
        ("block_hash", t.block_hash + ("" if t.best else "  (stale: not on the best chain)")), ("time", _when(t.time)),
        ("fee", "unknown (a spent output is not in the workspace)" if t.fee is None else _coin(t.fee, t.chain))])
    for i in t.inputs:
        if i.prev_txid is None:
            out_console.print(f"  in  #{i.n:<4} {'(coinbase: newly minted coins and the block fees)':<62}", markup=False)
            continue
        where = "" if i.value is not None else "  (spent output not in the workspace)"
        out_console.print(f"  in  #{i.n:<4} {i.address or '-':<62} {_coin(i.value, t.chain):>20}  <- {i.prev_txid}:{i.prev_n}{where}",
                          markup=False)
    for o in t.outputs:
        spent = {"spent": f"spent by {o.spent_by}", "unspent_in_data": "unspent in the data",
                 "unknown_beyond_data": "not spent in the data (blocks after it are missing)",
                 "unspent_at_source": "unspent, as the explorer API said",
                 "unspendable": f"unspendable: {o.unspendable}"}.get(o.status, o.status)
        out_console.print(f"  out #{o.n:<4} {o.address or '(' + o.script_type + ')':<62} {_coin(o.value, t.chain):>20}  {spent}",
                          markup=False)


@app.command()
def address(addr: Annotated[str, typer.Argument(help="Address as the chain writes it.", metavar="ADDRESS")],
            chain: ChainOpt = None,
            limit: Annotated[int, typer.Option(min=0, max=100_000, help="Recent transactions per page (0: none).")
                             ] = 10,
            offset: Annotated[int, typer.Option(min=0, max=10**12, help="Skip this many of the newest "
                                                "transactions (the next page: --offset 10).")] = 0,
            json_: JsonOpt = False) -> None:
    """An address: received, sent, balance, activity, cluster and tags, and its recent transactions.

    Example: chainsleuth show address 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S --limit 20"""
    with open_workspace(read_only=True) as ws:
        a = ws.queries.show_address(addr, chain=chain, limit=limit, offset=offset)
    if json_:
        print_json(a)
        return
    cluster = "not clustered" if a.cluster is None else f"{a.cluster['id']} ({a.cluster['size']:,} addresses)"
    tags = "; ".join(safe(f"{t.get('label')} [{t.get('category') or '-'}, {t.get('confidence')}]", markup=False)
                     for t in a.tags)   # print_kv escapes the markup
    rows: list[tuple[str, object]] = [("chain", a.chain), ("cluster", cluster), ("tags", tags or "none")]
    if not a.in_data:
        rows.append(("transactions", "none in this workspace: the address is known from its tags only"))
    else:
        cov = a.provenance.get("coverage", {})
        rows += [("received", _amounts(a.received, a.chain)), ("sent", _amounts(a.sent, a.chain)),
                 ("balance", _amounts(a.balance, a.chain)),
                 ("transactions", a.tx_count), ("first seen", _when(a.first_seen)), ("last seen", _when(a.last_seen)),
                 ("script types", ", ".join(a.script_types) or "-"),
                 ("data covers", ", ".join(f"{lo:,}-{hi:,}" for lo, hi in cov.get("ranges", [])) or "-")]
        if a.unspendable:
            rows.append(("unspendable", f"{_amounts(a.unspendable, a.chain)} of the balance can never be spent"))
    print_kv(f"address {a.address}", rows)
    if a.in_data and limit:
        _address_txs(a)


def _address_txs(a: AddressInfo) -> None:
    """One page of the address's transactions, newest first, and how to get the next one."""
    page, txs = a.transactions_page, a.transactions
    shown = f"{page['offset'] + 1:,}-{page['offset'] + len(txs):,} of {page['total']:,}" if txs else \
        f"none after the first {page['offset']:,} of {page['total']:,}"
    t = Table(title=f"transactions, newest first ({shown})", title_justify="left")
    for col, just in (("time (UTC)", "left"), ("block", "right"), ("txid", "left"), ("received", "right"),
                      ("sent", "right")):
        t.add_column(col, justify=just, overflow="fold")   # type: ignore[arg-type]
    for x in txs:
        status = "  (failed)" if x.get("status") == 0 else ""
        t.add_row(_when(x["time"]).removesuffix(" UTC"), "-" if x["height"] is None else f"{x['height']:,}",
                  safe(x["txid"]) + status, _coin(x["received"], a.chain) if x["received"] else "",
                  _coin(x["sent"], a.chain) if x["sent"] else "")
    out_console.print(t)
    rest = page["total"] - page["offset"] - len(txs)
    if rest > 0:
        out_console.print(f"{rest:,} older: --offset {page['offset'] + len(txs)}", markup=False)


def _coin(v: int | None, chain: str, asset: str | None = None) -> str:
    """An amount in the unit people read (``--base-units``: sat, wei); ``?`` where it is not known."""
    return "?" if v is None else coin(v, chain, asset)


def _when(t: int | None) -> str:
    """Integer UTC seconds as a date and time an investigator reads."""
    if t is None:
        return "-"
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _amounts(v: int | dict[str, int] | None, chain: str) -> str:
    """The coin on UTXO chains; per asset on account chains (the native coin, tokens in their base units)."""
    if v is None:
        return "-"
    if isinstance(v, int):
        return _coin(v, chain)
    return "\n".join(_coin(v[k], chain, k) for k in v) or _coin(0, chain)


def _account_tx(t: AccountTxInfo) -> None:
    status = {1: "succeeded", 0: "failed (moved nothing but its fee)", None: "unknown (no receipt)"}.get(
        t.status, "unknown (no receipt)")
    print_kv(f"tx {t.txid}", [
        ("chain", t.chain), ("block_height", t.block_height), ("block_hash", t.block_hash), ("time", _when(t.time)),
        ("status", status), ("from", t.from_), ("to", t.to or "(contract creation)"), ("value", _coin(t.value, t.chain)),
        ("fee", _coin(t.fee, t.chain)),
        ("internal transfers", "not in the data (ingested without traces)" if t.traces == "none" else t.traces)])
    for m in t.transfers:
        out_console.print(f"  #{m.index:<4} {m.kind:<12} {m.from_ or '-'} -> {m.to or '(burned)'}  "
                          f"{_coin(m.value, t.chain, m.asset)}",
                          markup=False)


app.command("cluster")(show_cluster)
