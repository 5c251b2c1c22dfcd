"""UTXO-chain tables: the idempotent batch writer and the readers.

Writing a batch is one transaction: blocks already in the store are skipped (so ingesting the same file
twice changes nothing), dense ids are assigned to new txs and addresses, and prevouts are resolved in
bulk by SQL joins (input address and value copied from the spent output; the output marked spent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.core.records import UtxoBatch
from chainsleuth.errors import InvalidInput
from chainsleuth.store.db import Database

__all__ = ["UtxoStore", "WriteResult"]


@dataclass(frozen=True)
class WriteResult:
    blocks_new: int
    txs_new: int
    outputs_new: int
    inputs_new: int
    inputs_resolved: int
    first_height: int | None
    last_height: int | None


def _first_occurrence(table: pa.Table, keys: list[str]) -> pa.Table:
    """Rows of ``table`` whose key columns were not seen in an earlier row (order kept)."""
    numbered = table.select(keys).append_column("_row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    first = numbered.group_by(keys, use_threads=False).aggregate([("_row", "min")])["_row_min"]
    return table.take(pc.sort_indices(first))


class UtxoStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------------------------------
    # writer
    # ------------------------------------------------------------------------------------------
    def write_batch(self, batch: UtxoBatch, run_id: int) -> WriteResult:
        """Write one batch in one transaction. Blocks already stored are skipped."""
        if batch.n_blocks == 0:
            return WriteResult(0, 0, 0, 0, 0, None, None)
        chains = pc.unique(batch.blocks["chain"]).to_pylist()
        if len(chains) != 1:
            raise InvalidInput("a batch must hold blocks of one chain", value=chains)
        chain = chains[0]
        with self.db.transaction() as con:
            existing = {
                r[0] for r in con.execute(
                    "SELECT hash FROM blocks WHERE chain = ? AND hash IN (SELECT unnest(?))",
                    [chain, batch.blocks["hash"].to_pylist()],
                ).fetchall()
            }
            blocks = self._new_blocks(batch.blocks, existing)
            if blocks.num_rows == 0:
                return WriteResult(0, 0, 0, 0, 0, None, None)
            blocks = self._link_heights(con, chain, blocks)
            new_hashes = blocks["hash"]
            txs = batch.txs.filter(pc.is_in(batch.txs["block_hash"], value_set=new_hashes))
            outputs = batch.outputs.filter(pc.is_in(batch.outputs["block_hash"], value_set=new_hashes))
            inputs = batch.inputs.filter(pc.is_in(batch.inputs["block_hash"], value_set=new_hashes))
            if txs.num_rows != pc.sum(blocks["tx_count"]).as_py():
                # the same block appears twice in this batch (e.g. overlapping files): keep the first copy
                txs = _first_occurrence(txs, ["block_hash", "block_index"])
                outputs = _first_occurrence(outputs, ["block_hash", "txid", "n"])
                inputs = _first_occurrence(inputs, ["block_hash", "txid", "n"])

            blocks = blocks.append_column("run_id", pa.array(np.full(blocks.num_rows, run_id, dtype=np.int64)))
            con.register("b_blocks", blocks)
            con.execute(
                "INSERT INTO blocks (chain, hash, height, height_source, prev_hash, merkle_root, time, version, bits, "
                "nonce, tx_count, size, stripped_size, weight, run_id, source_file, source_offset) "
                "SELECT chain, hash, height, height_source, prev_hash, merkle_root, time, version, bits, nonce, "
                "tx_count, size, stripped_size, weight, run_id, source_file, source_offset FROM b_blocks"
            )
            con.unregister("b_blocks")
            self._backfill_heights(con, chain)

            base = int(con.execute("SELECT coalesce(max(tx_id), -1) + 1 FROM txs WHERE chain = ?",
                                   [chain]).fetchall()[0][0])  # type: ignore[index]
            txs = txs.append_column("tx_id", pa.array(np.arange(base, base + txs.num_rows, dtype=np.int64)))
            con.register("b_txs", txs)
            con.execute(
                "INSERT INTO txs (chain, tx_id, txid, wtxid, block_hash, block_index, version, locktime, size, vsize, "
                "weight, is_coinbase, has_witness, n_in, n_out, output_value, input_value) "
                "SELECT chain, tx_id, txid, wtxid, block_hash, block_index, version, locktime, size, vsize, weight, "
                "is_coinbase, has_witness, n_in, n_out, output_value, CASE WHEN is_coinbase THEN 0 END FROM b_txs"
            )
            # addresses: dense ids for the new ones
            con.register("b_outputs", outputs)
            con.execute(
                "INSERT INTO addresses (chain, id, address) "
                "SELECT ?, (SELECT coalesce(max(id), -1) FROM addresses WHERE chain = ?) + row_number() OVER (ORDER BY first_pos), a "
                "FROM (SELECT address AS a, min(rowid_) AS first_pos FROM "
                "      (SELECT address, row_number() OVER () AS rowid_ FROM b_outputs WHERE address IS NOT NULL) "
                "      GROUP BY address) n "
                "WHERE NOT EXISTS (SELECT 1 FROM addresses x WHERE x.chain = ? AND x.address = n.a)",
                [chain, chain, chain],
            )
            con.execute(
                "INSERT INTO outputs (chain, tx_id, n, value, script_type, address_id, script) "
                "SELECT o.chain, t.tx_id, o.n, o.value, o.script_type, a.id, o.script "
                "FROM b_outputs o JOIN b_txs t ON t.block_hash = o.block_hash AND t.txid = o.txid "
                "LEFT JOIN addresses a ON a.chain = o.chain AND a.address = o.address"
            )
            con.unregister("b_outputs")
            con.register("b_inputs", inputs)
            # resolve this batch's inputs before inserting them (stored outputs and this batch's own), so the
            # big inputs table is only appended to, never updated, on the usual in-order ingest
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _bin AS "
                "SELECT i.chain, t.tx_id, i.n, i.prev_txid, i.prev_n, i.sequence, i.script_sig_size, i.witness_items "
                "FROM b_inputs i JOIN b_txs t ON t.block_hash = i.block_hash AND t.txid = i.txid"
            )
            con.unregister("b_inputs")
            con.unregister("b_txs")
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _bres AS "
                "WITH p AS (SELECT txid, max(tx_id) AS tx_id FROM txs "
                "           WHERE chain = ? AND txid IN (SELECT prev_txid FROM _bin) GROUP BY txid) "
                "SELECT b.tx_id, b.n, p.tx_id AS prev_tx_id, b.prev_n, o.address_id, o.value "
                "FROM _bin b JOIN p ON p.txid = b.prev_txid "
                "JOIN outputs o ON o.chain = ? AND o.tx_id = p.tx_id AND o.n = b.prev_n",
                [chain, chain],
            )
            con.execute(
                "INSERT INTO inputs (chain, tx_id, n, prev_txid, prev_n, prev_tx_id, address_id, value, sequence, "
                "script_sig_size, witness_items) "
                "SELECT b.chain, b.tx_id, b.n, b.prev_txid, b.prev_n, r.prev_tx_id, r.address_id, r.value, b.sequence, "
                "b.script_sig_size, b.witness_items "
                "FROM _bin b LEFT JOIN _bres r ON r.tx_id = b.tx_id AND r.n = b.n"
            )
            con.execute(
                "INSERT INTO unresolved_inputs (chain, tx_id, n, prev_txid, prev_n) "
                "SELECT b.chain, b.tx_id, b.n, b.prev_txid, b.prev_n FROM _bin b "
                "WHERE b.prev_txid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM _bres r WHERE r.tx_id = b.tx_id AND r.n = b.n)"
            )
            resolved = int(con.execute("SELECT count(*) FROM _bres").fetchall()[0][0])
            if resolved:
                con.execute(
                    "UPDATE outputs SET spent_tx_id = r.tx_id, spent_n = r.n FROM _bres r "
                    "WHERE outputs.chain = ? AND outputs.tx_id = r.prev_tx_id AND outputs.n = r.prev_n", [chain])
                con.execute(
                    "UPDATE txs SET input_value = s.v FROM ("
                    "  SELECT b.tx_id, sum(r.value) AS v FROM _bin b LEFT JOIN _bres r ON r.tx_id = b.tx_id AND r.n = b.n"
                    "  GROUP BY b.tx_id HAVING count(r.value) = count(*)) s "
                    "WHERE txs.chain = ? AND txs.tx_id = s.tx_id", [chain])
            con.execute("DROP TABLE _bres")
            con.execute("DROP TABLE _bin")
            resolved += self._resolve_prevouts(con, chain)
            heights = [h for h in blocks["height"].to_pylist() if h is not None]
            return WriteResult(
                blocks_new=blocks.num_rows, txs_new=txs.num_rows, outputs_new=outputs.num_rows,
                inputs_new=inputs.num_rows, inputs_resolved=resolved,
                first_height=min(heights) if heights else None, last_height=max(heights) if heights else None,
            )

    @staticmethod
    def _new_blocks(blocks: pa.Table, existing: set[str]) -> pa.Table:
        """Drop blocks already stored and repeats inside the batch (first occurrence wins)."""
        seen: set[str] = set(existing)
        keep = []
        for h in blocks["hash"].to_pylist():  # one entry per block, not per tx
            keep.append(h not in seen)
            seen.add(h)
        return blocks.filter(pa.array(keep, type=pa.bool_()))

    @staticmethod
    def _link_heights(con: Any, chain: str, blocks: pa.Table) -> pa.Table:
        """Give every block whose parent is known (stored or earlier in the batch) its height.

        A height from the parent wins over a BIP34 height only when they agree; they always do on a valid
        chain, and disagreement is reported as invalid input.
        """
        hashes = blocks["hash"].to_pylist()
        prevs = blocks["prev_hash"].to_pylist()
        heights = blocks["height"].to_pylist()
        sources = blocks["height_source"].to_pylist()
        parents = {
            r[0]: r[1] for r in con.execute(
                "SELECT hash, height FROM blocks WHERE chain = ? AND height IS NOT NULL AND hash IN (SELECT unnest(?))",
                [chain, list(set(prevs))],
            ).fetchall()
        }
        known: dict[str, int] = dict(parents)
        for i, h in enumerate(hashes):
            if heights[i] is not None and sources[i] in ("genesis", "parent"):
                known[h] = heights[i]
        changed = True
        while changed:  # per block (not per tx); one pass when the batch is in chain order
            changed = False
            for i, h in enumerate(hashes):
                if sources[i] in ("genesis", "parent"):
                    continue
                p = known.get(prevs[i])
                if p is None:
                    continue
                if heights[i] is not None and heights[i] != p + 1:
                    raise InvalidInput(
                        f"block {h} claims height {heights[i]} in its coinbase but its parent is at height {p}",
                        field="height", value=heights[i])
                heights[i], sources[i] = p + 1, "parent"
                known[h] = p + 1
                changed = True
        idx_h = blocks.schema.get_field_index("height")
        idx_s = blocks.schema.get_field_index("height_source")
        blocks = blocks.set_column(idx_h, "height", pa.array(heights, type=pa.int64()))
        return blocks.set_column(idx_s, "height_source", pa.array(sources, type=pa.string()))

    @staticmethod
    def _backfill_heights(con: Any, chain: str) -> None:
        """Blocks stored without a height get one when their parent (now) has one: blk*.dat files hold
        blocks in arrival order, not height order, so a parent may arrive after its children."""
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _heights AS "
            "WITH RECURSIVE walk(hash, height) AS ("
            "  SELECT c.hash, p.height + 1 FROM blocks c JOIN blocks p ON p.chain = c.chain AND p.hash = c.prev_hash "
            "  WHERE c.chain = ? AND c.height IS NULL AND p.height IS NOT NULL "
            "  UNION ALL "
            "  SELECT c.hash, w.height + 1 FROM blocks c JOIN walk w ON c.prev_hash = w.hash "
            "  WHERE c.chain = ? AND c.height IS NULL"
            ") SELECT hash, min(height) AS height FROM walk GROUP BY hash",
            [chain, chain],
        )
        con.execute("UPDATE blocks SET height = h.height, height_source = 'parent' FROM _heights h "
                    "WHERE blocks.chain = ? AND blocks.hash = h.hash", [chain])
        con.execute("DROP TABLE _heights")

    @staticmethod
    def _resolve_prevouts(con: Any, chain: str) -> int:
        """Resolve every unresolved input of ``chain`` whose spent output is now stored (bulk joins)."""
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _res AS "
            "WITH u AS (SELECT tx_id, n, prev_txid, prev_n FROM unresolved_inputs WHERE chain = ?), "
            "p AS (SELECT t.txid, max(t.tx_id) AS tx_id FROM txs t "
            "      WHERE t.chain = ? AND t.txid IN (SELECT prev_txid FROM u) GROUP BY t.txid) "
            "SELECT u.tx_id, u.n, p.tx_id AS prev_tx_id, u.prev_n, o.address_id, o.value "
            "FROM u JOIN p ON p.txid = u.prev_txid "
            "JOIN outputs o ON o.chain = ? AND o.tx_id = p.tx_id AND o.n = u.prev_n",
            [chain, chain, chain],
        )
        n = int(con.execute("SELECT count(*) FROM _res").fetchall()[0][0])
        if n:
            con.execute(
                "UPDATE inputs SET prev_tx_id = r.prev_tx_id, address_id = r.address_id, value = r.value "
                "FROM _res r WHERE inputs.chain = ? AND inputs.tx_id = r.tx_id AND inputs.n = r.n", [chain])
            con.execute(
                "UPDATE outputs SET spent_tx_id = r.tx_id, spent_n = r.n FROM _res r "
                "WHERE outputs.chain = ? AND outputs.tx_id = r.prev_tx_id AND outputs.n = r.prev_n", [chain])
            con.execute(
                "UPDATE txs SET input_value = s.v FROM ("
                "  SELECT tx_id, sum(value) AS v FROM inputs WHERE chain = ? AND tx_id IN (SELECT DISTINCT tx_id FROM _res)"
                "  GROUP BY tx_id HAVING count(*) = count(value)) s "
                "WHERE txs.chain = ? AND txs.tx_id = s.tx_id", [chain, chain])
            con.execute(
                "DELETE FROM unresolved_inputs WHERE chain = ? AND (tx_id, n) IN (SELECT (tx_id, n) FROM _res)",
                [chain])
        con.execute("DROP TABLE _res")
        return n

    # ------------------------------------------------------------------------------------------
    # readers
    # ------------------------------------------------------------------------------------------
    def chains(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT chain FROM blocks ORDER BY chain").fetchall()]

    def block(self, chain: str, *, hash: str | None = None, height: int | None = None) -> dict[str, Any] | None:
        cols = "chain, hash, height, prev_hash, time, merkle_root, tx_count"
        if hash is not None:
            row = self.db.one(f"SELECT {cols} FROM blocks WHERE chain = ? AND hash = ?", [chain, hash])
        else:
            best = self._best_at_height(chain, int(height)) if height is not None else None
            row = None if best is None else self.db.one(
                f"SELECT {cols} FROM blocks WHERE chain = ? AND hash = ?", [chain, best])
        if row is None:
            return None
        return dict(zip(["chain", "hash", "height", "prev_hash", "time", "merkle_root", "tx_count"], row, strict=True))

    def _best_at_height(self, chain: str, height: int) -> str | None:
        """The block at ``height`` on the longest known chain: when a fork left several blocks at one height,
        the one with the highest known descendant (ties: the first stored). Only forks pay for the walk."""
        rows = self.db.all("SELECT hash FROM blocks WHERE chain = ? AND height = ? ORDER BY run_id, hash",
                           [chain, height])
        if len(rows) <= 1:
            return str(rows[0][0]) if rows else None
        ranked = self.db.all(
            "WITH RECURSIVE d(root, hash, height) AS ("
            "  SELECT hash, hash, height FROM blocks WHERE chain = ? AND height = ? "
            "  UNION ALL "
            "  SELECT d.root, b.hash, b.height FROM blocks b JOIN d ON b.prev_hash = d.hash WHERE b.chain = ?"
            ") SELECT root, max(height) AS top FROM d GROUP BY root", [chain, height, chain])
        top = {str(r[0]): int(r[1]) for r in ranked}
        order = [str(r[0]) for r in rows]   # stored order breaks ties
        return max(order, key=lambda h: (top.get(h, height), -order.index(h)))

    def find_tx_chains(self, txid: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT chain FROM txs WHERE txid = ?", [txid]).fetchall()]

    def tx(self, chain: str, txid: str) -> dict[str, Any] | None:
        row = self.db.one(
            "SELECT t.tx_id, t.txid, t.block_hash, b.height, b.time, t.is_coinbase, t.input_value, t.output_value "
            "FROM txs t JOIN blocks b ON b.chain = t.chain AND b.hash = t.block_hash "
            "WHERE t.chain = ? AND t.txid = ? ORDER BY t.tx_id DESC LIMIT 1", [chain, txid])
        if row is None:
            return None
        tx_id, txid, block_hash, height, time_, is_cb, in_val, out_val = row
        ins = self.db.execute(
            "SELECT i.n, a.address, i.value, i.prev_txid, i.prev_n FROM inputs i "
            "LEFT JOIN addresses a ON a.chain = i.chain AND a.id = i.address_id "
            "WHERE i.chain = ? AND i.tx_id = ? ORDER BY i.n", [chain, tx_id]).fetchall()
        outs = self.db.execute(
            "SELECT o.n, a.address, o.value, o.script_type, s.txid, o.spent_n FROM outputs o "
            "LEFT JOIN addresses a ON a.chain = o.chain AND a.id = o.address_id "
            "LEFT JOIN txs s ON s.chain = o.chain AND s.tx_id = o.spent_tx_id "
            "WHERE o.chain = ? AND o.tx_id = ? ORDER BY o.n", [chain, tx_id]).fetchall()
        fee = 0 if is_cb else (None if in_val is None else in_val - out_val)
        return {
            "txid": txid, "chain": chain, "block_height": height, "block_hash": block_hash, "time": time_, "fee": fee,
            "inputs": [
                {"n": n, "address": a, "value": (None if is_cb else v), "prev_txid": pt,
                 "prev_n": (None if pt is None else pn)}
                for n, a, v, pt, pn in ins
            ],
            "outputs": [
                {"n": n, "address": a, "value": v, "script_type": st,
                 "spent_by": (f"{sp}:{sn}" if sp is not None else None)}
                for n, a, v, st, sp, sn in outs
            ],
        }

    def address_id(self, chain: str, address: str) -> int | None:
        row = self.db.one("SELECT id FROM addresses WHERE chain = ? AND address = ?", [chain, address])
        return None if row is None else int(row[0])

    def find_address_chains(self, address: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT chain FROM addresses WHERE address = ? ORDER BY chain", [address]).fetchall()]

    def address_summary(self, chain: str, address: str) -> dict[str, Any] | None:
        aid = self.address_id(chain, address)
        if aid is None:
            return None
        row = self.db.execute(
            "WITH o AS (SELECT o.tx_id, o.value, o.spent_tx_id FROM outputs o WHERE o.chain = ? AND o.address_id = ?), "
            "ids AS (SELECT tx_id FROM o UNION SELECT spent_tx_id FROM o WHERE spent_tx_id IS NOT NULL), "
            "tm AS (SELECT b.time FROM ids JOIN txs t ON t.chain = ? AND t.tx_id = ids.tx_id "
            "       JOIN blocks b ON b.chain = t.chain AND b.hash = t.block_hash) "
            "SELECT (SELECT coalesce(sum(value), 0) FROM o), "
            "       (SELECT coalesce(sum(value), 0) FROM o WHERE spent_tx_id IS NOT NULL), "
            "       (SELECT count(*) FROM ids), (SELECT min(time) FROM tm), (SELECT max(time) FROM tm)",
            [chain, aid, chain]).fetchall()[0]
        assert row is not None
        received, sent, n, first, last = (int(row[0]), int(row[1]), int(row[2]), row[3], row[4])
        return {"address": address, "chain": chain, "address_id": aid, "received": received, "sent": sent,
                "balance": received - sent, "tx_count": n, "first_seen": first, "last_seen": last}

    def stats(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for chain, nb, hmin, hmax in self.db.execute(
                "SELECT chain, count(*), min(height), max(height) FROM blocks GROUP BY chain ORDER BY chain").fetchall():
            ntx = self.db.execute("SELECT count(*) FROM txs WHERE chain = ?", [chain]).fetchall()[0]
            no, utxo = self.db.execute(
                "SELECT count(*), coalesce(sum(value) FILTER (WHERE spent_tx_id IS NULL), 0) FROM outputs WHERE chain = ?",
                [chain]).fetchall()[0] or (0, 0)
            ni, nres = self.db.execute(
                "SELECT count(*) FILTER (WHERE prev_txid IS NOT NULL), count(prev_tx_id) FROM inputs WHERE chain = ?",
                [chain]).fetchall()[0] or (0, 0)
            na = self.db.execute("SELECT count(*) FROM addresses WHERE chain = ?", [chain]).fetchall()[0]
            out[chain] = {
                "model": "utxo", "blocks": int(nb), "min_height": hmin, "max_height": hmax,
                "txs": int(ntx[0]) if ntx else 0, "outputs": int(no), "inputs": int(ni),
                "inputs_resolved": int(nres), "addresses": int(na[0]) if na else 0, "unspent_value": int(utxo),
            }
        return out
