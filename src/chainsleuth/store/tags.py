"""Attribution tags: packs (provenance), tags, actors; lookups; the counterparty flows screening needs.

Writing a pack is one transaction: a pack whose content hash is already stored is skipped (re-import
changes nothing), a pack whose URI is stored with other content replaces its old tags, and a failure
leaves the store as it was. Tags reference their subject by (chain, identifier text); the dense address
id is resolved at query time (view ``tags_resolved``), so tags of addresses not yet ingested are kept and
found once the address arrives.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from chainsleuth.store.db import Database, first_row

__all__ = ["PackImport", "TagStore"]


_TAG_COLS = ("chain, subject, identifier, label, category, abuse, concepts, actor, source, creator, confidence, "
             "confidence_level, lastmod, is_cluster_definer, tlp, context, tag_type, currency, network")
_OUT_COLS = ("t.tag_id, t.chain, t.subject, t.identifier, t.label, t.category, t.abuse, t.concepts, t.actor, "
             "t.source, t.creator, t.confidence, t.confidence_level, t.lastmod, t.is_cluster_definer, t.tlp, "
             "t.context, t.tag_type, t.currency, t.network, t.origin, t.line, p.uri AS pack_uri, p.kind AS pack_kind, "
             "p.sha256 AS pack_sha256")
_OUT_NAMES = ["tag_id", "chain", "subject", "identifier", "label", "category", "abuse", "concepts", "actor", "source",
              "creator", "confidence", "confidence_level", "lastmod", "is_cluster_definer", "tlp", "context",
              "tag_type", "currency", "network", "origin", "line", "pack_uri", "pack_kind", "pack_sha256"]
_KEY_SQL = "md5(concat_ws(chr(31), chain, identifier, lower(label), lower(source)))"


@dataclass(frozen=True)
class PackImport:
    """What happened to one pack: ``new``, ``unchanged`` (same content already stored) or ``replaced``."""

    uri: str
    status: str
    pack_id: int
    tags: int
    same_as: str | None = None


class TagStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._packs: dict[int, tuple[str, str, str | None]] = {}   # pack_id -> (uri, kind, sha256); cleared on writes
        self._actors: dict[str, str] | None = None       # actor id -> label; cleared by every ActorPack write

    # ------------------------------------------------------------------------------------------
    # import runs and packs
    # ------------------------------------------------------------------------------------------
    def start_run(self, paths: str, software_version: str) -> int:
        with self.db.transaction() as con:
            row = first_row(con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM tag_import_runs"))
            run_id = int(row[0]) if row else 1
            con.execute("INSERT INTO tag_import_runs (run_id, started_at, paths, software_version) VALUES (?, ?, ?, ?)",
                        [run_id, int(time.time()), paths, software_version])
        return run_id

    @contextmanager
    def deferred_checkpoint(self) -> Iterator[None]:
        """Many packs in a row: checkpoint once at the end (see Database.deferred_checkpoint). Each pack still
        commits (and is durable) on its own."""
        with self.db.deferred_checkpoint():
            yield

    def finish_run(self, run_id: int, *, new: int, unchanged: int, replaced: int, tags: int) -> None:
        with self.db.transaction() as con:
            con.execute("UPDATE tag_import_runs SET finished_at = ?, packs_new = ?, packs_unchanged = ?, "
                        "packs_replaced = ?, tags_new = ? WHERE run_id = ?",
                        [int(time.time()), new, unchanged, replaced, tags, run_id])

    def import_pack(self, tags: pa.Table, *, uri: str, content_hash: str, kind: str, title: str, creator: str,
                    description: str, is_public: bool | None, run_id: int | None, duplicates_merged: int = 0,
                    warnings: int = 0, origin: str = "imported", sha256: str | None = None) -> PackImport:
        """Store one pack and its tags (Arrow table in the attribution TAG_SCHEMA) in one transaction.
        ``uri`` is the pack's portable name, ``sha256`` the hash of its file's bytes."""
        self._packs = {}
        with self.db.transaction() as con:
            same = first_row(con.execute("SELECT uri, pack_id, tag_count FROM tag_packs WHERE content_hash = ? LIMIT 1",
                               [content_hash]))
            if same is not None:
                return PackImport(uri, "unchanged", int(same[1]), int(same[2]), same_as=str(same[0]))
            old = first_row(con.execute("SELECT pack_id FROM tag_packs WHERE uri = ?", [uri]))
            status = "new"
            if old is not None:
                con.execute("DELETE FROM tags WHERE pack_id = ?", [old[0]])
                con.execute("DELETE FROM tag_packs WHERE pack_id = ?", [old[0]])
                status = "replaced"
            pack_id = int(first_row(con.execute("SELECT coalesce(max(pack_id), 0) + 1 FROM tag_packs"))[0])  # type: ignore[index]
            con.execute(
                "INSERT INTO tag_packs (pack_id, uri, content_hash, kind, origin, title, creator, description, "
                "is_public, imported_at, import_run, tag_count, duplicates_merged, warnings, sha256) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [pack_id, uri, content_hash, kind, origin, title, creator, description, is_public, int(time.time()),
                 run_id, tags.num_rows, duplicates_merged, warnings, sha256 or None])
            self._insert(con, tags, pack_id=pack_id, origin=origin, run_id=run_id)
        return PackImport(uri, status, pack_id, tags.num_rows)

    @staticmethod
    def _insert(con: Any, tags: pa.Table, *, pack_id: int, origin: str, run_id: int | None) -> None:
        if tags.num_rows == 0:
            return
        base = int(first_row(con.execute("SELECT coalesce(max(tag_id), 0) + 1 FROM tags"))[0])
        con.register("b_tags", tags)
        try:
            con.execute(
                f"INSERT INTO tags (tag_id, pack_id, tag_key, {_TAG_COLS}, origin, import_run, line) "
                f"SELECT ? + row_number() OVER () - 1, ?, {_KEY_SQL}, {_TAG_COLS}, ?, ?, line FROM b_tags",
                [base, pack_id, origin, run_id])
        finally:
            con.unregister("b_tags")

    def add_investigator_tags(self, tags: pa.Table, *, creator: str) -> list[int]:
        """Investigator-made tags into the pack ``investigator:<creator>``; a tag with the same chain,
        identifier, label and source replaces the earlier one (merged, not doubled). Returns the tag ids."""
        uri = f"investigator:{creator}"
        self._packs = {}
        with self.db.transaction() as con:
            row = first_row(con.execute("SELECT pack_id FROM tag_packs WHERE uri = ?", [uri]))
            if row is None:
                pack_id = int(first_row(con.execute("SELECT coalesce(max(pack_id), 0) + 1 FROM tag_packs"))[0])  # type: ignore[index]
                con.execute(
                    "INSERT INTO tag_packs (pack_id, uri, content_hash, kind, origin, title, creator, description, "
                    "is_public, imported_at, tag_count) VALUES (?, ?, ?, 'investigator', 'investigator', ?, ?, ?, "
                    "false, ?, 0)",
                    [pack_id, uri, uri, f"Investigator tags of {creator}", creator,
                     "Tags made in this workspace", int(time.time())])
            else:
                pack_id = int(row[0])
            con.register("b_new", tags)
            try:
                con.execute(f"DELETE FROM tags WHERE pack_id = ? AND tag_key IN (SELECT {_KEY_SQL} FROM b_new)",
                            [pack_id])
            finally:
                con.unregister("b_new")
            self._insert(con, tags, pack_id=pack_id, origin="investigator", run_id=None)
            con.execute("UPDATE tag_packs SET tag_count = (SELECT count(*) FROM tags WHERE pack_id = ?), "
                        "imported_at = ? WHERE pack_id = ?", [pack_id, int(time.time()), pack_id])
            ids = con.execute(
                f"SELECT tag_id FROM tags WHERE pack_id = ? AND tag_key IN (SELECT {_KEY_SQL} FROM "
                "(SELECT unnest(?) AS chain, unnest(?) AS identifier, unnest(?) AS label, unnest(?) AS source)) "
                "ORDER BY tag_id",
                [pack_id, tags["chain"].to_pylist(), tags["identifier"].to_pylist(), tags["label"].to_pylist(),
                 tags["source"].to_pylist()]).fetchall()
        return [int(r[0]) for r in ids]

    def pack_with_hash(self, content_hash: str) -> str | None:
        """URI of the stored pack with this content hash, if any."""
        row = first_row(self.db.execute("SELECT uri FROM tag_packs WHERE content_hash = ? LIMIT 1", [content_hash]))
        if row is None:
            row = first_row(self.db.execute("SELECT pack_uri FROM tag_actors WHERE content_hash = ? LIMIT 1",
                                       [content_hash]))
        return None if row is None else str(row[0])

    def import_actors(self, actors: pa.Table, *, pack_uri: str, content_hash: str, sha256: str | None = None) -> str:
        """Store an ActorPack (replacing an earlier import of the same URI). Returns new/unchanged/replaced."""
        self._actors = None
        with self.db.transaction() as con:
            row = first_row(con.execute("SELECT content_hash FROM tag_actors WHERE pack_uri = ? LIMIT 1", [pack_uri]))
            same = first_row(con.execute("SELECT 1 FROM tag_actors WHERE content_hash = ? LIMIT 1", [content_hash]))
            if same is not None:
                return "unchanged"
            con.execute("DELETE FROM tag_actors WHERE pack_uri = ?", [pack_uri])
            con.register("b_actors", actors)
            try:
                con.execute("INSERT INTO tag_actors SELECT actor_id, label, uri, categories, jurisdictions, aliases, "
                            "context, lastmod, ?, ?, ? FROM b_actors", [pack_uri, content_hash, sha256 or None])
            finally:
                con.unregister("b_actors")
        return "new" if row is None else "replaced"

    # ------------------------------------------------------------------------------------------
    # readers
    # ------------------------------------------------------------------------------------------
    def count(self) -> int:
        row = first_row(self.db.execute("SELECT count(*) FROM tags"))
        return int(row[0]) if row else 0

    def packs(self) -> list[dict[str, Any]]:
        cols = ["pack_id", "uri", "content_hash", "sha256", "kind", "origin", "title", "creator", "imported_at",
                "import_run", "tag_count", "duplicates_merged", "warnings"]
        rows = self.db.execute(f"SELECT {', '.join(cols)} FROM tag_packs ORDER BY pack_id").fetchall()
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def find_chains(self, identifier: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT chain FROM tags WHERE identifier = ? ORDER BY chain", [identifier]).fetchall()]

    def tags_for(self, identifier: str, chain: str | None = None) -> list[dict[str, Any]]:
        """Every tag of one address or tx (all chains unless ``chain``), with its pack URI and actor label."""
        # one index lookup on tags; pack URIs come from a small cache (a join would cost twice the lookup)
        sql = f"SELECT {_OUT_COLS.split(', p.uri')[0]}, t.pack_id FROM tags t WHERE t.identifier = ?"
        params: list[Any] = [identifier]
        if chain is not None:
            sql += " AND t.chain = ?"
            params.append(chain)
        rows = self.db.execute(sql + " ORDER BY t.confidence_level DESC NULLS LAST, t.tag_id", params).fetchall()
        names = [*_OUT_NAMES[:-3], "pack_id"]
        out = [dict(zip(names, r, strict=True)) for r in rows]
        for t in out:
            t["pack_uri"], t["pack_kind"], t["pack_sha256"] = self._pack_info(int(t.pop("pack_id")))
        labels = self._actor_labels() if any(t["actor"] for t in out) else {}
        for t in out:
            t["actor_label"] = labels.get(t["actor"]) if t["actor"] else None
        return out

    def _actor_labels(self) -> dict[str, str]:
        if self._actors is None:
            self._actors = {str(a): str(lbl) for a, lbl in self.db.execute(
                "SELECT actor_id, any_value(label) FROM tag_actors GROUP BY actor_id").fetchall()}
        return self._actors

    def _pack_info(self, pack_id: int) -> tuple[str, str, str | None]:
        info = self._packs.get(pack_id)
        if info is None:
            self._packs = {int(i): (str(u), str(k), None if h is None else str(h)) for i, u, k, h in
                           self.db.execute("SELECT pack_id, uri, kind, sha256 FROM tag_packs").fetchall()}
            info = self._packs.get(pack_id, ("", "", None))
        return info

    def tags_table(self, identifiers: list[str], chain: str | None = None) -> pa.Table:
        """Tags of many identifiers at once, as an Arrow table (columns as :meth:`tags_for`)."""
        sql = (f"SELECT {_OUT_COLS} FROM tags t JOIN tag_packs p ON p.pack_id = t.pack_id "
               "WHERE t.identifier IN (SELECT unnest(?))")
        params: list[Any] = [list(identifiers)]
        if chain is not None:
            sql += " AND t.chain = ?"
            params.append(chain)
        return self.db.con.sql(sql + " ORDER BY t.tag_id", params=params).to_arrow_table()

    def tags_for_address_ids(self, chain: str, address_ids: list[int]) -> pa.Table:
        """Tags of addresses given by dense id (joined by text through ``addresses``), with ``address_id``."""
        return self.db.con.sql(
            f"SELECT {_OUT_COLS}, a.id AS address_id FROM addresses a "
            "JOIN tags t ON t.subject = 'address' AND t.chain = a.chain AND t.identifier = a.address "
            "JOIN tag_packs p ON p.pack_id = t.pack_id "
            "WHERE a.chain = ? AND a.id IN (SELECT unnest(?)) ORDER BY a.id, t.tag_id",
            params=[chain, [int(x) for x in address_ids]]).to_arrow_table()

    def cluster_member_tags(self, chain: str, set_id: int, cluster_id: int, *, definers_only: bool = True,
                            min_level: int = 0) -> pa.Table:
        """Tags of the members of one cluster (of cluster set ``set_id``), with ``address_id``; by default only
        cluster-definer tags at or above ``min_level``. One join: fast also for large clusters."""
        return self.db.con.sql(
            f"SELECT {_OUT_COLS}, a.id AS address_id FROM cluster_members m "
            "JOIN addresses a ON a.chain = m.chain AND a.id = m.address_id "
            "JOIN tags t ON t.subject = 'address' AND t.chain = a.chain AND t.identifier = a.address "
            "JOIN tag_packs p ON p.pack_id = t.pack_id "
            "WHERE m.chain = ? AND m.set_id = ? AND m.cluster_id = ? "
            "AND (NOT ? OR (t.is_cluster_definer AND coalesce(t.confidence_level, -1) >= ?)) "
            "ORDER BY a.id, t.tag_id",
            params=[chain, set_id, cluster_id, definers_only, min_level]).to_arrow_table()

    def export_table(self, *, origin: str | None = "investigator", pack_uri: str | None = None) -> pa.Table:
        """Tags to export: by origin (None = all) and/or one pack."""
        sql = f"SELECT {_OUT_COLS} FROM tags t JOIN tag_packs p ON p.pack_id = t.pack_id WHERE true"
        params: list[Any] = []
        if origin is not None:
            sql += " AND t.origin = ?"
            params.append(origin)
        if pack_uri is not None:
            sql += " AND p.uri = ?"
            params.append(pack_uri)
        return self.db.con.sql(sql + " ORDER BY t.tag_id", params=params).to_arrow_table()

    def address_ids(self, chain: str, addresses: list[str]) -> dict[str, int]:
        """Dense ids of the given address texts that are in the workspace on ``chain``."""
        rows = self.db.execute("SELECT address, id FROM addresses WHERE chain = ? AND address IN (SELECT unnest(?))",
                               [chain, list(addresses)]).fetchall()
        return {str(a): int(i) for a, i in rows}

    # ------------------------------------------------------------------------------------------
    # direct counterparties (screening exposure)
    # ------------------------------------------------------------------------------------------
    def utxo_counterparties(self, chain: str, address_ids: list[int]) -> pa.Table:
        """Direct flows of the given addresses on a UTXO chain, one row per (address, direction, counterparty).

        ``out``: in txs the address spends from, the value paid to each other output address.
        ``in``: in txs paying the address, the value it received, attributed to each other input address.
        Columns: address_id, direction, counterparty, asset ('native'), amount (satoshi), txs.
        """
        return self.db.con.sql(
            "WITH s AS (SELECT DISTINCT unnest(?) AS aid), "
            "spend AS (SELECT DISTINCT i.tx_id, i.address_id AS sid FROM inputs i JOIN s ON i.address_id = s.aid "
            "          WHERE i.chain = ?), "
            "outs AS (SELECT sp.sid, o.address_id AS cid, sum(o.value) AS amount, count(DISTINCT o.tx_id) AS txs "
            "         FROM spend sp JOIN outputs o ON o.chain = ? AND o.tx_id = sp.tx_id "
            "         WHERE o.address_id IS NOT NULL AND o.address_id <> sp.sid GROUP BY sp.sid, o.address_id), "
            "recv AS (SELECT o.tx_id, o.address_id AS sid, sum(o.value) AS received FROM outputs o "
            "         JOIN s ON o.address_id = s.aid WHERE o.chain = ? GROUP BY o.tx_id, o.address_id), "
            "payers AS (SELECT DISTINCT i.tx_id, i.address_id AS cid FROM inputs i "
            "           WHERE i.chain = ? AND i.address_id IS NOT NULL AND i.tx_id IN (SELECT tx_id FROM recv)), "
            "ins AS (SELECT r.sid, p.cid, sum(r.received) AS amount, count(*) AS txs FROM recv r "
            "        JOIN payers p ON p.tx_id = r.tx_id WHERE p.cid <> r.sid GROUP BY r.sid, p.cid) "
            "SELECT f.sid AS address_id, f.direction, a.address AS counterparty, 'native' AS asset, "
            "       CAST(f.amount AS BIGINT) AS amount, f.txs "
            "FROM (SELECT sid, 'out' AS direction, cid, amount, txs FROM outs "
            "      UNION ALL SELECT sid, 'in', cid, amount, txs FROM ins) f "
            "JOIN addresses a ON a.chain = ? AND a.id = f.cid ORDER BY 1, 2, 3",
            params=[[int(x) for x in address_ids], chain, chain, chain, chain, chain]).to_arrow_table()

    def account_counterparties(self, chain: str, address_ids: list[int]) -> pa.Table:
        """Direct transfers of the given addresses on an account chain (failed txs excluded), one row per
        (address, direction, counterparty, asset); amounts are exact decimal strings of base units."""
        return self.db.con.sql(
            "WITH s AS (SELECT DISTINCT unnest(?) AS aid), "
            "tr AS (SELECT t.from_id, t.to_id, t.asset_id, t.value, t.tx_id FROM transfers t "
            "       LEFT JOIN account_txs x ON x.chain = t.chain AND x.tx_id = t.tx_id "
            "       WHERE t.chain = ? AND t.kind IN ('native', 'internal', 'selfdestruct', 'erc20') "
            "       AND coalesce(x.status, 1) <> 0 AND t.value IS NOT NULL), "
            "f AS (SELECT from_id AS sid, 'out' AS direction, to_id AS cid, asset_id, value, tx_id FROM tr "
            "      WHERE from_id IN (SELECT aid FROM s) AND to_id IS NOT NULL AND to_id <> from_id "
            "      UNION ALL SELECT to_id, 'in', from_id, asset_id, value, tx_id FROM tr "
            "      WHERE to_id IN (SELECT aid FROM s) AND from_id IS NOT NULL AND to_id <> from_id) "
            "SELECT f.sid AS address_id, f.direction, a.address AS counterparty, "
            "       coalesce(tok.address, 'native') AS asset, CAST(sum(f.value) AS VARCHAR) AS amount, "
            "       count(DISTINCT f.tx_id) AS txs "
            "FROM f JOIN addresses a ON a.chain = ? AND a.id = f.cid "
            "LEFT JOIN addresses tok ON tok.chain = ? AND tok.id = f.asset_id "
            "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
            params=[[int(x) for x in address_ids], chain, chain, chain]).to_arrow_table()
