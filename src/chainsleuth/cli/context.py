"""Per-invocation state (settings, progress) set by the root callback, and the workspace opener."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chainsleuth.cli.console import RichProgress
from chainsleuth.config import Settings, load_settings
from chainsleuth.errors import InvalidInput, NotFound

if TYPE_CHECKING:   # the workspace (DuckDB, Arrow, numpy) loads only when a command opens one
    from chainsleuth.workspace import Workspace

__all__ = ["open_workspace", "state"]


@dataclass
class _State:
    settings: Settings | None = None
    progress: RichProgress | None = None


state = _State()


@contextmanager
def open_workspace(*, read_only: bool = False) -> Iterator[Workspace]:
    settings = state.settings or load_settings()
    if read_only and settings.esplora_url:   # on-demand lookups store what they fetch
        read_only = False
    if settings.workspace.exists() and not settings.workspace.is_dir():
        raise InvalidInput(f"the workspace {settings.workspace} is a file; a workspace is a directory (pass "
                           "--workspace DIR)", file=str(settings.workspace))
    if read_only and not (settings.workspace / "chainsleuth.duckdb").exists():
        raise NotFound(f"no workspace at {settings.workspace}; ingest something first "
                       "(e.g. 'chainsleuth ingest btc-blocks PATH') or pass --workspace", file=str(settings.workspace))
    from chainsleuth.workspace import Workspace

    ws = Workspace(settings.workspace, settings=settings, progress=state.progress or RichProgress(False),
                   read_only=read_only)
    try:
        yield ws
    finally:
        ws.close()
