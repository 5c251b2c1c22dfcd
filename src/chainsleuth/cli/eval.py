"""``chainsleuth eval clustering``: measured error rates of the clustering heuristics on generated worlds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chainsleuth.cli.console import out_console, print_json
from chainsleuth.cli.context import open_workspace

__all__ = ["app"]

app = typer.Typer(help="Measure heuristics against ground truth.", no_args_is_help=True)


@app.command()
def clustering(
    seeds: Annotated[str, typer.Option(help="Comma-separated world seeds.")] = "1,2,3",
    typology: Annotated[str | None, typer.Option(
        help="Training typology, or 'all' for every registered one (default: the first registered).")] = None,
    difficulty: Annotated[int, typer.Option(help="Training difficulty.")] = 1,
    size: Annotated[int | None, typer.Option(help="World size (default: the training default).")] = None,
    cards: Annotated[Path | None, typer.Option(help="Write heuristic cards (Markdown) into this directory, "
                                               "e.g. docs/heuristics.")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Cluster generated worlds with each heuristic set and score against the answer key.

    Example: chainsleuth eval clustering --seeds 1,2,3 --typology all"""
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise typer.BadParameter(f"seeds must be integers separated by commas, got {seeds!r}") from None
    with open_workspace() as ws:
        r = ws.evaluation.clustering(seeds=seed_list, typology=typology, difficulty=difficulty, size=size,
                                     cards_dir=cards)
    if json_:
        print_json(r)
        return
    out_console.print(r["provenance"])
    out_console.print(f"{'heuristic set':<38} {'pair prec':>9} {'pair rec':>9} {'clus prec':>9} {'clus rec':>9}")
    for label, s in r["results"]["sets"].items():
        p, c = s["pairwise"], s["cluster"]
        out_console.print(f"{label:<38} {p['precision']:>9.4f} {p['recall']:>9.4f} {c['precision']:>9.4f} "
                          f"{c['recall']:>9.4f}")
    for ty, c in r["results"]["coinjoin"].items():
        pr = "n/a" if c["precision"] is None else f"{c['precision']:.3f}"
        rc = "n/a" if c["recall"] is None else f"{c['recall']:.3f}"
        out_console.print(f"CoinJoin {ty:<12} precision {pr:>6}  recall {rc:>6}  (tp {c['tp']}, fp {c['fp']}, fn {c['fn']})")
    for path in r["cards"]:
        out_console.print(f"wrote {path}")
