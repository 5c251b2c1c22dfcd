"""The workspace's state and lifecycle, shared by every capability's part of the facade."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from chainsleuth.config import Settings, load_settings
from chainsleuth.core.progress import NullProgress, Progress
from chainsleuth.store import DB_FILENAME, Store

__all__ = ["WorkspaceBase"]


class WorkspaceBase:
    """Settings, the injected progress, and the store, opened lazily (read-only for queries)."""

    def __init__(self, path: str | Path | None = None, *, settings: Settings | None = None,
                 progress: Progress | None = None, read_only: bool = False) -> None:
        self.settings = settings or load_settings(path)
        self.path = Path(path) if path is not None else self.settings.workspace
        self.progress: Progress = progress or NullProgress()
        self.read_only = read_only
        self._store: Store | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        if self._store is None:
            if not self.read_only:
                self.path.mkdir(parents=True, exist_ok=True)
            self._store = Store(self.path / DB_FILENAME, read_only=self.read_only, threads=self.settings.threads,
                                memory_limit=self.settings.memory_limit)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
