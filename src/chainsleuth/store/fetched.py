"""What the store knows of records fetched one at a time from an explorer API (migration 035): the provenance
of every answer, how far each address's history was fetched, who spends each output as the API said, and
which of the records asked for are stored already (so that nothing stored is asked for again)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from chainsleuth.core.records import UtxoBatch
from chainsleuth.store.db import Database
from chainsleuth.store.utxo import UtxoStore, WriteResult

__all__ = ["FetchedStore"]


class FetchedStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- what is stored ---------------------------------------------------------------------------------
    def stored_txids(self, chain: str, txids: Sequence[str]) -> set[str]:
        """Those of ``txids`` stored on the best chain of ``chain``."""
        if not txids:
            return set()
        return {str(r[0]) for r in self.db.all(
            "SELECT DISTINCT txid FROM txs WHERE chain = ? AND best AND txid IN (SELECT unnest(?))",
            [chain, list(set(txids))])}

    def stored_blocks(self, chain: str, hashes: Sequence[str]) -> set[str]:
        if not hashes:
            return set()
        return {str(r[0]) for r in self.db.all("SELECT hash FROM blocks WHERE chain = ? AND hash IN (SELECT unnest(?))",
                                               [chain, list(set(hashes))])}

    def funding(self, chain: str, txids: Sequence[str]) -> list[str]:
        """Txids the inputs of ``txids`` spend (coinbase inputs aside), in input order, each once."""
        if not txids:
            return []
        rows = self.db.all(
            "SELECT i.prev_txid FROM inputs i JOIN txs t ON t.chain = i.chain AND t.tx_id = i.tx_id "
            "WHERE t.chain = ? AND t.txid IN (SELECT unnest(?)) AND i.prev_txid IS NOT NULL ORDER BY t.tx_id, i.n",
            [chain, list(set(txids))])
        return list(dict.fromkeys(str(r[0]) for r in rows))

    def outputs_count(self, chain: str, txid: str) -> int | None:
        row = self.db.one("SELECT n_out FROM txs WHERE chain = ? AND txid = ? LIMIT 1", [chain, txid])
        return None if row is None else int(row[0])

    def address_txids(self, chain: str, address: str) -> list[str]:
        """Stored txids paying to or spending from ``address`` (best chain)."""
        return [str(r[0]) for r in self.db.all(
            "SELECT DISTINCT t.txid FROM txs t WHERE t.chain = ? AND t.best AND t.tx_id IN ("
            "SELECT o.tx_id FROM outputs o JOIN addresses a ON a.chain = o.chain AND a.id = o.address_id "
            "WHERE a.chain = ? AND a.address = ? UNION SELECT i.tx_id FROM inputs i JOIN addresses a ON "
            "a.chain = i.chain AND a.id = i.address_id WHERE a.chain = ? AND a.address = ?)",
            [chain, chain, address, chain, address])]

    # -- outspends --------------------------------------------------------------------------------------
    def outspends_known(self, chain: str, txids: Sequence[str]) -> set[str]:
        """Those of ``txids`` whose outspends were fetched."""
        if not txids:
            return set()
        return {str(r[0]) for r in self.db.all(
            "SELECT DISTINCT txid FROM source_outspends WHERE chain = ? AND txid IN (SELECT unnest(?))",
            [chain, list(set(txids))])}

    def unspent_at_source(self, chain: str, outpoints: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Of ``outpoints`` (txid, n), those the API said were unspent, with when it said so."""
        if not outpoints:
            return {}
        con = self.db.con
        con.register("q_out", pa.table({"txid": [t for t, _ in outpoints], "n": [int(n) for _, n in outpoints]}))
        try:
            rows = self.db.all("SELECT s.txid, s.n, s.fetched_at FROM source_outspends s JOIN q_out q ON "
                               "q.txid = s.txid AND q.n = s.n WHERE s.chain = ? AND NOT s.spent", [chain])
        finally:
            con.unregister("q_out")
        return {(str(t), int(n)): int(f) for t, n, f in rows}

    # -- writing -------------------------------------------------------------------------------------------
    def write(self, utxo: UtxoStore, chain: str, run_id: int, batch: UtxoBatch | None, fetches: Sequence[Any], *,
              outspends: Sequence[tuple[str, int, bool, str | None, int | None, int]] = (),
              addresses: Sequence[dict[str, Any]] = ()) -> WriteResult | None:
        """One store transaction: a loose batch, the provenance of the answers it came from, outspends and
        address histories. All or nothing."""
        try:
            with self.db.transaction() as con:
                res = utxo.write_batch(batch, run_id) if batch is not None and batch.n_blocks else None
                self.record_fetches(con, chain, run_id, fetches)
                self.record_outspends(con, chain, outspends)
                for a in addresses:
                    self.record_address(con, chain, **a)
                return res
        except BaseException:
            utxo.writer.forget(chain)
            raise

    # -- writing (inside the caller's transaction) -------------------------------------------------------
    @staticmethod
    def record_fetches(con: Any, chain: str, run_id: int, fetches: Sequence[Any]) -> None:
        if not fetches:
            return
        con.register("b_fetch", pa.table({
            "url": [f.url for f in fetches], "fetched_at": [int(f.fetched_at) for f in fetches],
            "sha256": [f.sha256 for f in fetches], "kind": [f.kind for f in fetches]}))
        con.execute("INSERT INTO source_fetches (chain, run_id, url, fetched_at, sha256, kind) "
                    "SELECT ?, ?, url, fetched_at, sha256, kind FROM b_fetch", [chain, run_id])
        con.unregister("b_fetch")

    @staticmethod
    def record_outspends(con: Any, chain: str, rows: Sequence[tuple[str, int, bool, str | None, int | None, int]]
                         ) -> None:
        if not rows:
            return
        cols = list(zip(*rows, strict=True))
        con.register("b_os", pa.table({"txid": pa.array(cols[0], pa.string()), "n": pa.array(cols[1], pa.int32()),
                                       "spent": pa.array(cols[2], pa.bool_()),
                                       "spending_txid": pa.array(cols[3], pa.string()),
                                       "spending_n": pa.array(cols[4], pa.int32()),
                                       "fetched_at": pa.array(cols[5], pa.int64())}))
        con.execute("INSERT OR REPLACE INTO source_outspends SELECT ?, txid, n, spent, spending_txid, spending_n, "
                    "fetched_at FROM b_os", [chain])
        con.unregister("b_os")

    @staticmethod
    def record_address(con: Any, chain: str, address: str, *, complete: bool, txs: int, last_seen: str | None,
                       fetched_at: int, url: str) -> None:
        con.execute("INSERT OR REPLACE INTO address_history VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [chain, address, complete, txs, last_seen, fetched_at, url])

    # -- reading provenance --------------------------------------------------------------------------
    def address_history(self, chain: str, address: str) -> dict[str, Any] | None:
        row = self.db.one("SELECT complete, txs_fetched, last_seen_txid, fetched_at, url FROM address_history "
                          "WHERE chain = ? AND address = ?", [chain, address])
        if row is None:
            return None
        return {"complete": bool(row[0]), "txs_fetched": int(row[1]), "last_seen_txid": row[2],
                "fetched_at": int(row[3]), "url": row[4]}

    def partial_blocks(self, chain: str) -> int:
        row = self.db.one("SELECT count(*) FROM blocks WHERE chain = ? AND partial", [chain])
        return int(row[0]) if row else 0

    def fetch_count(self, chain: str) -> int:
        row = self.db.one("SELECT count(*) FROM source_fetches WHERE chain = ?", [chain])
        return int(row[0]) if row else 0
