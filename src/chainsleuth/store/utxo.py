"""UTXO-chain tables: the batch writer (:mod:`.utxo_writer`) and the readers.

Readers see the best chain (``best`` on blocks, txs, outputs and inputs; see :mod:`.blocktree`) unless they
are asked for stale blocks explicitly. A transaction stored more than once (in a stale block and in the
best chain, or BIP30's duplicate coinbases) is read from its best-chain copy.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from chainsleuth.core.chains import get_chain
from chainsleuth.core.records import UtxoBatch
from chainsleuth.store.db import Database
from chainsleuth.store.lookups import KeyLookups

if TYPE_CHECKING:
    from chainsleuth.store.utxo_writer import UtxoWriter

__all__ = ["UtxoStore", "WriteResult", "canonical_tx_ids"]


@dataclass(frozen=True)
class WriteResult:
    """What one batch added (and, for the best chain, moved)."""

    blocks_new: int
    txs_new: int
    outputs_new: int
    inputs_new: int
    inputs_resolved: int
    first_height: int | None
    last_height: int | None
    stale_blocks: int = 0           # blocks of this batch (or stored ones) now off the best chain
    reorganised: int = 0            # stored blocks whose best flag flipped




class UtxoStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._writer: UtxoWriter | None = None

    @property
    def writer(self) -> UtxoWriter:
        """The batch writer, built on first use (readers never load its compiled indexes)."""
        if self._writer is None:
            from chainsleuth.store.utxo_writer import UtxoWriter

            self._writer = UtxoWriter(self.db)
        return self._writer

    def write_batch(self, batch: UtxoBatch, run_id: int) -> WriteResult:
        """Write one batch in one transaction (see :class:`~chainsleuth.store.utxo_writer.UtxoWriter`)."""
        return self.writer.write_batch(batch, run_id)

    # ------------------------------------------------------------------------------------------
    # readers
    # ------------------------------------------------------------------------------------------
    def chains(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT chain FROM blocks ORDER BY chain").fetchall()]

    _BLOCK_COLS = ("chain", "hash", "height", "prev_hash", "time", "merkle_root", "tx_count", "size",
                   "stripped_size", "weight", "version", "bits", "nonce", "chainwork", "height_source", "best")

    def block(self, chain: str, *, hash: str | None = None, height: int | None = None) -> dict[str, Any] | None:
        """A block by hash (stale or not) or by height (on the best chain: the genesis-rooted tree first,
        then the tree of most work, for the rare height claimed by two detached segments), with its size,
        weight, segwit transaction count, chainwork, and whether it is on the best chain (with its depth
        below the tip of its tree: ``confirmations``)."""
        cols = ", ".join(f"b.{c}" for c in self._BLOCK_COLS)
        extra = ("(SELECT count(*) FROM txs t WHERE t.chain = b.chain AND t.tx_id >= b.first_tx_id "
                 "AND t.tx_id < b.first_tx_id + b.tx_count AND t.has_witness) AS segwit, "
                 "(SELECT max(x.depth) FROM blocks x WHERE x.chain = b.chain AND x.root = b.root AND x.best) "
                 "- b.depth + 1 AS confirmations")
        if hash is not None:
            row = self.db.one(f"SELECT {cols}, {extra} FROM blocks b WHERE b.chain = ? AND b.hash = ?", [chain, hash])
        elif height is not None:
            row = self.db.one(
                f"SELECT {cols}, {extra} FROM blocks b WHERE b.chain = ? AND b.height = ? AND b.best "
                "ORDER BY b.height_source = 'genesis' DESC, b.chainwork DESC, b.hash LIMIT 1", [chain, int(height)])
        else:
            row = None
        if row is None:
            return None
        d = dict(zip(self._BLOCK_COLS, row[:-2], strict=True))
        d["segwit_txs"] = int(row[-2])
        d["confirmations_in_data"] = int(row[-1]) if d["best"] else None
        if d["height_source"] != "genesis":
            d["chainwork"] = None     # work from the start of a detached segment is not the chain's work
        return d

    def best_hashes(self, chain: str, lo: int, hi: int) -> dict[int, str]:
        """height -> hash of the best chain's blocks at heights ``lo..hi`` (the genesis-rooted tree first)."""
        rows = self.db.all(
            "SELECT height, hash FROM blocks WHERE chain = ? AND best AND height BETWEEN ? AND ? "
            "ORDER BY height, height_source = 'genesis', chainwork, hash", [chain, int(lo), int(hi)])
        return {int(h): str(x) for h, x in rows}   # the last row of a height wins: genesis-rooted, most work

    def best_tip(self, chain: str) -> tuple[int, str] | None:
        """(height, hash) of the best chain's highest block with a known height; None when none is stored."""
        row = self.db.one("SELECT max(height) FROM blocks WHERE chain = ? AND best", [chain])
        if row is None or row[0] is None:
            return None
        h = int(row[0])
        return h, self.best_hashes(chain, h, h)[h]

    def coverage(self, chain: str) -> dict[str, Any]:
        """Which heights of the best chain the data holds: ranges of consecutive heights and the gaps
        between them, blocks whose height is unknown (detached, pre-BIP34), stale blocks, and segments
        (trees of blocks: 1 when everything links to one root)."""
        ranges = [[int(a), int(b)] for a, b in self.db.all(
            "SELECT min(height), max(height) FROM (SELECT height, height - row_number() OVER (ORDER BY height) AS g "
            "FROM (SELECT DISTINCT height FROM blocks WHERE chain = ? AND best AND height IS NOT NULL)) "
            "GROUP BY g ORDER BY 1", [chain])]
        row = self.db.one(
            "SELECT count(*) FILTER (WHERE best), count(*) FILTER (WHERE best AND height IS NULL), "
            "count(*) FILTER (WHERE NOT best), count(DISTINCT root), min(time) FILTER (WHERE best), "
            "max(time) FILTER (WHERE best) FROM blocks WHERE chain = ?", [chain])
        assert row is not None
        return {
            "first_height": ranges[0][0] if ranges else None, "last_height": ranges[-1][1] if ranges else None,
            "ranges": ranges, "gaps": [[a[1] + 1, b[0] - 1] for a, b in itertools.pairwise(ranges)],
            "complete": len(ranges) == 1 and ranges[0][0] == 0 and not row[1],
            "blocks": int(row[0]), "blocks_without_height": int(row[1]), "stale_blocks": int(row[2]),
            "segments": int(row[3]), "first_time": row[4], "last_time": row[5],
        }

    def find_tx_chains(self, txid: str) -> list[str]:
        return sorted({c for c, _ in KeyLookups(self.db).tx_ids(txid)})

    def copies(self, chain: str, txid: str) -> list[int]:
        """Tx ids of every stored copy of ``txid`` on ``chain`` (best chain or not)."""
        return [t for _, t in KeyLookups(self.db).tx_ids(txid, chain)]

    def tx(self, chain: str, txid: str, *, include_stale: bool = False) -> dict[str, Any] | None:
        """A transaction with its inputs and outputs: its best-chain copy (the latest, for BIP30's duplicate
        coinbases); with ``include_stale`` a copy in a stale block when it has no best-chain copy.

        Outputs say whether they can ever be spent (``unspendable``: OP_RETURN, the genesis coinbase, a
        coinbase overwritten by a later one with the same txid) and their ``status``: ``spent`` (by a
        best-chain input in the data), ``unspent_in_data`` (the data holds every block from this one to its
        last and no input spends it), ``unknown_beyond_data`` (blocks are missing after it: a spend may be
        in them), or ``unspendable``."""
        row = self.db.one(
            "SELECT t.tx_id, t.txid, t.block_hash, b.height, b.time, t.is_coinbase, t.input_value, t.output_value, "
            "t.best, EXISTS (SELECT 1 FROM txid_copies c WHERE c.chain = t.chain AND c.txid = t.txid) "
            "FROM txs t JOIN blocks b ON b.chain = t.chain AND b.hash = t.block_hash "
            "WHERE t.chain = ? AND t.tx_id IN (SELECT unnest(?)) AND (t.best OR ?) "
            "ORDER BY t.best DESC, b.height DESC NULLS LAST, t.block_hash LIMIT 1",
            [chain, self.copies(chain, txid), include_stale])
        if row is None:
            return None
        tx_id, txid, block_hash, height, time_, is_cb, in_val, out_val, best, copied = row
        ins = self.db.execute(
            "SELECT i.n, a.address, i.value, i.prev_txid, i.prev_n, i.script_type FROM inputs i "
            "LEFT JOIN addresses a ON a.chain = i.chain AND a.id = i.address_id "
            "WHERE i.chain = ? AND i.tx_id = ? ORDER BY i.n", [chain, tx_id]).fetchall()
        outs = self.db.execute(
            "SELECT o.n, a.address, o.value, o.script_type FROM outputs o "
            "LEFT JOIN addresses a ON a.chain = o.chain AND a.id = o.address_id "
            "WHERE o.chain = ? AND o.tx_id = ? ORDER BY o.n", [chain, tx_id]).fetchall()
        spent = self.spenders(chain, txid)
        whole = self._unspendable_tx(chain, block_hash, txid, height, bool(is_cb), bool(copied), bool(best))
        tail_known = self._covered_to_tip(chain, height)
        fee = 0 if is_cb else (None if in_val is None else in_val - out_val)

        def status(n: int, stype: str) -> tuple[str | None, str]:
            why = whole or ("OP_RETURN: provably unspendable" if stype == "op_return" else None)
            if why:
                return why, "unspendable"
            if n in spent:
                return None, "spent"
            return None, "unspent_in_data" if tail_known else "unknown_beyond_data"

        outputs = []
        for n, a, v, st in outs:
            why, state = status(n, st)
            outputs.append({"n": n, "outpoint": f"{txid}:{n}", "address": a, "value": v, "script_type": st,
                            "spent_by": spent.get(n), "status": state, "unspendable": why})
        return {
            "txid": txid, "chain": chain, "block_height": height, "block_hash": block_hash, "time": time_, "fee": fee,
            "best": bool(best), "inputs_outside_data": sum(1 for _, _, v, pt, _, _ in ins if pt is not None and v is None),
            "inputs": [
                {"n": n, "address": a, "value": (None if is_cb else v), "prev_txid": pt,
                 "prev_n": (None if pt is None else pn), "outpoint": None if pt is None else f"{pt}:{pn}",
                 "script_type": None if pt is None else stype}
                for n, a, v, pt, pn, stype in ins
            ],
            "outputs": outputs,
        }

    def _unspendable_tx(self, chain: str, block_hash: str, txid: str, height: int | None, coinbase: bool,
                        copied: bool, best: bool) -> str | None:
        """Why no output of this transaction can ever be spent, or None."""
        net = get_chain(chain).btc_network
        if coinbase and net is not None and block_hash == net.genesis_hash:
            return "genesis coinbase: never added to the UTXO set, so it cannot be spent"
        if coinbase and copied and best:
            later = self.db.one(
                "SELECT count(*) FROM txs t JOIN blocks b ON b.chain = t.chain AND b.hash = t.block_hash "
                "WHERE t.chain = ? AND t.tx_id IN (SELECT unnest(?)) AND t.best AND b.height > ?",
                [chain, self.copies(chain, txid), height or -1])
            if later and later[0]:
                return "coinbase overwritten by a later coinbase with the same txid (BIP30): cannot be spent"
        return None

    def _covered_to_tip(self, chain: str, height: int | None) -> bool:
        """Does the data hold every best-chain block from ``height`` to its last one?"""
        if height is None:
            return False
        cov = self.coverage(chain)
        return bool(cov["ranges"]) and cov["ranges"][-1][0] <= height <= cov["ranges"][-1][1]

    def unspendable_tx_ids(self, chain: str) -> set[int]:
        """Best-chain transactions none of whose outputs can ever be spent: the genesis coinbase and coinbases
        overwritten by a later coinbase with the same txid (BIP30)."""
        return {int(r[0]) for r in self.db.all(
            "SELECT t.tx_id FROM txs t JOIN blocks b ON b.chain = t.chain AND b.hash = t.block_hash "
            "WHERE t.chain = ? AND t.best AND t.is_coinbase AND (b.hash = ? OR (t.txid IN "
            "(SELECT txid FROM txid_copies WHERE chain = ?) AND EXISTS (SELECT 1 FROM txs x JOIN blocks y ON "
            "y.chain = x.chain AND y.hash = x.block_hash WHERE x.chain = t.chain AND x.txid = t.txid AND x.best "
            "AND y.height > b.height)))", [chain, _genesis(chain), chain])}

    def spenders(self, chain: str, txid: str) -> dict[int, str]:
        """``n -> "txid:input"`` of the best-chain inputs spending the outputs of ``txid`` (any copy)."""
        return {int(pn): f"{t}:{n}" for pn, t, n in self.db.execute(
            "SELECT i.prev_n, s.txid, i.n FROM inputs i JOIN txs s ON s.chain = i.chain AND s.tx_id = i.tx_id "
            "WHERE i.chain = ? AND i.best AND i.prev_tx_id IN (SELECT unnest(?)) "
            "ORDER BY i.tx_id, i.n", [chain, self.copies(chain, txid)]).fetchall()}

    def address_id(self, chain: str, address: str) -> int | None:
        got = KeyLookups(self.db).address_ids([address], chain)
        return got[0][2] if got else None

    def find_address_chains(self, address: str) -> list[str]:
        return sorted({c for c, _, _ in KeyLookups(self.db).address_ids([address])})

    def address_summary(self, chain: str, address: str) -> dict[str, Any] | None:
        """Received, sent and balance of an address on the best chain.

        Received counts its best-chain outputs and, where the data holds the spending input but only a stale
        copy of the paying transaction, the output that input proves existed; sent counts the best-chain
        inputs spending from it."""
        aid = self.address_id(chain, address)
        if aid is None:
            return None
        row = self.db.execute(
            "WITH o AS (SELECT tx_id, value FROM outputs WHERE chain = ? AND address_id = ? AND best), "
            "i AS (SELECT tx_id, prev_tx_id, value FROM inputs WHERE chain = ? AND address_id = ? AND best), "
            "implied AS (SELECT i.value FROM i JOIN txs p ON p.chain = ? AND p.tx_id = i.prev_tx_id "
            "            WHERE NOT p.best AND NOT EXISTS (SELECT 1 FROM txs q WHERE q.chain = ? AND q.txid = p.txid "
            "            AND q.best AND p.txid IN (SELECT txid FROM txid_copies WHERE chain = ?))), "
            "ids AS (SELECT tx_id FROM o UNION SELECT tx_id FROM i), "
            "tm AS (SELECT b.time FROM ids JOIN txs t ON t.chain = ? AND t.tx_id = ids.tx_id "
            "       JOIN blocks b ON b.chain = t.chain AND b.hash = t.block_hash) "
            "SELECT (SELECT coalesce(sum(value), 0) FROM o) + (SELECT coalesce(sum(value), 0) FROM implied), "
            "       (SELECT coalesce(sum(value), 0) FROM i), "
            "       (SELECT count(*) FROM ids), (SELECT min(time) FROM tm), (SELECT max(time) FROM tm)",
            [chain, aid, chain, aid, chain, chain, chain, chain]).fetchall()[0]
        received, sent, n, first, last = (int(row[0]), int(row[1]), int(row[2]), row[3], row[4])
        facts = self.db.one(
            "WITH o AS (SELECT o.tx_id, o.n, o.value, o.script_type FROM outputs o WHERE o.chain = ? AND "
            "o.address_id = ? AND o.best), "
            "i AS (SELECT tx_id FROM inputs WHERE chain = ? AND address_id = ? AND best), "
            "blk AS (SELECT DISTINCT t.block_hash FROM txs t WHERE t.chain = ? AND t.tx_id IN "
            "        (SELECT tx_id FROM o UNION SELECT tx_id FROM i)) "
            "SELECT (SELECT list(DISTINCT script_type ORDER BY script_type) FROM o), "
            "(SELECT list(DISTINCT b.run_id ORDER BY b.run_id) FROM blk JOIN blocks b ON b.chain = ? AND b.hash = "
            " blk.block_hash), "
            "(SELECT min(b.height) FROM blk JOIN blocks b ON b.chain = ? AND b.hash = blk.block_hash), "
            "(SELECT max(b.height) FROM blk JOIN blocks b ON b.chain = ? AND b.hash = blk.block_hash), "
            "(SELECT coalesce(sum(o.value), 0) FROM o JOIN txs t ON t.chain = ? AND t.tx_id = o.tx_id "
            " JOIN blocks b ON b.chain = t.chain AND b.hash = t.block_hash WHERE t.is_coinbase AND (b.hash = ? OR "
            " (t.txid IN (SELECT txid FROM txid_copies WHERE chain = ?) AND EXISTS (SELECT 1 FROM txs x JOIN blocks "
            " y ON y.chain = x.chain AND y.hash = x.block_hash WHERE x.chain = ? AND x.txid = t.txid AND x.best AND "
            " y.height > b.height))))",
            [chain, aid, chain, aid, chain, chain, chain, chain, chain, _genesis(chain), chain, chain])
        assert facts is not None
        return {"address": address, "chain": chain, "address_id": aid, "received": received, "sent": sent,
                "balance": received - sent, "tx_count": n, "first_seen": first, "last_seen": last,
                "script_types": list(facts[0] or []), "ingest_runs": list(facts[1] or []),
                "first_height": facts[2], "last_height": facts[3], "unspendable": int(facts[4])}

    def address_txs(self, chain: str, address_id: int, *, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """The best-chain transactions of an address, newest first (height, then position in the block), a page
        of ``limit`` after ``offset``: txid, height, time, what it received and what it spent in each."""
        rows = self.db.execute(
            "WITH o AS (SELECT tx_id, sum(value) AS v FROM outputs WHERE chain = ? AND address_id = ? AND best "
            "GROUP BY tx_id), "
            "i AS (SELECT tx_id, sum(value) AS v FROM inputs WHERE chain = ? AND address_id = ? AND best GROUP BY tx_id), "
            "ids AS (SELECT coalesce(o.tx_id, i.tx_id) AS tx_id, coalesce(o.v, 0) AS received, coalesce(i.v, 0) AS sent "
            "        FROM o FULL JOIN i ON i.tx_id = o.tx_id) "
            "SELECT t.txid, b.height, b.time, t.block_index, ids.received, ids.sent FROM ids "
            "JOIN txs t ON t.chain = ? AND t.tx_id = ids.tx_id JOIN blocks b ON b.chain = t.chain AND b.hash = t.block_hash "
            "ORDER BY b.height DESC NULLS LAST, t.block_index DESC, t.tx_id DESC LIMIT ? OFFSET ?",
            [chain, address_id, chain, address_id, chain, limit, offset]).fetchall()
        return [{"txid": txid, "height": None if h is None else int(h), "time": tm, "index": int(ix),
                 "received": int(r), "sent": int(sn)} for txid, h, tm, ix, r, sn in rows]

    def stats(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for chain, nb, stale, hmin, hmax, ntx, segments, partial in self.db.execute(
                "SELECT chain, count(*) FILTER (WHERE best), count(*) FILTER (WHERE NOT best), "
                "min(height) FILTER (WHERE best), max(height) FILTER (WHERE best), "
                "coalesce(sum(tx_count) FILTER (WHERE best), 0), count(DISTINCT root), "
                "count(*) FILTER (WHERE partial) "
                "FROM blocks GROUP BY chain ORDER BY chain").fetchall():
            no, utxo = self.db.execute(
                "SELECT count(*), coalesce(sum(value), 0) FROM outputs WHERE chain = ? AND best", [chain]).fetchall()[0]
            ni, nres, spent = self.db.execute(
                "SELECT count(*) FILTER (WHERE prev_txid IS NOT NULL), count(value), "
                "coalesce(sum(value) FILTER (WHERE prev_tx_id IS NOT NULL), 0) "
                "FROM inputs WHERE chain = ? AND best", [chain]).fetchall()[0]
            na = self.db.execute("SELECT count(*) FROM addresses WHERE chain = ?", [chain]).fetchall()[0]
            out[chain] = {
                "model": "utxo", "blocks": int(nb), "stale_blocks": int(stale), "segments": int(segments),
                "min_height": hmin, "max_height": hmax, "txs": int(ntx), "outputs": int(no), "inputs": int(ni),
                "inputs_resolved": int(nres), "addresses": int(na[0]) if na else 0,
                "unspent_value": int(utxo) - int(spent),
            }
            if partial:     # blocks fetched one transaction at a time (Esplora): not every transaction is stored
                stored = self.db.one("SELECT count(*) FROM txs WHERE chain = ? AND best", [chain])
                out[chain]["partial_blocks"] = int(partial)
                out[chain]["txs_stored"] = int(stored[0]) if stored else 0
        return out

    def canonical_tx_ids(self, chain: str, tx_ids: np.ndarray, best: np.ndarray) -> np.ndarray:
        return canonical_tx_ids(self.db, chain, tx_ids, best)


def _genesis(chain: str) -> str:
    net = get_chain(chain).btc_network
    return "" if net is None else net.genesis_hash


def canonical_tx_ids(db: Database, chain: str, tx_ids: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Map tx ids to the best-chain copy of the same txid (-1 where none is stored); ``best`` is the best
    flag per tx id. Only the txids listed in ``txid_copies`` are looked up; a stale tx with no other copy
    maps to -1 (it is not on the best chain)."""
    out = np.where(tx_ids >= 0, tx_ids, -1).astype(np.int64)
    valid = out >= 0
    off = np.zeros(out.size, dtype=bool)
    off[valid] = ~best[out[valid]]
    copies = db.execute(
        "SELECT t.tx_id, t.txid, t.best, coalesce(b.height, -1) FROM txs t JOIN txid_copies c ON c.chain = t.chain "
        "AND c.txid = t.txid LEFT JOIN blocks b ON b.chain = t.chain AND b.hash = t.block_hash WHERE t.chain = ?",
        [chain]).fetchall()
    if not copies and not off.any():
        return out
    latest: dict[str, int] = {}
    for tid, txid, is_best, _h in sorted(copies, key=lambda r: (r[3], r[0])):   # the latest best copy wins
        if is_best:
            latest[txid] = int(tid)
    remap = {int(tid): latest.get(txid, -1) for tid, txid, _, _ in copies}
    for tid in np.unique(out[off]).tolist():
        remap.setdefault(int(tid), -1)
    keys = np.fromiter(remap.keys(), dtype=np.int64, count=len(remap))
    vals = np.fromiter(remap.values(), dtype=np.int64, count=len(remap))
    order = np.argsort(keys)
    keys, vals = keys[order], vals[order]
    pos = np.searchsorted(keys, out)
    hit = valid & (keys[np.minimum(pos, keys.size - 1)] == out)
    out[hit] = vals[pos[hit]]
    return out
