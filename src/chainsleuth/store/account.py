"""Account-chain tables (010_account.sql): the idempotent batch writer, checkpoints, reorg rollback and
the readers behind ``show tx``, ``show address`` and ``stats`` on EVM chains.

Writing a batch is one transaction: blocks already stored (same chain and hash) are skipped, new addresses
get dense ids, txs get dense ids, and the checkpoint moves to the highest block written. A block whose
height already holds a different hash is refused (:class:`~chainsleuth.errors.Conflict`): the caller must
first roll the orphaned blocks back with :meth:`AccountStore.rollback_above`, itself one transaction.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.core.account import AccountBatch
from chainsleuth.errors import Conflict, InvalidInput
from chainsleuth.store.db import Database, first_row
from chainsleuth.store.lookups import ADDRESS_KEY, KeyLookups

__all__ = ["AccountStore", "AccountWriteResult"]


@dataclass(frozen=True)
class AccountWriteResult:
    blocks_new: int
    txs_new: int
    transfers_new: int
    tokens_new: int
    first_height: int | None
    last_height: int | None



class AccountStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------------------------------
    # writer
    # ------------------------------------------------------------------------------------------
    def write_batch(self, batch: AccountBatch, run_id: int, *, endpoint: str | None = None) -> AccountWriteResult:
        """Write one batch in one transaction; blocks already stored are skipped."""
        if batch.n_blocks == 0:
            return AccountWriteResult(0, 0, 0, 0, None, None)
        chains = pc.unique(batch.blocks["chain"]).to_pylist()
        if len(chains) != 1:
            raise InvalidInput("a batch must hold blocks of one chain", value=chains)
        chain = str(chains[0])
        with self.db.transaction() as con:
            numbers = batch.blocks["number"].to_pylist()
            hashes = batch.blocks["hash"].to_pylist()
            stored = {int(r[0]): str(r[1]) for r in con.execute(
                "SELECT number, hash FROM account_blocks WHERE chain = ? AND number IN (SELECT unnest(?))",
                [chain, numbers]).fetchall()}
            keep = []
            seen: set[str] = set()
            for n, h in zip(numbers, hashes, strict=True):
                if n in stored and stored[n] != h:
                    raise Conflict(f"block {n} of {chain} is stored as {stored[n]} but the source now has {h}: "
                                   "roll back the orphaned blocks first", block=n, value=h)
                keep.append(n not in stored and h not in seen)
                seen.add(h)
            blocks = batch.blocks.filter(pa.array(keep, type=pa.bool_()))
            if blocks.num_rows == 0:
                return AccountWriteResult(0, 0, 0, 0, None, None)
            new_hashes = blocks["hash"]
            txs = batch.txs.filter(pc.is_in(batch.txs["block_hash"], value_set=new_hashes))
            transfers = batch.transfers.filter(pc.is_in(batch.transfers["block_hash"], value_set=new_hashes))
            if len(seen) < len(hashes):     # a block came twice (overlapping exports): its rows came twice too
                txs = _first_rows(txs, ["block_hash", "tx_index"])
                transfers = _first_rows(transfers, ["block_hash", "tx_index", "index"])
            tokens = batch.tokens
            self._insert_addresses(con, chain, [blocks["miner"], txs["from"], txs["to"], txs["contract_address"],
                                                transfers["from"], transfers["to"], transfers["asset"],
                                                tokens["address"]])
            blocks = blocks.append_column("run_id", pa.array(np.full(blocks.num_rows, run_id, dtype=np.int64)))
            con.register("b_blocks", blocks)
            con.execute(
                "INSERT INTO account_blocks (chain, number, hash, parent_hash, time, miner_id, gas_used, gas_limit, "
                "base_fee_per_gas, tx_count, withdrawal_count, size, traces, run_id, transactions_root) "
                "SELECT b.chain, b.number, b.hash, b.parent_hash, b.time, a.id, b.gas_used, b.gas_limit, "
                "b.base_fee_per_gas, b.tx_count, b.withdrawal_count, b.size, b.traces, b.run_id, b.transactions_root "
                "FROM b_blocks b "
                "LEFT JOIN addresses a ON a.chain = b.chain AND a.address = b.miner")
            con.unregister("b_blocks")
            row = first_row(con.execute("SELECT coalesce(max(tx_id), -1) + 1 FROM account_txs WHERE chain = ?", [chain]))
            base = int(row[0]) if row else 0
            txs = txs.append_column("tx_id", pa.array(np.arange(base, base + txs.num_rows, dtype=np.int64)))
            con.register("b_txs", txs)
            con.execute(
                'INSERT INTO account_txs (chain, tx_id, hash, block_hash, block_number, tx_index, from_id, to_id, value, '
                "nonce, tx_type, gas, gas_price, max_fee_per_gas, max_priority_fee_per_gas, input_size, method_id, "
                "status, gas_used, effective_gas_price, fee, contract_id) "
                "SELECT t.chain, t.tx_id, t.hash, t.block_hash, t.block_number, t.tx_index, f.id, o.id, t.value, t.nonce, "
                "t.tx_type, t.gas, t.gas_price, t.max_fee_per_gas, t.max_priority_fee_per_gas, t.input_size, "
                "t.method_id, t.status, t.gas_used, t.effective_gas_price, t.fee, c.id FROM b_txs t "
                'LEFT JOIN addresses f ON f.chain = t.chain AND f.address = t."from" '
                "LEFT JOIN addresses o ON o.chain = t.chain AND o.address = t.to "
                "LEFT JOIN addresses c ON c.chain = t.chain AND c.address = t.contract_address")
            con.register("b_transfers", transfers)
            con.execute(
                'INSERT INTO transfers (chain, block_number, block_hash, tx_id, tx_index, "index", kind, from_id, to_id, '
                "asset_id, token_id, value, value_big, trace_address, log_index) "
                "SELECT x.chain, x.block_number, x.block_hash, t.tx_id, x.tx_index, x.\"index\", x.kind, f.id, o.id, "
                "s.id, x.token_id, x.value, x.value_big, x.trace_address, x.log_index FROM b_transfers x "
                "LEFT JOIN b_txs t ON t.block_hash = x.block_hash AND t.tx_index = x.tx_index "
                'LEFT JOIN addresses f ON f.chain = x.chain AND f.address = x."from" '
                "LEFT JOIN addresses o ON o.chain = x.chain AND o.address = x.to "
                "LEFT JOIN addresses s ON s.chain = x.chain AND s.address = x.asset AND x.asset <> 'native'")
            con.unregister("b_transfers")
            con.unregister("b_txs")
            n_tokens = 0
            if tokens.num_rows:
                con.register("b_tokens", tokens)
                before = self._count(con, "SELECT count(*) FROM tokens WHERE chain = ?", [chain])
                con.execute(
                    "INSERT INTO tokens (chain, address_id, standard, symbol, name, decimals) "
                    "SELECT DISTINCT ON (a.id) k.chain, a.id, k.standard, k.symbol, k.name, k.decimals FROM b_tokens k "
                    "JOIN addresses a ON a.chain = k.chain AND a.address = k.address "
                    "WHERE NOT EXISTS (SELECT 1 FROM tokens x WHERE x.chain = k.chain AND x.address_id = a.id)")
                con.unregister("b_tokens")
                n_tokens = self._count(con, "SELECT count(*) FROM tokens WHERE chain = ?", [chain]) - before
            nums = blocks["number"].to_pylist()
            top = max(range(len(nums)), key=lambda i: nums[i])
            cp = first_row(con.execute("SELECT height FROM account_checkpoints WHERE chain = ?", [chain]))
            if cp is None or int(cp[0]) < nums[top]:
                con.execute("DELETE FROM account_checkpoints WHERE chain = ?", [chain])
                con.execute("INSERT INTO account_checkpoints (chain, height, hash, endpoint, traces, updated_at) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            [chain, nums[top], blocks["hash"][top].as_py(), endpoint, blocks["traces"][top].as_py(),
                             int(time.time())])
            return AccountWriteResult(blocks.num_rows, txs.num_rows, transfers.num_rows, n_tokens, min(nums), max(nums))

    @staticmethod
    def _count(con: Any, sql: str, params: list[Any]) -> int:
        row = first_row(con.execute(sql, params))
        return int(row[0]) if row else 0

    @staticmethod
    def _insert_addresses(con: Any, chain: str, columns: list[pa.ChunkedArray]) -> None:
        """Dense ids for addresses not yet stored, in order of first appearance."""
        arr = pa.chunked_array([c.cast(pa.string()) for c in columns if len(c)] or [pa.array([], pa.string())])
        arr = pc.drop_null(arr)
        uniq = pc.unique(arr)
        uniq = uniq.filter(pc.not_equal(uniq, "native"))
        tbl = pa.table({"a": uniq, "pos": pa.array(np.arange(len(uniq), dtype=np.int64))})
        con.register("b_addr", tbl)
        top = first_row(con.execute("SELECT coalesce(max(id), -1) FROM addresses WHERE chain = ?", [chain]))
        con.execute(
            "INSERT INTO addresses (chain, id, address) "
            "SELECT ?, ? + row_number() OVER (ORDER BY pos), a "
            "FROM b_addr n WHERE NOT EXISTS (SELECT 1 FROM addresses x WHERE x.chain = ? AND x.address = n.a)",
            [chain, int(top[0]) if top else -1, chain])
        con.unregister("b_addr")
        con.execute(f"INSERT INTO address_keys SELECT chain, {ADDRESS_KEY.format('address')}, id FROM addresses "
                    "WHERE chain = ? AND id > ?", [chain, int(top[0]) if top else -1])

    def rollback_above(self, chain: str, height: int) -> int:
        """Delete every block above ``height`` with its txs and transfers (one transaction); move the
        checkpoint to ``height``. Returns the number of blocks removed. Addresses and tokens stay (harmless)."""
        with self.db.transaction() as con:
            n = self._count(con, "SELECT count(*) FROM account_blocks WHERE chain = ? AND number > ?", [chain, height])
            con.execute("DELETE FROM transfers WHERE chain = ? AND block_number > ?", [chain, height])
            con.execute("DELETE FROM account_txs WHERE chain = ? AND block_number > ?", [chain, height])
            con.execute("DELETE FROM account_blocks WHERE chain = ? AND number > ?", [chain, height])
            row = first_row(con.execute("SELECT hash, traces FROM account_blocks WHERE chain = ? AND number = ?",
                              [chain, height]))
            con.execute("DELETE FROM account_checkpoints WHERE chain = ?", [chain])
            if row is not None:
                con.execute("INSERT INTO account_checkpoints (chain, height, hash, traces, updated_at) "
                            "VALUES (?, ?, ?, ?, ?)", [chain, height, row[0], row[1], int(time.time())])
            return n

    # ------------------------------------------------------------------------------------------
    # readers
    # ------------------------------------------------------------------------------------------
    def chains(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT chain FROM account_blocks ORDER BY chain").fetchall()]

    def checkpoint(self, chain: str) -> tuple[int, str] | None:
        row = first_row(self.db.execute("SELECT height, hash FROM account_checkpoints WHERE chain = ?", [chain]))
        return None if row is None else (int(row[0]), str(row[1]))

    def block_hashes(self, chain: str, lo: int, hi: int) -> dict[int, str]:
        return {int(n): str(h) for n, h in self.db.execute(
            "SELECT number, hash FROM account_blocks WHERE chain = ? AND number BETWEEN ? AND ?", [chain, lo, hi]
        ).fetchall()}

    def hashes_at_or_below(self, chain: str, height: int, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` stored (number, hash) at or below ``height``, highest first (fork search)."""
        return [(int(n), str(h)) for n, h in self.db.execute(
            "SELECT number, hash FROM account_blocks WHERE chain = ? AND number <= ? ORDER BY number DESC LIMIT ?",
            [chain, height, limit]).fetchall()]

    def block(self, chain: str, *, hash: str | None = None, height: int | None = None) -> dict[str, Any] | None:
        """A block's header facts in the shape of ``show block`` (the transactions root as merkle root)."""
        where, key = ("hash = ?", hash) if hash is not None else ("number = ?", height)
        row = first_row(self.db.execute(
            "SELECT chain, hash, number, parent_hash, time, coalesce(transactions_root, ''), tx_count "
            f"FROM account_blocks WHERE chain = ? AND {where}", [chain, key]))
        if row is None:
            return None
        return dict(zip(["chain", "hash", "height", "prev_hash", "time", "merkle_root", "tx_count"], row, strict=True))

    def known_tokens(self, chain: str) -> set[str]:
        return {r[0] for r in self.db.execute(
            "SELECT a.address FROM tokens t JOIN addresses a ON a.chain = t.chain AND a.id = t.address_id "
            "WHERE t.chain = ?", [chain]).fetchall()}

    def find_tx_chains(self, tx_hash: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT chain FROM account_txs WHERE hash = ? ORDER BY chain", [tx_hash]).fetchall()]

    def find_address_chains(self, address: str) -> list[str]:
        chains = {str(r[0]) for r in self.db.execute("SELECT DISTINCT chain FROM account_blocks").fetchall()}
        return sorted({c for c, _, _ in KeyLookups(self.db).address_ids([address])} & chains)

    def tx(self, chain: str, tx_hash: str) -> dict[str, Any] | None:
        row = first_row(self.db.execute(
            "SELECT t.tx_id, t.hash, t.block_number, t.block_hash, b.time, t.status, f.address, o.address, "
            "t.value::HUGEINT, t.fee::HUGEINT, t.gas_used, t.effective_gas_price::HUGEINT, c.address, t.tx_index, b.traces "
            "FROM account_txs t JOIN account_blocks b ON b.chain = t.chain AND b.hash = t.block_hash "
            "LEFT JOIN addresses f ON f.chain = t.chain AND f.id = t.from_id "
            "LEFT JOIN addresses o ON o.chain = t.chain AND o.id = t.to_id "
            "LEFT JOIN addresses c ON c.chain = t.chain AND c.id = t.contract_id "
            "WHERE t.chain = ? AND t.hash = ? ORDER BY t.tx_id DESC LIMIT 1", [chain, tx_hash]))
        if row is None:
            return None
        (tx_id, h, number, bhash, time_, status, frm, to, value, fee, gas_used, price, contract, tx_index,
         traces) = row
        transfers = self.db.execute(
            'SELECT x."index", x.kind, f.address, o.address, coalesce(s.address, \'native\'), x.token_id, '
            "x.value::HUGEINT, x.value_big, x.trace_address, x.log_index FROM transfers x "
            "LEFT JOIN addresses f ON f.chain = x.chain AND f.id = x.from_id "
            "LEFT JOIN addresses o ON o.chain = x.chain AND o.id = x.to_id "
            "LEFT JOIN addresses s ON s.chain = x.chain AND s.id = x.asset_id "
            'WHERE x.chain = ? AND x.tx_id = ? ORDER BY x."index"', [chain, tx_id]).fetchall()
        return {
            "txid": h, "chain": chain, "block_height": number, "block_hash": bhash, "time": time_, "status": status,
            "from": frm, "to": to, "value": int(value), "fee": None if fee is None else int(fee),
            "gas_used": gas_used, "effective_gas_price": None if price is None else int(price),
            "contract_address": contract, "tx_index": tx_index, "traces": traces,
            "transfers": [
                {"index": i, "kind": k, "from": f, "to": o, "asset": a, "token_id": tid,
                 "value": int(v) if v is not None else int(vb), "trace_address": ta, "log_index": li}
                for i, k, f, o, a, tid, v, vb, ta, li in transfers
            ],
        }

    def address_summary(self, chain: str, address: str) -> dict[str, Any] | None:
        """Received, sent and balance per asset (native coin including fees paid, tokens by contract,
        ERC-1155 by contract and id), transaction count and first/last activity."""
        found = KeyLookups(self.db).address_ids([address], chain)
        if not found:
            return None
        aid = found[0][2]
        params = [aid, aid, chain, aid, aid]
        base = ("SELECT coalesce(s.address, 'native') AS asset, CASE WHEN x.kind = 'erc1155' THEN x.token_id END AS tid, "
                "x.from_id, x.to_id, x.value, x.value_big FROM transfers x "
                "LEFT JOIN addresses s ON s.chain = x.chain AND s.id = x.asset_id "
                "WHERE x.chain = ? AND (x.from_id = ? OR x.to_id = ?)")
        received: dict[tuple[str, str | None], int] = {}
        sent: dict[tuple[str, str | None], int] = {}
        try:
            rows = self.db.execute(
                "SELECT asset, tid, sum(CASE WHEN to_id = ? THEN value::HUGEINT ELSE 0 END), "
                "sum(CASE WHEN from_id = ? THEN value::HUGEINT ELSE 0 END) FROM (" + base + ") GROUP BY asset, tid",
                params).fetchall()
            for asset, tid, r, s in rows:
                received[(asset, tid)] = int(r or 0)
                sent[(asset, tid)] = int(s or 0)
            big = self.db.execute("SELECT asset, tid, from_id, to_id, value_big FROM (" + base + ") "
                                  "WHERE value_big IS NOT NULL", params[2:]).fetchall()
        except duckdb.OutOfRangeException:  # sums beyond 128 bits (spam tokens): add up exactly in Python
            big = self.db.execute("SELECT asset, tid, from_id, to_id, coalesce(value::VARCHAR, value_big) FROM ("
                                  + base + ")", params[2:]).fetchall()
            received.clear()
            sent.clear()
        for asset, tid, f, t, vb in big:
            v = int(vb)
            if t == aid:
                received[(asset, tid)] = received.get((asset, tid), 0) + v
            if f == aid:
                sent[(asset, tid)] = sent.get((asset, tid), 0) + v
        act = first_row(self.db.execute(
            "WITH ids AS (SELECT tx_id FROM transfers WHERE chain = ? AND tx_id IS NOT NULL AND (from_id = ? OR to_id = ?) "
            "  UNION SELECT tx_id FROM account_txs WHERE chain = ? AND (from_id = ? OR to_id = ?)), "
            "blk AS (SELECT block_number FROM transfers WHERE chain = ? AND (from_id = ? OR to_id = ?) "
            "  UNION SELECT block_number FROM account_txs WHERE chain = ? AND (from_id = ? OR to_id = ?)) "
            "SELECT (SELECT count(*) FROM ids), min(b.time), max(b.time) FROM blk "
            "JOIN account_blocks b ON b.chain = ? AND b.number = blk.block_number",
            [chain, aid, aid] * 4 + [chain]))
        assert act is not None
        keys = sorted(set(received) | set(sent), key=lambda k: (k[0] != "native", k[0], k[1] or ""))
        return {
            "address": address, "chain": chain, "address_id": aid,
            "received": {k: received.get(k, 0) for k in keys}, "sent": {k: sent.get(k, 0) for k in keys},
            "balance": {k: received.get(k, 0) - sent.get(k, 0) for k in keys},
            "tx_count": int(act[0]), "first_seen": act[1], "last_seen": act[2],
        }

    def address_txs(self, chain: str, address_id: int, *, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """The transactions moving value from or to an address, newest first (block, then index), a page of
        ``limit`` after ``offset``: hash, block, time, status, native coin received and sent (fees included) and
        how many token transfers it made. Block rewards and withdrawals (no transaction) are not listed."""
        rows = self.db.execute(
            "WITH x AS (SELECT tx_id, CASE WHEN asset_id IS NULL AND to_id = ? THEN coalesce(value, value_big::HUGEINT) "
            "           ELSE 0 END AS r, CASE WHEN asset_id IS NULL AND from_id = ? THEN "
            "           coalesce(value, value_big::HUGEINT) ELSE 0 END AS s, asset_id IS NOT NULL AS tok "
            "           FROM transfers WHERE chain = ? AND tx_id IS NOT NULL AND (from_id = ? OR to_id = ?)), "
            "ids AS (SELECT tx_id, sum(r) AS r, sum(s) AS s, count(*) FILTER (WHERE tok) AS tokens FROM x GROUP BY tx_id "
            "        UNION ALL SELECT tx_id, 0, 0, 0 FROM account_txs WHERE chain = ? AND (from_id = ? OR to_id = ?) "
            "        AND tx_id NOT IN (SELECT tx_id FROM x)) "
            "SELECT t.hash, t.block_number, b.time, t.tx_index, t.status, ids.r, ids.s, ids.tokens FROM ids "
            "JOIN account_txs t ON t.chain = ? AND t.tx_id = ids.tx_id "
            "JOIN account_blocks b ON b.chain = t.chain AND b.number = t.block_number AND b.hash = t.block_hash "
            "ORDER BY t.block_number DESC, t.tx_index DESC LIMIT ? OFFSET ?",
            [address_id, address_id, chain, address_id, address_id, chain, address_id, address_id, chain, limit,
             offset]).fetchall()
        return [{"txid": h, "height": int(n), "time": tm, "index": int(ix), "status": st, "received": int(r or 0),
                 "sent": int(sn or 0), "token_transfers": int(k)} for h, n, tm, ix, st, r, sn, k in rows]

    def tokens_info(self, chain: str, addresses: list[str]) -> dict[str, tuple[str | None, int | None, str | None]]:
        """(symbol, decimals, standard) of token contracts (lower-case address text) known to the workspace."""
        if not addresses:
            return {}
        return {str(a): (sym, None if dec is None else int(dec), std) for a, sym, dec, std in self.db.execute(
            "SELECT a.address, t.symbol, t.decimals, t.standard FROM tokens t JOIN addresses a ON a.chain = t.chain "
            "AND a.id = t.address_id WHERE t.chain = ? AND a.address IN (SELECT unnest(?))",
            [chain, sorted(set(addresses))]).fetchall()}

    def coverage(self, chain: str) -> dict[str, Any]:
        """Which block numbers the data holds: ranges of consecutive numbers and the gaps between them."""
        ranges = [[int(a), int(b)] for a, b in self.db.all(
            "SELECT min(number), max(number) FROM (SELECT number, number - row_number() OVER (ORDER BY number) AS g "
            "FROM (SELECT DISTINCT number FROM account_blocks WHERE chain = ?)) GROUP BY g ORDER BY 1", [chain])]
        row = first_row(self.db.execute("SELECT count(*), min(time), max(time) FROM account_blocks WHERE chain = ?",
                                        [chain]))
        assert row is not None
        return {"first_height": ranges[0][0] if ranges else None, "last_height": ranges[-1][1] if ranges else None,
                "ranges": ranges, "gaps": [[a[1] + 1, b[0] - 1] for a, b in itertools.pairwise(ranges)],
                "complete": len(ranges) == 1 and ranges[0][0] == 0, "blocks": int(row[0]),
                "first_time": row[1], "last_time": row[2]}

    def address_runs(self, chain: str, address_id: int) -> list[int]:
        """Ingest runs that stored a block with a movement of the address."""
        return [int(r[0]) for r in self.db.execute(
            "SELECT DISTINCT b.run_id FROM account_blocks b WHERE b.chain = ? AND b.number IN (SELECT block_number "
            "FROM transfers WHERE chain = ? AND (from_id = ? OR to_id = ?)) ORDER BY 1",
            [chain, chain, address_id, address_id]).fetchall()]

    def stats(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for chain, nb, hmin, hmax, no_traces in self.db.execute(
                "SELECT chain, count(*), min(number), max(number), count(*) FILTER (WHERE traces = 'none') "
                "FROM account_blocks GROUP BY chain ORDER BY chain").fetchall():
            ntx, nfail = first_row(self.db.execute(
                "SELECT count(*), count(*) FILTER (WHERE status = 0) FROM account_txs WHERE chain = ?",
                [chain])) or (0, 0)
            kinds = {k: int(n) for k, n in self.db.execute(
                "SELECT kind, count(*) FROM transfers WHERE chain = ? GROUP BY kind ORDER BY kind", [chain]).fetchall()}
            na = self._count(self.db.con, "SELECT count(*) FROM addresses WHERE chain = ?", [chain])
            nt = self._count(self.db.con, "SELECT count(*) FROM tokens WHERE chain = ?", [chain])
            cp = self.checkpoint(chain)
            out[chain] = {
                "model": "account", "blocks": int(nb), "min_height": hmin, "max_height": hmax, "txs": int(ntx),
                "failed_txs": int(nfail), "transfers": kinds, "addresses": na, "tokens": nt,
                "blocks_without_traces": int(no_traces), "checkpoint": None if cp is None else cp[0],
            }
        return out


def _first_rows(t: pa.Table, keys: list[str]) -> pa.Table:
    """``t`` with only the first row of each ``keys`` value (nulls are a value), in the original order."""
    if t.num_rows < 2:
        return t
    rows = t.select(keys).append_column("_row", pa.array(np.arange(t.num_rows, dtype=np.int64)))
    first = rows.group_by(keys).aggregate([("_row", "min")])["_row_min"].to_numpy()
    if first.size == t.num_rows:
        return t
    return t.take(pa.array(np.sort(first)))
