"""``chainsleuth [--workspace PATH] COMMAND``: the entry point and the one error handler."""

from __future__ import annotations

import dataclasses
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

import chainsleuth
from chainsleuth.cli import cluster as cluster_cmds
from chainsleuth.cli import demo as demo_cmds
from chainsleuth.cli import eval as eval_cmds
from chainsleuth.cli import ingest as ingest_cmds
from chainsleuth.cli import show as show_cmds
from chainsleuth.cli import tags as tags_cmds
from chainsleuth.cli import trace as trace_cmds
from chainsleuth.cli import train as train_cmds
from chainsleuth.cli.console import (
    RichProgress,
    coin,
    err_console,
    print_json,
    print_kv,
    safe,
    set_base_units,
)
from chainsleuth.cli.context import open_workspace, state
from chainsleuth.cli.help import WordsGroup
from chainsleuth.config import load_settings
from chainsleuth.errors import ChainsleuthError, InvalidInput

__all__ = ["app", "main"]

app = typer.Typer(
    name="chainsleuth",
    help="Open-source workbench for crypto investigators: ingest, cluster, attribute, trace, report, train.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=WordsGroup,
)
app.add_typer(ingest_cmds.app, name="ingest")
app.add_typer(show_cmds.app, name="show")
app.command("cluster")(cluster_cmds.cluster)
app.add_typer(eval_cmds.app, name="eval")
app.add_typer(trace_cmds.app, name="trace")
app.command("path")(trace_cmds.path)
app.command("demo")(demo_cmds.demo)
app.add_typer(tags_cmds.app, name="tags")
app.command("screen")(tags_cmds.screen)
app.add_typer(train_cmds.app, name="train")


def _version(value: bool) -> None:
    if value:
        print(f"chainsleuth {chainsleuth.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    workspace: Annotated[Path | None, typer.Option("--workspace", "-w", help="Workspace directory "
                         "(default ./chainsleuth-workspace or $CHAINSLEUTH_WORKSPACE).")] = None,
    progress: Annotated[str | None, typer.Option(help="Progress bar: auto, always or never.")] = None,
    base_units: Annotated[bool, typer.Option("--base-units", help="Print amounts in base units (satoshi, wei) "
                                             "instead of whole coins. JSON always carries base units.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    esplora: Annotated[str | None, typer.Option("--esplora", metavar="URL", help="Esplora API (e.g. "
                       "https://blockstream.info/api): show and trace fetch what the workspace lacks from it "
                       "(default $CHAINSLEUTH_ESPLORA_URL).")] = None,
) -> None:
    set_base_units(base_units)
    settings = load_settings(workspace)
    if esplora:
        settings = dataclasses.replace(settings, esplora_url=esplora)
    state.settings = settings
    mode = progress or settings.progress
    if mode not in ("auto", "always", "never"):
        raise InvalidInput(f"unknown progress mode {mode!r}; choose auto, always or never",
                           field="--progress" if progress else "CHAINSLEUTH_PROGRESS", value=mode)
    state.progress = RichProgress(None if mode == "auto" else mode == "always", interval=settings.progress_interval)


@app.command()
def stats(json_: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False) -> None:
    """What the workspace holds: blocks, transactions, addresses per chain.

    Example: chainsleuth stats --json"""
    with open_workspace(read_only=True) as ws:
        result = ws.queries.stats()
    if json_:
        print_json(result)
        return
    print_kv("workspace", [("schema version", result.schema_version), ("chains", len(result.chains))])
    for chain, s in result.chains.items():
        print_kv(chain, _chain_stats(chain, s))


def _chain_stats(chain: str, s: dict[str, object]) -> list[tuple[str, object]]:
    """A chain's figures as a reader wants them: heights covered as ranges with their gaps, the time span in
    UTC, amounts in the coin; the rest as they come (names with spaces)."""
    from datetime import UTC, datetime

    def when(t: object) -> str:
        return "-" if not isinstance(t, int) else datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    cov = s.get("coverage") if isinstance(s.get("coverage"), dict) else {}
    assert isinstance(cov, dict)
    spans = ", ".join(f"{lo:,}-{hi:,}" for lo, hi in cov.get("ranges", [])) or "none"
    gaps = cov.get("gaps") or []
    rows: list[tuple[str, object]] = []
    for k, v in s.items():
        if k in ("asset", "unit", "decimals", "min_height", "max_height"):
            continue
        if k == "coverage":
            rows.append(("heights", spans + (f" (gaps: {', '.join(f'{a:,}-{b:,}' for a, b in gaps)})" if gaps else "")))
            rows.append(("time span", f"{when(cov.get('first_time'))} to {when(cov.get('last_time'))}"))
            if cov.get("blocks_without_height"):
                rows.append(("blocks without height", cov["blocks_without_height"]))
        elif k == "unspent_value" and isinstance(v, int):
            rows.append(("unspent value", coin(v, chain)))
        else:
            rows.append((k.replace("_", " "), v))
    return rows


#: the signal that stopped this run (SIGINT, SIGTERM), once one has arrived
_stopped_by: list[int] = []
INTERRUPTED = "interrupted; the workspace is consistent; run the same command to resume"


def _on_signal(signum: int, frame: object) -> None:
    """SIGINT/SIGTERM: unwind from where the program is, so that the open batch's transaction rolls back and
    the run's record is finished, then exit 128 + the signal number. Further signals wait for that."""
    if _stopped_by:
        return
    _stopped_by.append(signum)
    raise SystemExit(128 + signum)


def _interrupted() -> None:
    signum = _stopped_by[0]
    err_console.print(f"{INTERRUPTED} (stopped by {signal.Signals(signum).name})", markup=False)
    sys.exit(128 + signum)


def main() -> None:
    """Run the CLI; turn every ChainsleuthError into a message on stderr and its exit code; SIGINT and
    SIGTERM end it with 130 / 143 after the open transaction rolled back."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)
    try:
        _run()
    except SystemExit:
        if _stopped_by:
            _interrupted()
        raise
    except BaseException:
        if _stopped_by:       # whatever the signal broke on its way out (DuckDB's own interrupt error, ...)
            _interrupted()
        raise


def _run() -> None:
    try:
        app()  # standalone: Typer prints usage errors itself and exits 2
    except ChainsleuthError as e:
        err_console.print(f"[bold red]error:[/] {safe(e.message, newlines=True)}")   # messages quote values from files
        for k, v in e.details.items():
            err_console.print(f"  {safe(k)}: {safe(v)}")
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        err_console.print(INTERRUPTED, markup=False)
        sys.exit(130)
    except Exception as e:  # a bug: say so plainly, keep the traceback for the report
        if _stopped_by:
            raise
        import traceback

        err_console.print(f"[bold red]internal error:[/] {safe(type(e).__name__)}: {safe(e)}")
        err_console.print("please report this with the traceback below", markup=False)
        err_console.print(traceback.format_exc(), markup=False)
        sys.exit(70)


if __name__ == "__main__":  # pragma: no cover
    main()
