"""``chainsleuth ingest ...``: bring chain data into the workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chainsleuth.cli.console import print_json, print_kv
from chainsleuth.cli.context import open_workspace

__all__ = ["app"]

app = typer.Typer(help="Ingest chain data (Bitcoin blocks, EVM nodes, ETL exports).", no_args_is_help=True)


@app.command("btc-blocks")
def btc_blocks(
    paths: Annotated[list[Path], typer.Argument(help="blk*.dat files (xor.dat beside them is used), raw or hex "
                                                     "block files, or directories of them.")],
    chain: Annotated[str | None, typer.Option(help="btc, btc-testnet, btc-signet, btc-regtest; default: from "
                                                   "the file magic, else btc.")] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Skip unreadable records and report them "
                                                              "instead of stopping.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Ingest raw Bitcoin blocks. Re-ingesting the same files changes nothing."""
    with open_workspace() as ws:
        summary = ws.ingest_btc_blocks(paths, chain=chain, skip_bad=skip_bad)
    if json_:
        print_json(summary)
    else:
        print_kv(f"ingested {summary.chain}", list(summary.model_dump().items()))
