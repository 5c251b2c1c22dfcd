"""The DuckDB connection, numbered migrations, transactions, and the locks that let readers in other
processes read while one process writes.

Migrations are ``migrations/NNN_name.sql`` files applied in numeric order, each in its own transaction,
recorded in ``schema_version``. Numbers are never reused; a gap is fine.

Concurrency (see docs/architecture.md, "Reads while the chain is written"). DuckDB lets one process open
the file read-write and then no other process open it at all; any number of processes may open it
read-only together. Three small lock files beside the database (``fcntl.flock``) share it out:

- ``<db>.lock``, the writer lock: held by the writing process from its first read-write open to its
  close, also while it has the database closed in :meth:`Database.idle`. It names the process (pid and
  command words, never its options); a second writer is refused at once with that name.
- ``<db>.wait``: readers hold it shared while they wait to open; the writer, between batches, sees it
  taken (:meth:`Database.readers_waiting`) and lets them in (:meth:`Database.idle`).
- ``<db>.gate``: taken exclusively by the writer while it opens the file again, so that a stream of
  readers cannot keep it out for ever; readers hold it shared only for the moment of their open.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import duckdb

from chainsleuth.errors import Conflict, InternalError, InvalidInput, NotFound, SourceError

__all__ = ["DEFAULT_LOCK_WAIT", "Database", "WorkspaceLocks", "first_row", "migration_files"]

#: seconds a reader waits for the writer to let it in before giving up (setting ``lock_wait``)
DEFAULT_LOCK_WAIT = 30.0
#: the writer waits this many times longer for readers to close before opening the file again
WRITER_WAIT_FACTOR = 10
#: after letting readers in, the writer waits at most this long for those waiting to have opened
_LET_IN = 2.0

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


def _is_lock_conflict(e: BaseException) -> bool:
    return "lock" in str(e).lower() and ("conflicting" in str(e).lower() or "could not set" in str(e).lower())


def _command_words() -> str:
    """The command of this process, for others to read: the program and its subcommand words, up to the first
    option or argument that could carry a secret (a URL with credentials, a path, a value)."""
    words = [Path(sys.argv[0]).name if sys.argv else "python"]
    for a in sys.argv[1:3]:
        if a.startswith("-") or any(c in a for c in "/:@=\\.") or not a.replace("-", "").isalnum():
            words.append("...")
            break
        words.append(a)
    return " ".join(words)


class WorkspaceLocks:
    """The lock files of one database (see the module docstring). One per :class:`Database`; a process
    that opens the same database read-write twice shares one writer lock (counted)."""

    #: resolved writer-lock path -> [file descriptor, users] in this process
    _held: ClassVar[dict[str, list[int]]] = {}

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.writer_path = Path(str(db_path) + ".lock")
        self.wait_path = Path(str(db_path) + ".wait")
        self.gate_path = Path(str(db_path) + ".gate")
        self._writing = False

    # -- the writer lock ---------------------------------------------------------------------------
    def acquire_writer(self) -> None:
        """Take the writer lock, or raise Conflict naming the process that holds it."""
        key = str(self.writer_path.resolve())
        held = self._held.get(key)
        if held is not None:
            held[1] += 1
            self._writing = True
            return
        try:
            fd = os.open(self.writer_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise InvalidInput(f"cannot write the workspace lock file {self.writer_path}: {e.strerror or e}; the "
                               "workspace must be in a directory you can write", file=str(self.writer_path)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise Conflict(f"the workspace {self.db_path.parent} is being written by {holder}; wait for it or stop "
                           "it", file=str(self.db_path)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({_command_words()}) since {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
                  .encode(), 0)
        for side in (self.wait_path, self.gate_path):   # made now so that readers need not write the directory
            with suppress(OSError):
                os.close(os.open(side, os.O_RDWR | os.O_CREAT, 0o644))
        self._held[key] = [fd, 1]
        self._writing = True

    def release_writer(self) -> None:
        if not self._writing:
            return
        self._writing = False
        key = str(self.writer_path.resolve())
        held = self._held.get(key)
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            del self._held[key]
            try:
                os.ftruncate(held[0], 0)
            finally:
                os.close(held[0])     # closing drops the lock

    def writer(self) -> str | None:
        """Who holds the writer lock ('pid N (command)'), or None when no process does."""
        try:
            fd = os.open(self.writer_path, os.O_RDONLY)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_holder(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    # -- readers waiting, and the gate ------------------------------------------------------------------
    def _open_side(self, path: Path) -> int | None:
        try:
            return os.open(path, os.O_RDONLY)
        except OSError:
            return None      # never written by a writer of this version: nothing to coordinate with

    def readers_waiting(self) -> bool:
        """Whether a reader in another process waits to open the database (cheap: one system call)."""
        fd = self._open_side(self.wait_path)
        if fd is None:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)      # closing drops the lock taken
        return False

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Held by a reader from its first try to open until it has opened (or given up)."""
        fd = self._open_side(self.wait_path)
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            yield
        finally:
            if fd is not None:
                os.close(fd)

    def let_in(self, bound: float) -> None:
        """The writer, closed: wait (up to ``bound`` seconds) until the readers waiting have opened."""
        end = time.monotonic() + bound
        while self.readers_waiting() and time.monotonic() < end:
            time.sleep(0.005)

    @contextmanager
    def gate(self, *, exclusive: bool) -> Iterator[bool]:
        """The gate: the writer takes it exclusively (waiting) to open again; a reader tries it shared and
        gets False when the writer is at the door (then it waits and tries again)."""
        fd = self._open_side(self.gate_path)
        if fd is None:
            yield True
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    if not text:
        return "another process"
    return text.split(" since ")[0]


class Database:
    """One DuckDB file. ``read_only=True`` opens it for readers (no migrations, no writes).

    A writer takes the workspace's writer lock first (a second writer is refused at once, naming the
    first); a reader that finds the file held by the writer waits for it, up to ``lock_wait`` seconds, then
    fails naming the writer. A writer lets waiting readers in between batches with :meth:`idle`.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False, threads: int | None = None,
                 memory_limit: str | None = None, lock_wait: float = DEFAULT_LOCK_WAIT) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.lock_wait = float(lock_wait)
        if read_only and not self.path.exists():
            raise InvalidInput(f"no workspace database at {self.path}", file=str(self.path))
        #: settings applied to every connection (also the ones made again after :meth:`idle`)
        self._config: dict[str, str] = {}
        if threads:
            self._config["threads"] = str(int(threads))
        self.memory_limit = memory_limit
        if memory_limit:
            self._config["memory_limit"] = memory_limit
        #: called when the file changed while this process had it closed (caches built from it are stale)
        self.on_outside_change: list[Callable[[], None]] = []
        self.locks = WorkspaceLocks(self.path)
        if not read_only:
            self.locks.acquire_writer()
        try:
            self.con = self._connect()
        except BaseException:
            self.locks.release_writer()
            raise
        self._tx_depth = 0
        self._closed = False
        if not read_only:
            try:
                self.migrate()
            except BaseException:
                self.close()
                raise
        elif self.schema_version() == 0:   # the file of a workspace whose creation never committed
            self.close()
            raise NotFound(f"the workspace database {self.path} holds no schema (its creation was stopped before "
                           "it finished); any writing command, e.g. an ingest, creates it", file=str(self.path))

    # -- connections ------------------------------------------------------------------------------
    def _connect(self) -> duckdb.DuckDBPyConnection:
        """Open the file: a reader waits (with back-off, up to ``lock_wait`` s) while the writer holds it; the
        writer waits (up to ``WRITER_WAIT_FACTOR`` times as long) while readers hold it."""
        bound = self.lock_wait * (1 if self.read_only else WRITER_WAIT_FACTOR)
        end = time.monotonic() + bound
        pause = 0.01
        last: BaseException | None = None
        with self.locks.waiting() if self.read_only else _nothing():
            while True:
                with self.locks.gate(exclusive=not self.read_only) as open_:
                    if open_:
                        try:
                            con = duckdb.connect(str(self.path), read_only=self.read_only)
                            break
                        except duckdb.IOException as e:  # locked by another process, unreadable, ...
                            if not _is_lock_conflict(e):
                                raise Conflict(f"cannot open workspace database {self.path}: {e}",
                                               file=str(self.path)) from e
                            last = e
                if time.monotonic() >= end:
                    raise self._lock_timeout(bound, last)
                time.sleep(pause)
                pause = min(pause * 2, 0.1 if self.read_only else 0.02)
        try:
            for name, value in self._config.items():
                con.execute(f"SET {name} = ?", [value])
        except BaseException:
            con.close()
            raise
        return con

    def _lock_timeout(self, waited: float, e: BaseException | None) -> Conflict:
        if self.read_only:
            writer = self.locks.writer()
            who = (f"the workspace is being written by {writer}" if writer else
                   f"another program holds the workspace database open for writing ({e})" if e else
                   "the workspace's writer is opening it")
            return Conflict(f"{who}, and it did not let readers in within {waited:g} s; wait for it or stop it "
                            "(CHAINSLEUTH_LOCK_WAIT sets how long a reader waits)", file=str(self.path))
        return Conflict(f"readers kept the workspace database {self.path} open for more than {waited:g} s, so the "
                        f"writer could not open it again: {e}; stop the long reader (CHAINSLEUTH_LOCK_WAIT bounds "
                        f"this wait at {WRITER_WAIT_FACTOR} times its value)", file=str(self.path))

    @property
    def in_transaction(self) -> bool:
        return bool(self._tx_depth)

    def readers_waiting(self) -> bool:
        """Whether a reader in another process waits for this writer to let it in."""
        return self.locks.readers_waiting()

    @contextmanager
    def idle(self) -> Iterator[None]:
        """Close the database file for the duration (other processes may open it), then open it again.

        Only with no transaction open. The writer checkpoints first (readers see every committed batch, and
        the file holds it all) and keeps its writer lock, so no other writer gets in meanwhile; on the way
        out it waits for the readers that were waiting to have opened, closes the gate to new ones, and
        opens the file again as soon as the readers in it have closed it. If the file changed meanwhile (a
        program that ignores the writer lock), the callbacks in :attr:`on_outside_change` drop the caches
        built from it."""
        if self._tx_depth:
            raise InternalError("the store cannot be released inside a transaction")
        if not self.read_only:
            self.checkpoint()
        self.con.close()
        before = self._fingerprint()
        try:
            yield
        finally:
            if not self.read_only:
                self.locks.let_in(_LET_IN)
            changed = self._fingerprint() != before
            self.con = self._connect()
            if changed:
                for forget in self.on_outside_change:
                    forget()

    def _fingerprint(self) -> tuple[int, ...]:
        try:
            st = self.path.stat()
        except OSError:
            return (-1,)
        return (st.st_ino, st.st_size, st.st_mtime_ns, int(Path(str(self.path) + ".wal").exists()))

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
        self._set("checkpoint_threshold", f"{int(threshold_bytes)}B")
        if not self.memory_limit:
            self._set("memory_limit", cache)
        try:
            yield
        finally:
            self._set("checkpoint_threshold", before, keep=False)
            if not self.memory_limit and limit:
                self._set("memory_limit", limit, keep=False)
            self.checkpoint()

    def _set(self, name: str, value: str, *, keep: bool = True) -> None:
        """A DuckDB setting for this connection and, with ``keep``, the ones made after :meth:`idle`."""
        self.con.execute(f"SET {name} = ?", [value])
        if keep:
            self._config[name] = value
        else:
            self._config.pop(name, None)

    def one(self, sql: str, params: list[Any] | None = None) -> tuple[Any, ...] | None:
        """First row or None (see :func:`first_row`)."""
        return first_row(self.con.execute(sql, params or []))

    def all(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    def close(self) -> None:
        if getattr(self, "_closed", True):
            return
        self._closed = True
        try:
            self.con.close()
        finally:
            self.locks.release_writer()


@contextmanager
def _nothing() -> Iterator[None]:
    yield
