"""L1: the only package that speaks SQL or imports duckdb.

``Store`` is a facade of small per-table parts; each part owns its SQL. Writers run each batch in one
transaction; readers never write.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chainsleuth.store.db import DEFAULT_LOCK_WAIT, Database
from chainsleuth.store.lookups import KeyLookups
from chainsleuth.store.runs import RunStore

__all__ = ["DB_FILENAME", "Store"]

DB_FILENAME = "chainsleuth.duckdb"


class Store:
    """All the parts of one workspace database."""

    def __init__(self, path: str | Path, *, read_only: bool = False, threads: int | None = None,
                 memory_limit: str | None = None, lock_wait: float = DEFAULT_LOCK_WAIT) -> None:
        self.db = Database(path, read_only=read_only, threads=threads, memory_limit=memory_limit,
                           lock_wait=lock_wait)
        self._last_idle = time.monotonic()
        self.runs = RunStore(self.db)
        if not read_only:
            self.runs.mark_killed()
        self.keys = KeyLookups(self.db)
        # Parts register below; each owns its tables and SQL.
        from chainsleuth.store.utxo import UtxoStore

        self.utxo = UtxoStore(self.db)
        from chainsleuth.store.account import AccountStore

        self.account = AccountStore(self.db)
        from chainsleuth.store.tags import TagStore

        self.tags = TagStore(self.db)
        from chainsleuth.store.clusters import ClusterStore

        self.clusters = ClusterStore(self.db)
        from chainsleuth.store.graph import GraphStore

        self.graph = GraphStore(self.db)
        from chainsleuth.store.fetched import FetchedStore

        self.fetched = FetchedStore(self.db)

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Many batches in a row (an ingest run): checkpoints deferred and DuckDB's cache bounded (see
        :meth:`Database.deferred_checkpoint`), and the lookup key tables sorted again at the end when the
        run appended much to them."""
        with self.db.deferred_checkpoint():
            try:
                yield
            finally:
                self.keys.compact()

    @contextmanager
    def idle(self) -> Iterator[None]:
        """The database file closed for the duration, so that readers in other processes can open it (a
        writer between polls or batches; no transaction may be open). On leaving, the file is opened again
        (waiting, bounded, for the readers in it to close it) and the writer's in-memory state is checked to
        be still valid (dropped and rebuilt when the file changed meanwhile). The writer lock stays held
        throughout: no other writer gets in. See :meth:`Database.idle`."""
        with self.db.idle():
            yield
        self._last_idle = time.monotonic()

    def yield_to_readers(self, *, every: float = 1.0) -> bool:
        """Between batches of a long write: when a reader in another process waits, let it in (:meth:`idle`),
        at most once every ``every`` seconds. Returns whether it did. Costs one system call when no reader
        waits; a no-op inside a transaction or on a read-only store."""
        if self.db.read_only or self.db.in_transaction or time.monotonic() - self._last_idle < every:
            return False
        if not self.db.readers_waiting():
            return False
        with self.idle():
            pass
        return True

    def schema_version(self) -> int:
        return self.db.schema_version()

    def close(self) -> None:
        self.db.close()
