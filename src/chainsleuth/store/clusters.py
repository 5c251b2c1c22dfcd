"""Cluster tables (030_clusters.sql): the bulk arrays clustering needs, the writer of a cluster set, and
the readers.

Readers for other parts (attribution's tag propagation reads these two):

- ``cluster_of(chain, address_id, set_id=None) -> int | None``: the cluster id of an address in the given
  set, or in the chain's active set (the one clustered last); None when the chain has no cluster set or the
  address is newer than the set. A cluster id is the smallest address id among its members, so it is
  stable while the cluster only grows from addresses with larger ids.
- ``members(chain, cluster_id, set_id=None, limit=100, offset=0) -> list[(address_id, address)]``: the
  addresses of a cluster, ordered by address id, paged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from chainsleuth.errors import InvalidInput
from chainsleuth.store.db import Database
from chainsleuth.store.lookups import KeyLookups
from chainsleuth.store.utxo import canonical_tx_ids

__all__ = ["ClusterStore"]

_SET_COLS = ("chain", "set_id", "name", "heuristics", "parameters", "created_at", "updated_at", "last_tx_id",
             "first_height", "last_height", "run_ids", "software_version", "n_addresses", "n_clusters",
             "n_links", "active")


def _rows(cur: Any) -> list[tuple[Any, ...]]:
    return list(cur.fetchall())


def _set_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    d = dict(zip(_SET_COLS, row, strict=True))
    d["heuristics"] = json.loads(d["heuristics"])
    d["parameters"] = json.loads(d["parameters"])
    d["run_ids"] = json.loads(d["run_ids"])
    return d


class ClusterStore:
    """Cluster sets, members, links; and the bulk transaction arrays the clustering algorithms take."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------------------------------
    # input arrays for the algorithms
    # ------------------------------------------------------------------------------------------
    def input_status(self, chain: str) -> dict[str, int]:
        """Counts that decide whether a chain can be clustered: txs, spending inputs, resolved ones, addresses."""
        row = _rows(self.db.execute(
            "SELECT (SELECT count(*) FROM txs WHERE chain = ? AND best), "
            "(SELECT count(*) FROM inputs WHERE chain = ? AND best AND prev_txid IS NOT NULL), "
            "(SELECT count(value) FROM inputs WHERE chain = ? AND best AND prev_txid IS NOT NULL), "
            "(SELECT coalesce(max(id), -1) + 1 FROM addresses WHERE chain = ?), "
            "(SELECT coalesce(max(tx_id), -1) FROM txs WHERE chain = ?)",
            [chain] * 5))[0]
        return {"txs": int(row[0]), "inputs": int(row[1]), "inputs_resolved": int(row[2]),
                "addresses": int(row[3]), "max_tx_id": int(row[4])}

    def tx_arrays(self, chain: str, *, after_tx_id: int = -1, set_id: int | None = None,
                  tx_ids: list[int] | None = None) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
        """Columns of :class:`chainsleuth.algorithms.txarrays.TxArrays` for txs with ``tx_id > after_tx_id``
        (plus the set's pending txs when ``set_id`` is given), or exactly the ``tx_ids`` given, in bulk numpy
        form, and the script type names.

        Unknown values are -1: unresolved input address/value, OP_RETURN address, unspent outputs.
        """
        names = tuple(r[0] for r in _rows(self.db.execute(
            "SELECT DISTINCT script_type FROM outputs WHERE chain = ? ORDER BY 1", [chain])))
        if tx_ids is not None:
            sel = "(x.tx_id IN (SELECT unnest(?)) AND ? = ? AND ? = ?)"
            p = [chain, list(tx_ids), 0, 0, 0, 0]
        else:
            sel = "(x.tx_id > ? OR x.tx_id IN (SELECT tx_id FROM cluster_pending WHERE chain = ? AND set_id = ?))"
            p = [chain, after_tx_id, chain, -1 if set_id is None else set_id]
        txs = self.db.execute(
            "SELECT x.tx_id, coalesce(b.height, -1) AS height, x.version, x.locktime, x.is_coinbase "
            "FROM txs x LEFT JOIN blocks b ON b.chain = x.chain AND b.hash = x.block_hash "
            f"WHERE x.chain = ? AND x.best AND {sel} ORDER BY x.tx_id", p).fetchnumpy()
        ins = self.db.execute(
            "SELECT x.tx_id AS in_tx, coalesce(x.address_id, -1) AS in_address, coalesce(x.value, -1) AS in_value, "
            "x.sequence AS in_sequence, coalesce(list_position(?, x.script_type) - 1, -1) AS in_script_type "
            f"FROM inputs x WHERE x.chain = ? AND x.best AND x.prev_txid IS NOT NULL AND {sel} ORDER BY x.tx_id, x.n",
            [list(names), *p]).fetchnumpy()
        outs = self.db.execute(
            "SELECT x.tx_id AS out_tx, x.n AS out_n, coalesce(x.address_id, -1) AS out_address, x.value AS out_value, "
            "coalesce(list_position(?, x.script_type) - 1, -1) AS out_script_type "
            f"FROM outputs x WHERE x.chain = ? AND x.best AND {sel} ORDER BY x.tx_id, x.n",
            [list(names), *p]).fetchnumpy()
        cols: dict[str, np.ndarray] = {}
        for part in (txs, ins, outs):
            for k, v in part.items():
                cols[k] = np.asarray(v)
        cols["out_spent_tx"] = self._spent_by(chain, cols["out_tx"].astype(np.int64), cols["out_n"].astype(np.int64))
        return cols, names

    def _spent_by(self, chain: str, out_tx: np.ndarray, out_n: np.ndarray) -> np.ndarray:
        """The best-chain transaction spending each output (-1: unspent in the data); outputs sorted by (tx, n)."""
        res = np.full(out_tx.size, -1, dtype=np.int64)
        if not out_tx.size:
            return res
        lo = int(out_tx.min())
        sp = self.db.execute(
            "SELECT prev_tx_id, prev_n, tx_id FROM inputs WHERE chain = ? AND best AND prev_tx_id IS NOT NULL "
            "AND (prev_tx_id >= ? OR prev_tx_id IN (SELECT tx_id FROM txs WHERE chain = ? AND (NOT best OR txid IN "
            "(SELECT txid FROM txid_copies WHERE chain = ?))))", [chain, lo, chain, chain]).fetchnumpy()
        prev = np.asarray(sp["prev_tx_id"], dtype=np.int64)
        if not prev.size:
            return res
        best = np.asarray(self.db.execute(
            "SELECT best FROM txs WHERE chain = ? ORDER BY tx_id", [chain]).fetchnumpy()["best"], dtype=bool)
        prev = canonical_tx_ids(self.db, chain, prev, best)
        key_in = prev * (1 << 32) + np.asarray(sp["prev_n"], dtype=np.int64)
        key_out = out_tx * (1 << 32) + out_n
        pos = np.searchsorted(key_out, key_in)
        hit = (prev >= 0) & (pos < key_out.size) & (key_out[np.minimum(pos, key_out.size - 1)] == key_in)
        res[pos[hit]] = np.asarray(sp["tx_id"], dtype=np.int64)[hit]
        return res

    def tx_context(self, chain: str, txid: str) -> dict[str, Any] | None:
        """A tx's dense id (its best-chain copy), the txs spending its outputs, and the first tx paying each
        of its output addresses."""
        copies = [t for _, t in KeyLookups(self.db).tx_ids(txid, chain)]
        rows = _rows(self.db.execute(
            "SELECT t.tx_id FROM txs t JOIN blocks b ON b.chain = t.chain AND b.hash = t.block_hash "
            "WHERE t.chain = ? AND t.tx_id IN (SELECT unnest(?)) AND t.best ORDER BY b.height DESC NULLS LAST, "
            "t.tx_id DESC LIMIT 1", [chain, copies]))
        if not rows:
            return None
        tx_id = int(rows[0][0])
        spenders = [int(r[0]) for r in _rows(self.db.execute(
            "SELECT DISTINCT tx_id FROM inputs WHERE chain = ? AND best AND prev_tx_id IN (SELECT unnest(?)) "
            "ORDER BY 1", [chain, copies]))]
        first = {int(a): int(t) for a, t in _rows(self.db.execute(
            "SELECT o.address_id, min(o.tx_id) FROM outputs o WHERE o.chain = ? AND o.best AND o.address_id IN "
            "(SELECT address_id FROM outputs WHERE chain = ? AND tx_id = ? AND address_id IS NOT NULL) "
            "GROUP BY o.address_id", [chain, chain, tx_id]))}
        return {"tx_id": tx_id, "spenders": spenders, "first_seen": first}

    def unresolved_tx_ids(self, chain: str) -> np.ndarray:
        """Transactions with at least one input whose prevout is not resolved."""
        r = self.db.execute("SELECT DISTINCT tx_id FROM inputs WHERE chain = ? AND best AND prev_txid IS NOT NULL "
                            "AND value IS NULL ORDER BY 1", [chain]).fetchnumpy()
        return np.asarray(r["tx_id"], dtype=np.int64)

    def provenance(self, chain: str) -> dict[str, Any]:
        """Ingest runs and height range behind the chain's data."""
        runs = [int(r[0]) for r in _rows(self.db.execute(
            "SELECT run_id FROM ingest_runs WHERE chain = ? ORDER BY run_id", [chain]))]
        h = _rows(self.db.execute("SELECT min(height), max(height) FROM blocks WHERE chain = ? AND best",
                                  [chain]))[0]
        return {"run_ids": runs, "first_height": h[0], "last_height": h[1]}

    # ------------------------------------------------------------------------------------------
    # writer
    # ------------------------------------------------------------------------------------------
    def write_set(self, chain: str, *, name: str, heuristics: list[str], parameters: Mapping[str, Any],
                  labels: np.ndarray, links: Mapping[str, np.ndarray | list[str]], coinjoins: Mapping[str, Any],
                  pending: np.ndarray, last_tx_id: int, provenance: Mapping[str, Any], software_version: str,
                  incremental_of: int | None = None) -> int:
        """Write one cluster set in one transaction and make it the chain's active set; return its id.

        ``labels`` is the cluster id of every address id ``0..len-1`` (all members rewritten); ``links``
        are appended when ``incremental_of`` names the set being extended, else they replace the set's
        links. ``links`` columns: address_a, address_b, tx_id, heuristic (names), confidence, size_a, size_b.
        """
        now = int(time.time())
        labels = np.asarray(labels, dtype=np.int64)
        n_clusters = int(np.count_nonzero(np.bincount(labels, minlength=len(labels)) >= 2)) if len(labels) else 0
        with self.db.transaction() as con:
            existing = _rows(con.execute(
                "SELECT set_id, created_at FROM cluster_sets WHERE chain = ? AND name = ?", [chain, name]))
            if incremental_of is not None and (not existing or int(existing[0][0]) != incremental_of):
                raise InvalidInput(f"cluster set {incremental_of} to extend is not the set named {name!r}",
                                   value=incremental_of)
            if existing:
                set_id, created = int(existing[0][0]), int(existing[0][1])
                for t in ("cluster_members", "cluster_coinjoins", "cluster_pending") + (
                        () if incremental_of is not None else ("cluster_links",)):
                    con.execute(f"DELETE FROM {t} WHERE chain = ? AND set_id = ?", [chain, set_id])
                con.execute("DELETE FROM cluster_sets WHERE chain = ? AND set_id = ?", [chain, set_id])
            else:
                set_id = int(_rows(con.execute("SELECT coalesce(max(set_id), 0) + 1 FROM cluster_sets WHERE chain = ?",
                                               [chain]))[0][0])
                created = now
            seq0 = int(_rows(con.execute("SELECT coalesce(max(seq), -1) + 1 FROM cluster_links WHERE chain = ? AND "
                                         "set_id = ?", [chain, set_id]))[0][0])
            n = len(labels)
            con.register("_cm", pa.table({"address_id": np.arange(n, dtype=np.int64), "cluster_id": labels}))
            con.execute("INSERT INTO cluster_members SELECT ?, ?, address_id, cluster_id FROM _cm", [chain, set_id])
            con.unregister("_cm")
            la = np.asarray(links["address_a"], dtype=np.int64)
            lt = pa.table({
                "seq": np.arange(seq0, seq0 + len(la), dtype=np.int64), "address_a": la,
                "address_b": np.asarray(links["address_b"], dtype=np.int64),
                "tx_id": np.asarray(links["tx_id"], dtype=np.int64),
                "heuristic": pa.array(list(links["heuristic"]), type=pa.string()),
                "confidence": np.asarray(links["confidence"], dtype=np.float64),
                "size_a": np.asarray(links["size_a"], dtype=np.int64),
                "size_b": np.asarray(links["size_b"], dtype=np.int64)})
            con.register("_cl", lt)
            con.execute("INSERT INTO cluster_links SELECT ?, ?, seq, address_a, address_b, tx_id, heuristic, "
                        "confidence, size_a, size_b FROM _cl", [chain, set_id])
            con.unregister("_cl")
            cj = pa.table({"tx_id": np.asarray(coinjoins["tx_id"], dtype=np.int64),
                           "kind": pa.array(list(coinjoins["kind"]), type=pa.string()),
                           "equal_value": np.asarray(coinjoins["equal_value"], dtype=np.int64),
                           "equal_count": np.asarray(coinjoins["equal_count"], dtype=np.int64)})
            con.register("_cj", cj)
            con.execute("INSERT INTO cluster_coinjoins SELECT ?, ?, tx_id, kind, equal_value, equal_count FROM _cj",
                        [chain, set_id])
            con.unregister("_cj")
            con.register("_cp", pa.table({"tx_id": np.asarray(pending, dtype=np.int64)}))
            con.execute("INSERT INTO cluster_pending SELECT ?, ?, tx_id FROM _cp", [chain, set_id])
            con.unregister("_cp")
            n_links = int(_rows(con.execute("SELECT count(*) FROM cluster_links WHERE chain = ? AND set_id = ?",
                                            [chain, set_id]))[0][0])
            con.execute("UPDATE cluster_sets SET active = false WHERE chain = ?", [chain])
            con.execute(
                "INSERT INTO cluster_sets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, true)",
                [chain, set_id, name, json.dumps(heuristics), json.dumps(dict(parameters), sort_keys=True), created,
                 now, last_tx_id, provenance.get("first_height"), provenance.get("last_height"),
                 json.dumps(list(provenance.get("run_ids", []))), software_version, n, n_clusters, n_links])
        return set_id

    # ------------------------------------------------------------------------------------------
    # readers
    # ------------------------------------------------------------------------------------------
    def sets(self, chain: str | None = None) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(_SET_COLS)} FROM cluster_sets"
        params: list[Any] = []
        if chain is not None:
            sql += " WHERE chain = ?"
            params.append(chain)
        return [_set_dict(r) for r in _rows(self.db.execute(sql + " ORDER BY chain, set_id", params))]

    def get_set(self, chain: str, ref: int | str | None = None) -> dict[str, Any] | None:
        """A set by id, by name, or (``ref=None``) the chain's active set."""
        cols = ", ".join(_SET_COLS)
        if ref is None:
            rows = _rows(self.db.execute(f"SELECT {cols} FROM cluster_sets WHERE chain = ? AND active", [chain]))
        elif isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            rows = _rows(self.db.execute(f"SELECT {cols} FROM cluster_sets WHERE chain = ? AND set_id = ?",
                                         [chain, int(ref)]))
        else:
            rows = _rows(self.db.execute(f"SELECT {cols} FROM cluster_sets WHERE chain = ? AND name = ?",
                                         [chain, ref]))
        return _set_dict(rows[0]) if rows else None

    def stale_at_or_below(self, chain: str, last_tx_id: int) -> bool:
        """Whether a transaction at or below ``last_tx_id`` is off the best chain: a set built up to there may
        hold links of a branch a reorg left (or lack a branch it brought back), so it cannot be extended."""
        row = self.db.one("SELECT EXISTS (SELECT 1 FROM txs WHERE chain = ? AND NOT best AND tx_id <= ?)",
                          [chain, int(last_tx_id)])
        return bool(row and row[0])

    def _set_id(self, chain: str, set_id: int | None) -> int | None:
        if set_id is not None:
            return set_id
        s = self.get_set(chain)
        return None if s is None else int(s["set_id"])

    def labels(self, chain: str, set_id: int) -> np.ndarray:
        """Cluster id per address id (index = address id) of a set, as one array."""
        r = self.db.execute("SELECT cluster_id FROM cluster_members WHERE chain = ? AND set_id = ? "
                            "ORDER BY address_id", [chain, set_id]).fetchnumpy()
        return np.asarray(r["cluster_id"], dtype=np.int64)

    def cluster_of(self, chain: str, address_id: int, set_id: int | None = None) -> int | None:
        """Cluster id of an address (see the module docstring)."""
        sid = self._set_id(chain, set_id)
        if sid is None:
            return None
        rows = _rows(self.db.execute("SELECT cluster_id FROM cluster_members WHERE chain = ? AND set_id = ? AND "
                                     "address_id = ?", [chain, sid, address_id]))
        return int(rows[0][0]) if rows else None

    def size(self, chain: str, cluster_id: int, set_id: int | None = None) -> int:
        sid = self._set_id(chain, set_id)
        rows = _rows(self.db.execute("SELECT count(*) FROM cluster_members WHERE chain = ? AND set_id = ? AND "
                                     "cluster_id = ?", [chain, sid, cluster_id]))
        return int(rows[0][0])

    def members(self, chain: str, cluster_id: int, set_id: int | None = None, *, limit: int = 100,
                offset: int = 0) -> list[tuple[int, str]]:
        """(address_id, address) of a cluster's members, ordered by address id, paged."""
        sid = self._set_id(chain, set_id)
        return [(int(a), str(t)) for a, t in _rows(self.db.execute(
            "SELECT m.address_id, a.address FROM cluster_members m JOIN addresses a ON a.chain = m.chain AND "
            "a.id = m.address_id WHERE m.chain = ? AND m.set_id = ? AND m.cluster_id = ? "
            "ORDER BY m.address_id LIMIT ? OFFSET ?", [chain, sid, cluster_id, limit, offset]))]

    def links(self, chain: str, cluster_id: int, set_id: int | None = None, *, limit: int | None = 100,
              offset: int = 0) -> list[dict[str, Any]]:
        """The links that built a cluster, in set order, with txids and address texts; paged."""
        sid = self._set_id(chain, set_id)
        sql = ("SELECT l.seq, l.address_a, aa.address, l.address_b, ab.address, coalesce(t.txid, x.hash), l.tx_id, "
               "l.heuristic, "
               "l.confidence, l.size_a, l.size_b FROM cluster_links l "
               "JOIN cluster_members m ON m.chain = l.chain AND m.set_id = l.set_id AND m.address_id = l.address_a "
               "LEFT JOIN addresses aa ON aa.chain = l.chain AND aa.id = l.address_a "
               "LEFT JOIN addresses ab ON ab.chain = l.chain AND ab.id = l.address_b "
               "LEFT JOIN txs t ON t.chain = l.chain AND t.tx_id = l.tx_id "
               "LEFT JOIN account_txs x ON x.chain = l.chain AND x.tx_id = l.tx_id "
               "WHERE l.chain = ? AND l.set_id = ? AND m.cluster_id = ? ORDER BY l.seq")
        params: list[Any] = [chain, sid, cluster_id]
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        keys = ("seq", "address_a_id", "address_a", "address_b_id", "address_b", "txid", "tx_id", "heuristic",
                "confidence", "size_a", "size_b")
        return [dict(zip(keys, r, strict=True)) for r in _rows(self.db.execute(sql, params))]

    def link_arrays(self, chain: str, cluster_id: int, set_id: int | None = None) -> dict[str, np.ndarray]:
        """The links of one cluster as arrays (``seq``, ``address_a``, ``address_b``), for path finding."""
        sid = self._set_id(chain, set_id)
        r = self.db.execute(
            "SELECT l.seq, l.address_a, l.address_b FROM cluster_links l JOIN cluster_members m ON m.chain = l.chain "
            "AND m.set_id = l.set_id AND m.address_id = l.address_a WHERE l.chain = ? AND l.set_id = ? AND "
            "m.cluster_id = ? ORDER BY l.seq", [chain, sid, cluster_id]).fetchnumpy()
        return {k: np.asarray(r[k], dtype=np.int64) for k in ("seq", "address_a", "address_b")}

    def links_by_seq(self, chain: str, seqs: list[int], set_id: int | None = None) -> dict[int, dict[str, Any]]:
        """Links of a set by their ``seq``, with txids and address texts."""
        sid = self._set_id(chain, set_id)
        keys = ("seq", "address_a_id", "address_a", "address_b_id", "address_b", "txid", "tx_id", "heuristic",
                "confidence", "size_a", "size_b")
        rows = _rows(self.db.execute(
            "SELECT l.seq, l.address_a, aa.address, l.address_b, ab.address, coalesce(t.txid, x.hash), l.tx_id, "
            "l.heuristic, l.confidence, l.size_a, l.size_b FROM cluster_links l "
            "LEFT JOIN addresses aa ON aa.chain = l.chain AND aa.id = l.address_a "
            "LEFT JOIN addresses ab ON ab.chain = l.chain AND ab.id = l.address_b "
            "LEFT JOIN txs t ON t.chain = l.chain AND t.tx_id = l.tx_id "
            "LEFT JOIN account_txs x ON x.chain = l.chain AND x.tx_id = l.tx_id "
            "WHERE l.chain = ? AND l.set_id = ? AND l.seq IN (SELECT unnest(?))", [chain, sid, seqs]))
        return {int(r[0]): dict(zip(keys, r, strict=True)) for r in rows}

    def coinjoins(self, chain: str, set_id: int | None = None) -> list[dict[str, Any]]:
        sid = self._set_id(chain, set_id)
        keys = ("tx_id", "txid", "kind", "equal_value", "equal_count")
        return [dict(zip(keys, r, strict=True)) for r in _rows(self.db.execute(
            "SELECT c.tx_id, t.txid, c.kind, c.equal_value, c.equal_count FROM cluster_coinjoins c "
            "LEFT JOIN txs t ON t.chain = c.chain AND t.tx_id = c.tx_id WHERE c.chain = ? AND c.set_id = ? "
            "ORDER BY c.tx_id", [chain, sid]))]

    def addresses_text(self, chain: str, ids: list[int]) -> dict[int, str]:
        """Address text of address ids."""
        return {int(i): str(a) for i, a in _rows(self.db.execute(
            "SELECT id, address FROM addresses WHERE chain = ? AND id IN (SELECT unnest(?))", [chain, ids]))}

    def txids(self, chain: str, tx_ids: list[int]) -> dict[int, str]:
        """Txid (hex) of dense tx ids."""
        return {int(i): str(t) for i, t in _rows(self.db.execute(
            "SELECT tx_id, txid FROM txs WHERE chain = ? AND tx_id IN (SELECT unnest(?))", [chain, tx_ids]))}

    def largest(self, chain: str, set_id: int, limit: int = 10) -> list[tuple[int, int]]:
        """(cluster_id, size) of the largest clusters of a set."""
        return [(int(c), int(s)) for c, s in _rows(self.db.execute(
            "SELECT cluster_id, count(*) AS s FROM cluster_members WHERE chain = ? AND set_id = ? "
            "GROUP BY cluster_id ORDER BY s DESC, cluster_id LIMIT ?", [chain, set_id, limit]))]
