"""Rendering and progress for the terminal: the Rich progress bar and the JSON/table printers.

**Output escaping.** Every string that comes from data (tag labels, sources, creators, categories, entity
names, pack names, addresses, file names, error values) goes through :func:`safe` before it reaches Rich: the
data is stored verbatim (it is evidence), and made harmless where it is shown. JSON output needs nothing (the
encoder escapes control characters).
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape as _markup_escape
from rich.table import Table

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["RichProgress", "amount", "coin", "err_console", "out_console", "print_json", "print_kv", "safe",
           "set_base_units", "to_jsonable"]

# Piped into a file or another program, Rich would assume 80 columns and cut addresses and amounts in tables;
# there, lay tables out 250 wide, room for an address and a cited coin whole (COLUMNS still wins when set).
_PIPE_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 250
out_console = Console(highlight=False, soft_wrap=True, width=_PIPE_WIDTH)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


_BASE_UNITS = [False]   # --base-units: amounts on the terminal in satoshi / wei instead of whole coins

#: base unit and decimals of each native coin the terminal prints
_NATIVE = {"BTC": ("sat", 8), "ETH": ("wei", 18)}
_UNIT_DECIMALS = {"sat": 8, "wei": 18}


def set_base_units(on: bool) -> None:
    _BASE_UNITS[0] = on


def amount(value: int | None, asset: str = "BTC", unit: str | None = None, decimals: int | None = None) -> str:
    """An exact integer amount as people read it, with its unit always printed: whole coins with thousands
    separators (``10.00000000 BTC``; 18-decimal coins drop trailing zeros down to 8 places), or with
    ``--base-units`` the base unit (``1,000,000,000 sat``). Tokens of unknown decimals print in base units.
    JSON output is not affected: it always carries integers in base units.

    >>> amount(1_000_000_000), amount(123_456, "BTC"), amount(None)
    ('10.00000000 BTC', '0.00123456 BTC', '-')
    >>> amount(30 * 10**18, "ETH"), amount(1, "ETH"), amount(-5_000_000_000)
    ('30.00000000 ETH', '0.000000000000000001 ETH', '-50.00000000 BTC')
    >>> amount(1_500, "0xdAC17F958D2ee523a2206206994597C13D831ec7", "base unit", None)
    '1,500 base units of 0xdAC17F958D2ee523a2206206994597C13D831ec7'
    """
    if value is None:
        return "-"
    base, dec = _NATIVE.get(asset, (unit or "base unit", decimals))
    if unit is not None:
        base = unit
    if decimals is not None:
        dec = decimals
    elif unit in _UNIT_DECIMALS:         # a native coin of another network (rBTC, tBTC, ...)
        dec = _UNIT_DECIMALS[unit]
    if dec is None or _BASE_UNITS[0]:
        return f"{value:,} {base}s of {asset}" if base == "base unit" else f"{value:,} {base}"
    sign, v = ("-" if value < 0 else ""), abs(int(value))
    whole, frac = divmod(v, 10 ** dec)
    digits = f"{frac:0{dec}d}" if dec else ""
    if dec > 8:
        digits = digits.rstrip("0").ljust(8, "0")
    return f"{sign}{whole:,}" + (f".{digits}" if digits else "") + f" {asset}"


#: C0 and C1 control characters (ESC starts terminal escape sequences: clear screen, retitle the window,
#: OSC 8 hyperlinks) and the Unicode bidirectional controls that reorder what a line appears to say
#: (U+202A-202E embeddings and overrides, U+2066-2069 isolates, U+200E/200F/061C marks).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEP_NL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(m: re.Match[str]) -> str:
    o = ord(m.group())
    return f"\\x{o:02x}" if o < 0x100 else f"<U+{o:04X}>"


def safe(value: Any, *, newlines: bool = False, markup: bool = True) -> str:
    """Data-derived text ready for Rich: control and bidi characters as visible escapes (``\\x1b``,
    ``<U+202E>``), Rich markup escaped (``[link=...]`` prints as written). Print the result with markup on
    (Rich's default) or put it in a table cell, where the escapes are consumed. ``newlines`` keeps line
    breaks (multi-line table cells); otherwise they are shown as ``\\x0a`` too, so a value cannot forge
    another line of output. ``markup=False`` leaves markup to be escaped later, for text composed into a
    value that :func:`print_kv` prints (it escapes its values; escaping twice would show the backslashes).

    >>> safe("\\x1b[2J[link=https://evil.example]click[/link] \\u202eexe.txt")
    '\\\\x1b[2J\\\\[link=https://evil.example]click\\\\[/link] <U+202E>exe.txt'
    """
    text = "" if value is None else str(value)
    text = (_UNSAFE_KEEP_NL if newlines else _UNSAFE).sub(_visible, text)
    return _markup_escape(text) if markup else text


def coin(value: int | None, chain: str, asset: str | None = None) -> str:
    """An amount of ``chain``'s native coin (``asset`` None, ``""`` or ``"native"``) or of token ``asset``,
    through :func:`amount` in the unit :func:`chainsleuth.core.units.unit_of` gives it.

    >>> coin(1_000_000_000, "btc"), coin(None, "eth")
    ('10.00000000 BTC', '-')
    """
    from chainsleuth.core.units import unit_of

    u = unit_of(chain, None if asset in (None, "", "native") else asset)
    return amount(value, u["asset"], u["unit"], u.get("decimals"))


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
    t = Table(title=safe(title), show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(overflow="fold")   # hashes and addresses wrap, never cut to an ellipsis
    for k, v in rows:   # values may hold data: made safe here, once (callers pass plain text)
        t.add_row(safe(k), safe(_cell(v), newlines=True))
    out_console.print(t)


def _cell(v: Any) -> str:
    """A value as a reader writes it, not as Python prints it: lists one item a line ('none' when empty),
    mappings as 'key: value' lines, None as '-', booleans as yes/no, integers with thousands separators."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, (list, tuple, set, frozenset)):
        return "\n".join(_cell(x) for x in v) if v else "none"
    if isinstance(v, dict):
        return "\n".join(f"{k}: {_cell(x)}" for k, x in v.items()) if v else "none"
    return str(v)


class RichProgress:
    """The Progress protocol on stderr: a Rich bar with the total, rate and time left on a terminal; when
    stderr is piped (a log file, a scheduler), a plain line every ``interval`` seconds with the same figures,
    so that a long job is seen to move (a job shorter than ``interval`` prints nothing). ``enabled``: None
    picks by the terminal, True always draws the bar, False is silent."""

    def __init__(self, enabled: bool | None = None, *, interval: float = 5.0) -> None:
        self.mode = ("bar" if err_console.is_terminal else "lines") if enabled is None else (
            "bar" if enabled else "off")
        self.enabled = self.mode != "off"
        self.interval = interval
        self._p: Progress | None = None
        self._task: TaskID | None = None
        self._line: _Lines | None = None
        self.notes: list[str] = []

    def start(self, task: str, total: float | None = None, unit: str = "") -> None:
        self.finish()
        if self.mode == "lines":
            self._line = _Lines(task, total, unit, self.interval)
            return
        if self.mode != "bar":
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        cols: list[Any] = [TextColumn("[bold]{task.description}"), BarColumn()]
        cols += [DownloadColumn(), TransferSpeedColumn()] if unit == "B" else [
            MofNCompleteColumn(), TextColumn(unit)]
        cols += [TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(), TextColumn("{task.fields[info]}")]
        self._p = Progress(*cols, console=err_console, transient=False)
        self._p.start()
        self._task = self._p.add_task(safe(task), total=total, info="")

    def advance(self, amount: float = 1, **info: object) -> None:
        text = "  ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in info.items())
        if self._p is not None and self._task is not None:
            self._p.update(self._task, advance=amount, info=safe(text))
        elif self._line is not None:
            self._line.advance(amount, text)

    def note(self, message: str) -> None:
        self.notes.append(message)
        if self.enabled:
            err_console.print(f"[yellow]note:[/] {safe(message)}")

    def finish(self) -> None:
        if self._p is not None:
            self._p.stop()
        if self._line is not None:
            self._line.finish()
        self._p = None
        self._task = None
        self._line = None


def _quantity(v: float, unit: str) -> str:
    if unit == "B":
        return f"{v / 1e6:,.1f} MB"
    return f"{v:,.0f} {unit}".rstrip()


def _duration(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class _Lines:
    """Progress as plain lines for a pipe: done of total (percent), rate, elapsed and time left."""

    def __init__(self, task: str, total: float | None, unit: str, interval: float) -> None:
        import time

        self._clock = time.monotonic
        self.task, self.total, self.unit, self.interval = task, total, unit, interval
        self.t0 = self.last = self._clock()
        self.done = 0.0
        self.info = ""
        self.printed = False

    def advance(self, amount: float, info: str) -> None:
        self.done += amount
        self.info = info or self.info
        now = self._clock()
        if now - self.last >= self.interval:
            self.last = now
            self._print(now)

    def _print(self, now: float, final: bool = False) -> None:
        elapsed = max(now - self.t0, 1e-9)
        rate = self.done / elapsed
        parts = [_quantity(self.done, self.unit)]
        if self.total:
            parts[0] += f" of {_quantity(self.total, self.unit)} ({100 * self.done / self.total:.0f}%)"
        parts.append(f"{_quantity(rate, self.unit)}/s")
        parts.append(f"{_duration(elapsed)} elapsed")
        if self.total and not final and rate > 0:
            parts.append(f"about {_duration(max(self.total - self.done, 0) / rate)} left")
        line = f"{self.task}: {'done, ' if final else ''}{', '.join(parts)}" + (f"  {self.info}" if self.info else "")
        err_console.print(safe(line, markup=False), markup=False, highlight=False, soft_wrap=True)
        self.printed = True

    def finish(self) -> None:
        if self.printed:   # a job that said it was moving also says it ended
            self._print(self._clock(), final=True)
