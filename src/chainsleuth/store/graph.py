"""Bulk exports of what the tracing engine needs, as numpy arrays (one query per column group).

UTXO chains: every input and output row ordered by (tx_id, n) with values, address ids and the output row
each input spends (computed in numpy from ``prev_tx_id`` / ``prev_n``); heights and times per tx. Account
chains: the transfers of one asset in chain order (block, tx index, transfer index), with exact Python-int
values. Plus the small lookups a trace result needs (txids, addresses, tags by category).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainsleuth.store.db import Database
from chainsleuth.store.lookups import KeyLookups
from chainsleuth.store.utxo import canonical_tx_ids

__all__ = ["GraphStore"]


def _np(cur: Any) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in cur.fetchnumpy().items()}


class GraphStore:
    """Read-only exports for tracing, exposure and path search."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _has_table(self, name: str) -> bool:
        row = self.db.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()
        return bool(row and row[0])

    # -- UTXO -----------------------------------------------------------------------------------------
    def utxo_version(self, chain: str) -> tuple[int, int, int, int]:
        """(txs, inputs resolved, last ingest run, stale blocks): changes whenever the exported arrays would."""
        row = self.db.execute(
            "SELECT (SELECT count(*) FROM txs WHERE chain = ?), "
            "(SELECT count(value) FROM inputs WHERE chain = ?), "
            "(SELECT coalesce(max(run_id), 0) FROM ingest_runs WHERE chain = ?), "
            "(SELECT count(*) FROM blocks WHERE chain = ? AND NOT best)", [chain] * 4).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2]), int(row[3])

    def utxo_arrays(self, chain: str) -> dict[str, np.ndarray]:
        """Columns for :meth:`chainsleuth.algorithms.tracing.UtxoGraph.build` plus per-tx height and time,
        over the best chain (stale transactions keep their ids but have no inputs or outputs).

        Keys: ``n_tx`` (0-d), ``in_tx``, ``in_value`` (0 when its output is not on the best chain in the
        data; the source's value when the data does not hold the output but its source told the value), ``in_prev`` (output row, -1), ``in_addr`` (-1), ``out_tx``, ``out_n``, ``out_value``,
        ``out_addr`` (-1), ``tx_height`` (-1 unknown), ``tx_time``, ``is_coinbase``, ``tx_best``.
        """
        tx = _np(self.db.execute(
            "SELECT t.tx_id, coalesce(b.height, -1) AS height, coalesce(b.time, 0) AS time, t.is_coinbase, t.best "
            "FROM txs t LEFT JOIN blocks b ON b.chain = t.chain AND b.hash = t.block_hash "
            "WHERE t.chain = ? ORDER BY t.tx_id", [chain]))
        n_tx = int(tx["tx_id"][-1]) + 1 if tx["tx_id"].size else 0
        height = np.full(n_tx, -1, dtype=np.int64)
        time_ = np.zeros(n_tx, dtype=np.int64)
        cb = np.zeros(n_tx, dtype=bool)
        best = np.zeros(n_tx, dtype=bool)
        ids = tx["tx_id"].astype(np.int64)
        height[ids] = tx["height"]
        time_[ids] = tx["time"]
        cb[ids] = tx["is_coinbase"]
        best[ids] = tx["best"]
        outs = _np(self.db.execute(
            "SELECT tx_id, n, value, coalesce(address_id, -1) AS addr FROM outputs WHERE chain = ? AND best "
            "ORDER BY tx_id, n", [chain]))
        ins = _np(self.db.execute(
            "SELECT tx_id, coalesce(value, 0) AS value, coalesce(prev_tx_id, -1) AS prev_tx, "
            "coalesce(prev_n, -1) AS prev_n, coalesce(address_id, -1) AS addr, "
            "prev_tx_id IS NULL AND value IS NOT NULL AS told "
            "FROM inputs WHERE chain = ? AND best ORDER BY tx_id, n", [chain]))
        out_tx = outs["tx_id"].astype(np.int64)
        out_n = outs["n"].astype(np.int64)
        # output row of (prev_tx, prev_n) on the best chain: first row of prev_tx plus the position of n in it
        ptr = np.zeros(n_tx + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(np.bincount(out_tx, minlength=n_tx))
        prev_tx = canonical_tx_ids(self.db, chain, ins["prev_tx"].astype(np.int64), best)
        prev_n = ins["prev_n"].astype(np.int64)
        ok = prev_tx >= 0
        row = np.full(prev_tx.size, -1, dtype=np.int64)
        cand = ptr[np.where(ok, prev_tx, 0)] + np.maximum(prev_n, 0)
        ok &= cand < np.where(ok, ptr[np.minimum(np.maximum(prev_tx, 0) + 1, n_tx)], 0)
        ok[ok] &= out_n[cand[ok]] == prev_n[ok]
        row[ok] = cand[ok]
        # an input whose output the data does not hold keeps the value its source told (an explorer API's prevout)
        value = np.where((row >= 0) | ins["told"].astype(bool), ins["value"].astype(np.int64), 0)
        return {
            "n_tx": np.asarray(n_tx), "in_tx": ins["tx_id"].astype(np.int64), "in_value": value, "in_prev": row,
            "in_addr": ins["addr"].astype(np.int64), "out_tx": out_tx, "out_n": out_n,
            "out_value": outs["value"].astype(np.int64), "out_addr": outs["addr"].astype(np.int64),
            "tx_height": height, "tx_time": time_, "is_coinbase": cb, "tx_best": best,
        }

    def tx_ids(self, chain: str, txid: str) -> list[int]:
        """Dense ids of a txid's best-chain copies (more than one only for BIP30 duplicates), the latest first."""
        return [int(r[0]) for r in self.db.execute(
            "SELECT t.tx_id FROM txs t JOIN blocks b ON b.chain = t.chain AND b.hash = t.block_hash "
            "WHERE t.chain = ? AND t.tx_id IN (SELECT unnest(?)) AND t.best ORDER BY b.height DESC NULLS LAST, "
            "t.tx_id DESC", [chain, [t for _, t in KeyLookups(self.db).tx_ids(txid, chain)]]).fetchall()]

    def txids(self, chain: str, tx_ids: list[int]) -> dict[int, str]:
        if not tx_ids:
            return {}
        return {int(a): str(b) for a, b in self.db.execute(
            "SELECT tx_id, txid FROM txs WHERE chain = ? AND tx_id IN (SELECT unnest(?))",
            [chain, [int(x) for x in set(tx_ids)]]).fetchall()}

    # -- account chains -------------------------------------------------------------------------------
    def account_version(self, chain: str) -> tuple[int, int]:
        row = self.db.execute(
            "SELECT (SELECT count(*) FROM transfers WHERE chain = ?), "
            "(SELECT coalesce(max(run_id), 0) FROM ingest_runs WHERE chain = ?)", [chain, chain]).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def account_assets(self, chain: str, address_id: int) -> list[int]:
        """Assets an address ever sent or received: -1 for the native coin, else the token contract's id."""
        return [int(r[0]) for r in self.db.execute(
            "SELECT DISTINCT coalesce(asset_id, -1) FROM transfers WHERE chain = ? AND (from_id = ? OR to_id = ?) "
            "AND kind NOT IN ('erc721', 'erc1155') ORDER BY 1", [chain, address_id, address_id]).fetchall()]

    def account_arrays(self, chain: str, asset_id: int) -> dict[str, Any]:
        """Transfers of one asset (-1 = native, -2 = every fungible asset: for path search) in chain order,
        failed transactions' value transfers left out (their fee still counts). ``value`` is a list of Python
        ints (wei exceeds int64); ``fee`` marks gas fees and burns."""
        rows = self.db.execute(
            "SELECT coalesce(t.from_id, -1), coalesce(t.to_id, -1), "
            "CAST(coalesce(CAST(t.value AS VARCHAR), t.value_big, '0') AS VARCHAR), coalesce(t.tx_id, -1), "
            "t.kind IN ('fee', 'burn'), t.block_number, coalesce(b.time, 0), coalesce(t.tx_index, -1), t.\"index\", "
            "coalesce(t.asset_id, -1) "
            "FROM transfers t LEFT JOIN account_txs x ON x.chain = t.chain AND x.tx_id = t.tx_id "
            "LEFT JOIN account_blocks b ON b.chain = t.chain AND b.number = t.block_number "
            "WHERE t.chain = ? AND (? = -2 OR coalesce(t.asset_id, -1) = ?) AND t.kind NOT IN ('erc721', 'erc1155') "
            "AND (coalesce(x.status, 1) <> 0 OR t.kind IN ('fee', 'burn')) "
            "ORDER BY t.block_number, coalesce(t.tx_index, -1), t.\"index\"", [chain, asset_id, asset_id]).fetchall()
        cols: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [() for _ in range(10)]
        return {
            "from": np.asarray(cols[0], dtype=np.int64), "to": np.asarray(cols[1], dtype=np.int64),
            "value": [int(v) for v in cols[2]], "tx": np.asarray(cols[3], dtype=np.int64),
            "fee": np.asarray(cols[4], dtype=bool), "height": np.asarray(cols[5], dtype=np.int64),
            "time": np.asarray(cols[6], dtype=np.int64), "tx_index": np.asarray(cols[7], dtype=np.int64),
            "index": np.asarray(cols[8], dtype=np.int64), "asset": np.asarray(cols[9], dtype=np.int64),
        }

    def account_tx_ids(self, chain: str, tx_hash: str) -> list[int]:
        return [int(r[0]) for r in self.db.execute(
            "SELECT tx_id FROM account_txs WHERE chain = ? AND hash = ? ORDER BY tx_id DESC", [chain, tx_hash]).fetchall()]

    def account_tx_hashes(self, chain: str, tx_ids: list[int]) -> dict[int, str]:
        if not tx_ids:
            return {}
        return {int(a): str(b) for a, b in self.db.execute(
            "SELECT tx_id, hash FROM account_txs WHERE chain = ? AND tx_id IN (SELECT unnest(?))",
            [chain, [int(x) for x in set(tx_ids)]]).fetchall()}

    def tx_assets(self, chain: str, tx_hash: str) -> list[str]:
        """Token contracts (address text) whose units a transaction moved."""
        return [str(r[0]) for r in self.db.execute(
            "SELECT DISTINCT a.address FROM transfers t JOIN account_txs x ON x.chain = t.chain AND x.tx_id = t.tx_id "
            "JOIN addresses a ON a.chain = t.chain AND a.id = t.asset_id WHERE t.chain = ? AND x.hash = ? "
            "AND t.kind = 'erc20' ORDER BY 1", [chain, tx_hash]).fetchall()]

    def token_ids(self, chain: str, symbol: str) -> list[int]:
        """Token contract ids whose symbol is ``symbol`` (case-insensitive)."""
        if not self._has_table("tokens"):
            return []
        return [int(r[0]) for r in self.db.execute(
            "SELECT DISTINCT address_id FROM tokens WHERE chain = ? AND upper(symbol) = upper(?) ORDER BY 1",
            [chain, symbol]).fetchall()]

    def n_addresses(self, chain: str) -> int:
        row = self.db.execute("SELECT coalesce(max(id), -1) + 1 FROM addresses WHERE chain = ?", [chain]).fetchone()
        return int(row[0]) if row else 0

    # -- lookups --------------------------------------------------------------------------------------
    def addresses(self, chain: str, ids: list[int]) -> dict[int, str]:
        if not ids:
            return {}
        return {int(a): str(b) for a, b in self.db.execute(
            "SELECT id, address FROM addresses WHERE chain = ? AND id IN (SELECT unnest(?))",
            [chain, [int(x) for x in set(ids)]]).fetchall()}

    def address_ids(self, chain: str, addresses: list[str]) -> dict[str, int]:
        if not addresses:
            return {}
        return {a: i for _, a, i in KeyLookups(self.db).address_ids(addresses, chain)}

    def address_attributions(self, chain: str) -> dict[str, np.ndarray]:
        """Every tagged address of the chain that is in the workspace, one row per (address, tag) with a
        category: ``address_id``, ``category``, ``entity`` (the actor's label from an ActorPack, else the tag's
        label, else the actor id), ``source`` (pack URI),
        ``confidence`` (0-100, -1 unknown), ``cluster_definer``. Empty when no tags were imported."""
        empty = {"address_id": np.empty(0, dtype=np.int64), "category": np.empty(0, dtype=object),
                 "entity": np.empty(0, dtype=object), "source": np.empty(0, dtype=object),
                 "confidence": np.empty(0, dtype=np.int64), "cluster_definer": np.empty(0, dtype=bool)}
        if not self._has_table("tags"):
            return empty
        has_actors = self._has_table("tag_actors")
        actor_join = ("LEFT JOIN (SELECT actor_id, any_value(label) AS label FROM tag_actors GROUP BY actor_id) ac "
                      "ON ac.actor_id = t.actor " if has_actors else "")
        entity = "coalesce(ac.label, t.label, t.actor)" if has_actors else "coalesce(t.label, t.actor)"
        rows = self.db.execute(
            f"SELECT a.id, coalesce(t.category, ''), {entity}, p.uri, coalesce(t.confidence_level, -1), "
            "t.is_cluster_definer FROM tags t JOIN addresses a ON a.chain = t.chain AND a.address = t.identifier "
            f"JOIN tag_packs p ON p.pack_id = t.pack_id {actor_join}"
            "WHERE t.chain = ? AND t.subject = 'address' ORDER BY a.id, t.confidence_level DESC NULLS LAST, t.tag_id",
            [chain]).fetchall()
        if not rows:
            return empty
        c = list(zip(*rows, strict=True))
        return {"address_id": np.asarray(c[0], dtype=np.int64), "category": np.asarray(c[1], dtype=object),
                "entity": np.asarray(c[2], dtype=object), "source": np.asarray(c[3], dtype=object),
                "confidence": np.asarray(c[4], dtype=np.int64), "cluster_definer": np.asarray(c[5], dtype=bool)}

    def tag_sources(self, chain: str) -> list[str]:
        """URIs of the tag packs with tags on this chain (provenance of attributions)."""
        if not self._has_table("tags"):
            return []
        return [str(r[0]) for r in self.db.execute(
            "SELECT DISTINCT p.uri FROM tags t JOIN tag_packs p ON p.pack_id = t.pack_id WHERE t.chain = ? ORDER BY 1",
            [chain]).fetchall()]

    def ingest_provenance(self, chain: str) -> dict[str, Any]:
        """Ingest runs behind a chain's data and what it covers: heights as ranges, with the gaps between them
        (a trace across a gap may miss movements in the blocks that are not there)."""
        runs = [dict(zip(("run_id", "source_kind", "endpoint", "first_height", "last_height", "content_hash"), r,
                         strict=True)) for r in self.db.execute(
            "SELECT run_id, source_kind, endpoint, first_height, last_height, content_hash FROM ingest_runs "
            "WHERE chain = ? ORDER BY run_id", [chain]).fetchall()]
        from chainsleuth.core.chains import Model, get_chain

        if get_chain(chain).model is Model.UTXO:
            from chainsleuth.store.utxo import UtxoStore

            cov = UtxoStore(self.db).coverage(chain)
        else:
            from chainsleuth.store.account import AccountStore

            cov = AccountStore(self.db).coverage(chain)
        return {"ingest_runs": runs, "coverage": cov}
