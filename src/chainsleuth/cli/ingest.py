"""``chainsleuth ingest ...``: bring chain data into the workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chainsleuth.cli.console import print_json, print_kv
from chainsleuth.cli.context import open_workspace

__all__ = ["app"]

app = typer.Typer(help="Ingest chain data (Bitcoin blocks and nodes, EVM nodes, ETL exports, Esplora APIs).",
                  no_args_is_help=True)


@app.command("btc-blocks")
def btc_blocks(
    paths: Annotated[list[Path], typer.Argument(help="blk*.dat files (xor.dat beside them is used), raw or hex "
                                                     "block files, or directories of them.")],
    chain: Annotated[str | None, typer.Option(help="btc, btc-testnet, btc-signet, btc-regtest; default: from "
                                                   "the file magic, else btc.")] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Skip unreadable or invalid blocks and "
                                                              "report them instead of stopping.")] = False,
    allow_invalid_pow: Annotated[bool, typer.Option("--allow-invalid-pow", help="Accept blocks whose header "
                                                    "does not meet its target (synthetic or generated chains, "
                                                    "training worlds); recorded in the run and shown by stats.")
                                 ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Ingest raw Bitcoin blocks, each validated (proof of work, merkle root, weight, amounts).
    Re-ingesting the same files changes nothing.

    Example: chainsleuth ingest btc-blocks ~/.bitcoin/blocks/blk00000.dat"""
    with open_workspace() as ws:
        summary = ws.ingest.btc_blocks(paths, chain=chain, skip_bad=skip_bad, allow_invalid_pow=allow_invalid_pow)
    if json_:
        print_json(summary)
    else:
        print_kv(f"ingested {summary.chain}", list(summary.model_dump().items()))


@app.command("evm-rpc")
def evm_rpc(
    url: Annotated[str, typer.Argument(help="JSON-RPC endpoint (http:// or https://), or replay:DIR for "
                                            "recorded responses.")],
    chain: Annotated[str, typer.Option(help="eth, eth-sepolia, bsc, polygon, arbitrum, eth-anvil, ...")],
    from_: Annotated[int | None, typer.Option("--from", help="First block (default: after the checkpoint, "
                                                             "else 0).")] = None,
    to: Annotated[int | None, typer.Option("--to", help="Last block (default: head minus --confirmations).")] = None,
    traces: Annotated[str, typer.Option(help="Internal transfers from 'parity' (trace_block), 'geth' "
                                             "(debug_traceBlockByNumber), 'auto' (parity if the node has it, "
                                             "else geth) or 'none' (data lacks them).")] = "auto",
    confirmations: Annotated[int, typer.Option(help="Stay this many blocks below the head.")] = 0,
    rate_limit: Annotated[float | None, typer.Option(help="At most this many HTTP requests per second "
                                                          "(hosted providers' limits).")] = None,
    max_batch: Annotated[int, typer.Option(help="Largest JSON-RPC batch (it shrinks by itself when the node "
                                                "refuses one).")] = 100,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Ingest blocks, receipts, token and internal transfers from an EVM node. Resumable and reorg-safe.

    Example: chainsleuth ingest evm-rpc http://127.0.0.1:8545 --chain eth --from 0 --to 1000"""
    with open_workspace() as ws:
        summary = ws.ingest.evm_rpc(url, chain=chain, from_=from_, to=to, traces=traces,
                                    confirmations=confirmations, rate_limit=rate_limit, max_batch=max_batch)
    if json_:
        print_json(summary)
    else:
        print_kv(f"ingested {summary.chain}", list(summary.model_dump().items()))


@app.command("btc-rpc")
def btc_rpc(
    url: Annotated[str, typer.Argument(help="Bitcoin Core JSON-RPC URL (http://host:port/, user:password@ "
                                            "allowed), or replay:DIR for bitcoin-etl's recorded responses.")],
    chain: Annotated[str, typer.Option(help="btc, btc-testnet, btc-testnet4, btc-signet, btc-regtest: the "
                                            "node's network must match.")] = "btc",
    from_: Annotated[int | None, typer.Option("--from", help="First height (default: after the stored best "
                                                             "tip, else 0).")] = None,
    to: Annotated[int | None, typer.Option("--to", help="Last height (default: the node's tip minus "
                                                        "--confirmations).")] = None,
    confirmations: Annotated[int, typer.Option(help="Stay this many blocks below the node's tip.")] = 0,
    follow: Annotated[bool, typer.Option("--follow", help="Keep polling for new blocks (reorgs followed) "
                                                          "until interrupted.")] = False,
    poll: Annotated[float, typer.Option(help="Seconds between polls with --follow.")] = 10.0,
    rpc_cookie: Annotated[Path | None, typer.Option("--rpc-cookie", help="The node's .cookie file.")] = None,
    rpc_user: Annotated[str | None, typer.Option("--rpc-user", help="RPC user; the password comes from "
                                                                    "CHAINSLEUTH_RPC_PASSWORD.")] = None,
    block_format: Annotated[str, typer.Option(help="'raw' (getblock 0, our parser), 'json' (getblock 3 or 2, "
                                                   "checked field by field) or 'auto' (raw when served).")
                            ] = "auto",
    blocks_per_batch: Annotated[int, typer.Option(help="Blocks per store transaction.")] = 50,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Ingest blocks from a Bitcoin node. Resumable, reorg-safe; --follow keeps up with the chain.

    Example: chainsleuth ingest btc-rpc http://127.0.0.1:8332 --rpc-cookie ~/.bitcoin/.cookie --follow"""
    with open_workspace() as ws:
        summary = ws.ingest.btc_rpc(url, chain=chain, from_=from_, to=to, confirmations=confirmations,
                                    follow=follow, poll=poll, rpc_user=rpc_user, rpc_cookie=rpc_cookie,
                                    block_format=block_format, blocks_per_batch=blocks_per_batch)
    if json_:
        print_json(summary)
    else:
        print_kv(f"ingested {summary.chain}", list(summary.model_dump().items()))


@app.command("esplora")
def esplora(
    url: Annotated[str, typer.Argument(help="Base URL of an Esplora-compatible API, e.g. "
                                            "https://blockstream.info/api or http://127.0.0.1:3000.")],
    refs: Annotated[list[str], typer.Argument(metavar="ADDRESS|TXID...", help="Addresses (their whole history) "
                                              "and transaction ids to fetch.")],
    hops: Annotated[int, typer.Option(help="Also fetch this many hops around them: funding transactions of "
                                           "their inputs and spending transactions of their outputs.")] = 0,
    chain: Annotated[str | None, typer.Option(help="btc, btc-testnet, btc-signet, ...; default: from the API's "
                                                   "genesis block.")] = None,
    rate_limit: Annotated[float | None, typer.Option(help="At most this many requests per second (public "
                                                          "explorers limit clients).")] = None,
    parallel: Annotated[int, typer.Option(help="Requests in flight at once, within the rate limit.")] = 8,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Fetch addresses and transactions from a block explorer API (Esplora) into the workspace, with
    provenance per answer. Fetching again asks only for what is not stored.

    Example: chainsleuth ingest esplora https://blockstream.info/api 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S --hops 2"""
    with open_workspace() as ws:
        summary = ws.ingest.esplora(url, refs, hops=hops, chain=chain, rate_limit=rate_limit, parallel=parallel)
    if json_:
        print_json(summary)
    else:
        print_kv(f"ingested {summary.chain}", list(summary.model_dump().items()))


@app.command("etl")
def etl(
    path: Annotated[Path, typer.Argument(help="ethereum-etl export: a directory holding blocks, transactions, "
                                              "receipts, logs, token_transfers, traces (.csv or .json).")],
    chain: Annotated[str, typer.Option(help="Chain the export comes from.")] = "eth",
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Ingest an ethereum-etl export. Re-ingesting the same files changes nothing.

    Example: chainsleuth ingest etl ./ethereum-etl-export --chain eth"""
    with open_workspace() as ws:
        summary = ws.ingest.etl(path, chain=chain)
    if json_:
        print_json(summary)
    else:
        print_kv(f"ingested {summary.chain}", list(summary.model_dump().items()))
