"""Point lookups by txid and by address text (migration 005): sorted key tables instead of in-memory indexes.

A lookup finds candidate ids by a 64-bit key in a table kept sorted by ``(chain, key)`` (DuckDB reads one row
group of it, by its min/max), then reads the candidates by id (the primary key, or ids inserted in order)
and keeps those whose text is the one asked for: exact, whatever the keys' collisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainsleuth.store.db import Database

__all__ = ["ADDRESS_KEY", "TXID_KEY", "KeyLookups"]

#: the SQL expressions of the keys (also used by the writers when they append)
TXID_KEY = "(('0x' || substr({}, 1, 16))::UBIGINT >> 1)::BIGINT"
ADDRESS_KEY = "(md5_number_upper({}) >> 1)::BIGINT"

#: re-sort a key table when more than this share of it was appended since it was last sorted
_RESORT_SHARE = 0.1
_RESORT_MIN = 100_000


class KeyLookups:
    """Txid and address look-ups, and the upkeep of their key tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- reading ----------------------------------------------------------------------------------------
    def tx_ids(self, txid: str, chain: str | None = None) -> list[tuple[str, int]]:
        """(chain, tx id) of every stored copy of ``txid`` (lower-case hex), on ``chain`` or on any chain."""
        if len(txid) < 16 or any(c not in "0123456789abcdef" for c in txid[:16]):
            return []
        cand = self.db.all(
            f"SELECT chain, tx_id FROM txid_keys WHERE key = {TXID_KEY.format('?')}"
            + (" AND chain = ?" if chain else ""), [txid] + ([chain] if chain else []))
        out: list[tuple[str, int]] = []
        for c in sorted({r[0] for r in cand}):
            ids = [int(r[1]) for r in cand if r[0] == c]
            out += [(str(c), int(t)) for t, x in self.db.all(
                "SELECT tx_id, txid FROM txs WHERE chain = ? AND tx_id IN (SELECT unnest(?)) ORDER BY tx_id",
                [c, ids]) if x == txid]
        return out

    def address_ids(self, addresses: Sequence[str], chain: str | None = None) -> list[tuple[str, str, int]]:
        """(chain, address, id) of the stored addresses among ``addresses`` (exact text), on ``chain`` or any."""
        if not addresses:
            return []
        cand = self.db.all(
            f"SELECT k.chain, k.id FROM address_keys k WHERE k.key IN (SELECT {ADDRESS_KEY.format('a')} FROM "
            "unnest(?) t(a))" + (" AND k.chain = ?" if chain else ""),
            [list(set(addresses))] + ([chain] if chain else []))
        wanted = set(addresses)
        out: list[tuple[str, str, int]] = []
        for c in sorted({r[0] for r in cand}):
            ids = [int(r[1]) for r in cand if r[0] == c]
            out += [(str(c), str(a), int(i)) for i, a in self.db.all(
                "SELECT id, address FROM addresses WHERE chain = ? AND id IN (SELECT unnest(?)) ORDER BY id",
                [c, ids]) if a in wanted]
        return out

    # -- upkeep -----------------------------------------------------------------------------------------
    @staticmethod
    def append_txs(con: Any, chain: str, view: str) -> None:
        """Append the keys of the transactions in ``view`` (columns txid, tx_id), inside the writer's
        transaction."""
        con.execute(f"INSERT INTO txid_keys SELECT ?, {TXID_KEY.format('txid')}, tx_id FROM {view}", [chain])

    @staticmethod
    def append_addresses(con: Any, chain: str, view: str) -> None:
        """Append the keys of the addresses in ``view`` (columns address, id)."""
        con.execute(f"INSERT INTO address_keys SELECT ?, {ADDRESS_KEY.format('address')}, id FROM {view}", [chain])

    def compact(self) -> list[str]:
        """Sort each key table again where more than a tenth of it (and at least 100,000 rows) was appended
        since it was last sorted; one transaction per table. Returns the tables sorted."""
        done = []
        for name in ("txid_keys", "address_keys"):
            row = self.db.one(f"SELECT (SELECT count(*) FROM {name}), (SELECT sorted_rows FROM lookup_sorted "
                              "WHERE name = ?)", [name])
            total, sorted_rows = (int(row[0]), int(row[1] or 0)) if row else (0, 0)
            if total - sorted_rows < max(_RESORT_MIN, _RESORT_SHARE * sorted_rows):
                continue
            cols = "chain, key, tx_id" if name == "txid_keys" else "chain, key, id"
            with self.db.transaction() as con:
                con.execute(f"CREATE TABLE {name}_sorting AS SELECT {cols} FROM {name} ORDER BY chain, key")
                con.execute(f"DROP TABLE {name}")
                con.execute(f"ALTER TABLE {name}_sorting RENAME TO {name}")
                con.execute("UPDATE lookup_sorted SET sorted_rows = ? WHERE name = ?", [total, name])
            done.append(name)
        return done
