"""The workspace's store, opened on first use (read-only for queries) and closed by the workspace."""

from __future__ import annotations

from pathlib import Path

from chainsleuth.config import Settings
from chainsleuth.errors import InvalidInput
from chainsleuth.store import DB_FILENAME, Store

__all__ = ["StoreOpener"]


class StoreOpener:
    """Calling it gives the store of the workspace at ``path``, opening it the first time.

    Services are handed the opener, not an open store, so that a command which never touches chain data
    (a training brief, a generated world) creates no database file.
    """

    def __init__(self, path: Path, settings: Settings, *, read_only: bool) -> None:
        self.path = path
        self.read_only = read_only
        self._settings = settings
        self._store: Store | None = None

    def __call__(self) -> Store:
        if self._store is None:
            if not self.read_only:
                try:
                    self.path.mkdir(parents=True, exist_ok=True)
                except OSError as e:
                    raise InvalidInput(f"cannot create the workspace directory {self.path}: {e.strerror or e}; pass "
                                       "--workspace DIR with a directory you can write", file=str(self.path),
                                       field="--workspace") from None
            self._store = Store(self.path / DB_FILENAME, read_only=self.read_only, threads=self._settings.threads,
                                memory_limit=self._settings.memory_limit, lock_wait=self._settings.lock_wait)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
