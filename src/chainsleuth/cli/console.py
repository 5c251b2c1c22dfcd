"""Rendering and progress for the terminal: the Rich progress bar and the JSON/table printers."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["RichProgress", "err_console", "out_console", "print_json", "print_kv", "to_jsonable"]

# Piped into a file or another program, Rich would assume 80 columns and cut addresses and amounts in tables;
# there, lay tables out 160 wide (COLUMNS still wins when set).
_PIPE_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
out_console = Console(highlight=False, soft_wrap=True, width=_PIPE_WIDTH)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def to_jsonable(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):          # a pydantic model (pydantic is imported only where models are)
        return obj.model_dump(mode="json")
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    return obj


def print_json(obj: Any) -> None:
    """Exactly one JSON document on stdout. Ints stay ints (no float conversion of amounts)."""
    sys.stdout.write(json.dumps(to_jsonable(obj), ensure_ascii=False, indent=2))
    sys.stdout.write("\n")
    sys.stdout.flush()


def print_kv(title: str, rows: list[tuple[str, Any]]) -> None:
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(overflow="fold")   # hashes and addresses wrap, never cut to an ellipsis
    for k, v in rows:
        t.add_row(k, "" if v is None else str(v))
    out_console.print(t)


class RichProgress:
    """The Progress protocol as a Rich bar on stderr, with rate and ETA. Silent when disabled."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = err_console.is_terminal if enabled is None else enabled
        self._p: Progress | None = None
        self._task: TaskID | None = None
        self.notes: list[str] = []

    def start(self, task: str, total: float | None = None, unit: str = "") -> None:
        self.finish()
        if not self.enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        cols: list[Any] = [TextColumn("[bold]{task.description}"), BarColumn()]
        cols += [TransferSpeedColumn()] if unit == "B" else [MofNCompleteColumn()]
        cols += [TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}")]
        self._p = Progress(*cols, console=err_console, transient=False)
        self._p.start()
        self._task = self._p.add_task(task, total=total, info="")

    def advance(self, amount: float = 1, **info: object) -> None:
        if self._p is not None and self._task is not None:
            text = "  ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in info.items())
            self._p.update(self._task, advance=amount, info=text)

    def note(self, message: str) -> None:
        self.notes.append(message)
        if self.enabled:
            err_console.print(f"[yellow]note:[/] {message}")

    def finish(self) -> None:
        if self._p is not None:
            self._p.stop()
        self._p = None
        self._task = None
