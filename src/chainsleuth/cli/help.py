"""Help texts in words: what an option takes, as an investigator reads it.

Typer labels each option with its Python type (``<bool>``, ``<int range> [0<=x<=10000]``, ``<list[Path]>``).
The root command's class (:class:`WordsGroup`) relabels every parameter of the command tree before the
first parse: flags take no label, and the others read ``TEXT``, ``N``, ``NUMBER``, ``FILE``, ``DIR`` or
``PATH`` (``...`` when repeated), a choice lists its values, and a range is written ``0 to 10000`` or
``1 or more``. Required arguments appear in the usage line as ``NAME``, optional ones as ``[NAME]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from typer.core import TyperArgument, TyperGroup, TyperOption

__all__ = ["WordsGroup", "in_words"]

_WORDS = {int: "N", float: "NUMBER", str: "TEXT", bool: ""}


def _label(param: Any) -> str:
    """What ``param`` takes, in words ('' for a flag)."""
    desc = param.type_descriptor
    if desc.is_choice:
        label = "|".join(str(c) for c in desc.choices or ())
    elif desc.is_path:
        kind = desc.path_type.lower()
        label = {"file": "FILE", "directory": "DIR"}.get(kind, "PATH")
    else:
        ann = desc.annotation
        args = getattr(ann, "__args__", ())
        if desc.is_list and args:
            ann = args[0]
            if getattr(ann, "__name__", "") in ("Path", "PurePath"):
                return "PATH..."
        label = _WORDS.get(ann, "TEXT")
    if getattr(param, "is_flag", False) or desc.annotation is bool:
        return ""
    return f"{label}..." if desc.is_list or param.nargs != 1 else label


def _range(param: Any) -> str | None:
    lo, hi = getattr(param, "min", None), getattr(param, "max", None)
    if lo is None and hi is None:
        return None
    if hi is None or hi >= 2**63 - 1:   # int64's top: no limit a reader needs to know
        return f"{lo} or more"
    if lo is None:
        return f"{hi} or less"
    return f"{lo} to {hi}"


class _WordsOption(TyperOption):
    def display_type(self, ctx: Any) -> str:
        return _label(self)

    def display_type_rich(self, ctx: Any) -> str | None:
        return self.metavar if self.metavar is not None else (_label(self) or None)

    def _get_number_range_help_str(self) -> str | None:
        return _range(self)


class _WordsArgument(TyperArgument):
    def display_type(self, ctx: Any) -> str:
        return _label(self)

    def display_type_rich(self, ctx: Any) -> str | None:
        return _label(self) or None

    def _get_number_range_help_str(self) -> str | None:
        return _range(self)

    @property
    def display_name_raw(self) -> str:
        return self.metavar if self.metavar is not None else str(self.name).upper()

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        name = name if self.required else f"[{name}]"
        return f"{name}..." if self.nargs != 1 and not name.endswith("...") else name


def _commands(cmd: Any) -> Iterator[Any]:
    yield cmd
    for sub in getattr(cmd, "commands", {}).values():
        yield from _commands(sub)


def _relabel(p: Any) -> Any:
    if type(p) is TyperOption:
        p.__class__ = _WordsOption
    elif type(p) is TyperArgument:
        p.__class__ = _WordsArgument
    return p


def in_words(root: Any) -> None:
    """Relabel every parameter of ``root`` and its subcommands, ``--help`` included (idempotent)."""
    for cmd in _commands(root):
        for p in cmd.params:
            _relabel(p)
        if not getattr(cmd, "_help_in_words", False):
            made = cmd.get_help_option   # made on first use, so relabelled as it is made
            cmd.get_help_option = lambda ctx, made=made: _relabel(made(ctx)) if made(ctx) is not None else None
            cmd._help_in_words = True


class WordsGroup(TyperGroup):
    """The root command: relabels the tree (:func:`in_words`) before it parses anything."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        in_words(self)
        return super().main(*args, **kwargs)
