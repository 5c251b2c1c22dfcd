"""The DuckDB connection, numbered migrations and transactions.

Migrations are ``migrations/NNN_name.sql`` files applied in numeric order, each in its own transaction,
recorded in ``schema_version``. Numbers are never reused; a gap is fine.
"""

from __future__ import annotations

import errno
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from chainsleuth.errors import Conflict, InternalError, InvalidInput, NotFound, SourceError

__all__ = ["Database", "first_row", "migration_files"]

_MIGRATION_RE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


def first_row(cursor: Any) -> Any:
    """First row of an executed statement, or None. Always drains the result (DuckDB 2 refuses new work on a
    connection whose last result is unfinished)."""
    rows = cursor.fetchall()
    return rows[0] if rows else None


def migration_files() -> list[tuple[int, str, str]]:
    """(number, name, sql) of every packaged migration, in order."""
    out: list[tuple[int, str, str]] = []
    for entry in resources.files("chainsleuth.store.migrations").iterdir():
        m = _MIGRATION_RE.match(entry.name)
        if m:
            out.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    out.sort()
    numbers = [n for n, _, _ in out]
    if len(numbers) != len(set(numbers)):
        raise InternalError("two migrations share a number", numbers=numbers)
    return out


class Database:
    """One DuckDB file. ``read_only=True`` opens it for readers (no migrations, no writes)."""

    def __init__(self, path: str | Path, *, read_only: bool = False, threads: int | None = None,
                 memory_limit: str | None = None) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise InvalidInput(f"no workspace database at {self.path}", file=str(self.path))
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as e:  # locked by another process, unreadable, ...
            raise Conflict(f"cannot open workspace database {self.path}: {e}", file=str(self.path)) from e
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self.memory_limit = memory_limit
        if memory_limit:
            self.con.execute("SET memory_limit = ?", [memory_limit])
        self._tx_depth = 0
        if not read_only:
            self.migrate()
        elif self.schema_version() == 0:   # the file of a workspace whose creation never committed
            self.con.close()
            raise NotFound(f"the workspace database {self.path} holds no schema (its creation was stopped before "
                           "it finished); any writing command, e.g. an ingest, creates it", file=str(self.path))

    # -- schema ---------------------------------------------------------------------------------
    def schema_version(self) -> int:
        exists = self.one("SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'")
        if not exists or not exists[0]:
            return 0
        row = self.one("SELECT coalesce(max(version), 0) FROM schema_version")
        return int(row[0]) if row else 0

    def migrate(self) -> list[int]:
        """Apply every migration newer than the stored version, all in one transaction, and checkpoint them
        into the database file; return the numbers applied.

        One transaction: a process killed while a workspace is created (or upgraded) leaves either the whole
        schema or none of it, never a database whose readers find half the tables."""
        done: list[int] = []
        with self.transaction():
            self.con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                "applied_at TIMESTAMP DEFAULT current_timestamp)"
            )
            applied = {int(r[0]) for r in self.con.execute("SELECT version FROM schema_version").fetchall()}
            for number, name, sql in migration_files():
                if number in applied:
                    continue
                self.con.execute(sql)
                self.con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [number, name])
                done.append(number)
        if done:
            self.checkpoint()
        return done

    def checkpoint(self) -> None:
        """Write the log into the database file (a full disk is a clear error, see :meth:`transaction`)."""
        try:
            self.con.execute("CHECKPOINT")
        except (duckdb.Error, OSError) as e:
            self._raise_if_disk_full(e)
            raise

    def _raise_if_disk_full(self, e: BaseException) -> None:
        """A write that failed for lack of space becomes SourceError naming the workspace and the free space."""
        text = str(e)
        if not (getattr(e, "errno", None) == errno.ENOSPC or "No space left on device" in text
                or "out of disk space" in text.lower() or "disk is full" in text.lower()):
            return
        where = self.path.parent
        try:
            free = shutil.disk_usage(where).free
        except OSError:
            free = -1
        wal = Path(str(self.path) + ".wal")
        pending = wal.stat().st_size if wal.exists() else 0
        raise SourceError(
            f"the disk holding the workspace {where} is full: {free / 1e6:,.1f} MB free, and the write in progress "
            f"needed more (the database is {self._size() / 1e6:,.1f} MB, {pending / 1e6:,.1f} MB of it waiting in "
            "the log); the last batch was not written. Free some space (a bulk ingest needs about 3 times the "
            "size of its input) or move the workspace, then run the same command to resume",
            file=str(where), free_bytes=free) from None

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    # -- transactions ---------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing. Nested use joins the outer transaction."""
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield self.con
            finally:
                self._tx_depth -= 1
            return
        self.con.execute("BEGIN TRANSACTION")
        self._tx_depth = 1
        try:
            yield self.con
        except BaseException as e:
            self._tx_depth = 0
            try:
                self.con.execute("ROLLBACK")
            except duckdb.Error:
                if not isinstance(e, (duckdb.Error, OSError)):
                    raise
            if isinstance(e, (duckdb.Error, OSError)):
                self._raise_if_disk_full(e)
            raise
        else:
            self._tx_depth = 0
            try:
                self.con.execute("COMMIT")
            except (duckdb.Error, OSError) as e:
                self._raise_if_disk_full(e)
                raise

    def execute(self, sql: str, params: list[Any] | None = None) -> duckdb.DuckDBPyConnection:
        return self.con.execute(sql, params or [])

    @contextmanager
    def deferred_checkpoint(self, threshold_bytes: int = 64 << 20, cache: str = "256MB") -> Iterator[None]:
        """A bulk load (many batches in a row): let the write-ahead log grow to ``threshold_bytes`` instead of
        checkpointing the database after every batch, and checkpoint at the end. Each batch still commits,
        durably, on its own; after a crash DuckDB replays the log on the next open. The bound matters: the
        rows written since the last checkpoint stay in memory (about as much again as the log holds).

        Unless the workspace's ``memory_limit`` setting says otherwise, DuckDB's memory is bounded to
        ``cache`` for the load: it otherwise keeps the pages it wrote cached, as much as it is allowed (most
        of the machine's memory), so that a long load's memory would grow with the store."""
        row = self.one("SELECT current_setting('checkpoint_threshold'), current_setting('memory_limit')")
        before, limit = (str(row[0]), str(row[1])) if row else ("16MiB", "")
        self.con.execute(f"SET checkpoint_threshold = '{int(threshold_bytes)}B'")
        if not self.memory_limit:
            self.con.execute("SET memory_limit = ?", [cache])
        try:
            yield
        finally:
            self.con.execute("SET checkpoint_threshold = ?", [before])
            if not self.memory_limit and limit:
                self.con.execute("SET memory_limit = ?", [limit])
            self.checkpoint()

    def one(self, sql: str, params: list[Any] | None = None) -> tuple[Any, ...] | None:
        """First row or None (see :func:`first_row`)."""
        return first_row(self.con.execute(sql, params or []))

    def all(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    def close(self) -> None:
        self.con.close()
