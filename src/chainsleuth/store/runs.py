"""Ingest runs: the provenance record of every ingest."""

from __future__ import annotations

import builtins
import time

from chainsleuth.core.provenance import IngestRun
from chainsleuth.store.db import Database

__all__ = ["KILLED_NOTE", "POW_UNCHECKED_NOTE", "RunStore"]

#: the note a Bitcoin ingest run carries when it accepted blocks without checking their proof of work
POW_UNCHECKED_NOTE = "proof of work not checked (--allow-invalid-pow)"


#: the note a run gets when it is found unfinished on a later open (its process was killed)
KILLED_NOTE = ("killed: its process ended before the run finished (found when the workspace was next opened); "
               "the batches before that are stored")


class RunStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def mark_killed(self) -> list[int]:
        """Mark the runs left unfinished by a process that was killed (SIGKILL, power loss), and return their ids.

        Only called by a writer: DuckDB's file lock then tells that no other process is running one."""
        with self.db.transaction() as con:
            ids = [int(r[0]) for r in con.execute(
                "SELECT run_id FROM ingest_runs WHERE finished_at IS NULL ORDER BY run_id").fetchall()]
            if ids:
                con.execute("UPDATE ingest_runs SET finished_at = ?, notes = CASE WHEN coalesce(notes, '') = '' "
                            "THEN ? ELSE notes || '; ' || ? END WHERE finished_at IS NULL",
                            [int(time.time()), KILLED_NOTE, KILLED_NOTE])
        return ids

    def start(self, *, chain: str, source_kind: str, endpoint: str, software_version: str,
              content_hash: str = "") -> int:
        with self.db.transaction() as con:
            row = con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM ingest_runs").fetchall()[0]
            run_id = int(row[0]) if row else 1
            con.execute(
                "INSERT INTO ingest_runs (run_id, chain, source_kind, endpoint, software_version, content_hash, "
                "started_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [run_id, chain, source_kind, endpoint, software_version, content_hash, int(time.time())],
            )
        return run_id

    def finish(self, run_id: int, *, first_height: int | None, last_height: int | None, blocks: int, txs: int,
               skipped: int, content_hash: str, notes: str = "") -> None:
        with self.db.transaction() as con:
            con.execute(
                "UPDATE ingest_runs SET first_height = ?, last_height = ?, blocks = ?, txs = ?, skipped = ?, "
                "content_hash = ?, notes = ?, finished_at = ? WHERE run_id = ?",
                [first_height, last_height, blocks, txs, skipped, content_hash, notes, int(time.time()), run_id],
            )

    def list(self, chain: str | None = None) -> list[IngestRun]:
        sql = ("SELECT run_id, chain, source_kind, endpoint, first_height, last_height, software_version, "
               "content_hash, started_at, finished_at, blocks, txs, skipped, notes FROM ingest_runs")
        params: list[object] = []
        if chain:
            sql += " WHERE chain = ?"
            params.append(chain)
        rows = self.db.execute(sql + " ORDER BY run_id", params).fetchall()
        return [IngestRun(*r) for r in rows]

    def pow_unchecked(self, chain: str) -> tuple[builtins.list[int], int]:
        """The ids of ``chain``'s ingest runs that stored blocks without checking their proof of work, and how
        many of ``chain``'s runs stored blocks in all (a run that stopped before counting may have: it counts)."""
        rows = self.db.all("SELECT run_id, coalesce(notes, '') FROM ingest_runs WHERE chain = ? "
                           "AND coalesce(blocks, 1) > 0 ORDER BY run_id", [chain])
        return [int(r) for r, n in rows if POW_UNCHECKED_NOTE in n], len(rows)
