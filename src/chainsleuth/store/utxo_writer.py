"""The UTXO-chain batch writer: each block stored once whatever the order and overlap of the inputs, the best
chain kept up to date, and a cost per batch that depends on the batch, not on the size of the store.

Ingest is a set operation. A block is identified by its hash: blocks already stored, and repeats of a block
inside one batch, are skipped, so any combination of files and runs gives the same store as each block
ingested once (surrogate ids and provenance columns aside: dense ids follow arrival order, and a block
records the run and file that stored it). An input's address, value and script type are those of the
output it spends, ``(prev_txid, prev_n)``: the same whichever copy of that transaction is stored (a
transaction in a stale block and in the best chain is the same transaction), so resolution does not
depend on order either; an input whose output is not stored yet waits in ``unresolved_inputs`` and is
filled in when a later batch brings the transaction.

Keyed lookups in memory. Per chain the writer keeps, from the first batch of a process on, exact hash
indexes of every stored txid (-> tx id) and address (-> address id), the value, address and script type
of every stored output (arrays indexed by output row), the inputs waiting for a txid, and the block tree
(:mod:`.blocktree`). They are built once from the store (one pass over its columns) and updated after each
batch, so a batch never joins against, or updates rows found by scanning, the big tables: it appends
rows, and only updates rows it finds by key (late-resolved inputs, blocks whose best flag flipped, their
transactions by tx id range). When a batch fails, its transaction is rolled back and the in-memory state
is dropped and rebuilt from the store on the next batch.

Memory: about 60 bytes per stored transaction, 17 per output and 30 plus the text per address (so about
1 GB for 8 million transactions); see docs/performance.md for the measured figures and the whole-chain
extrapolation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.core.chains import get_chain
from chainsleuth.core.records import SCRIPT_TYPES, UtxoBatch
from chainsleuth.errors import InternalError, InvalidInput
from chainsleuth.store.blocktree import BlockTree, NewBlock
from chainsleuth.store.db import Database
from chainsleuth.store.keyindex import ByteKeyIndex, Keys, arrow_string_buffers, fixed_keys, hex_to_bytes
from chainsleuth.store.lookups import KeyLookups
from chainsleuth.store.utxo import WriteResult

__all__ = ["UtxoWriter", "WriteResult"]

_STYPE = pa.array(SCRIPT_TYPES, pa.string())
_CHUNK = 1 << 20


class _Column:
    """A growable numpy column (amortised appends)."""

    def __init__(self, dtype: Any, size: int = 0) -> None:
        self.a = np.zeros(max(1024, size), dtype=dtype)
        self.n = 0

    def extend(self, values: np.ndarray) -> None:
        need = self.n + values.size
        if need > self.a.size:
            grown = np.zeros(max(need, self.a.size + self.a.size // 4), dtype=self.a.dtype)
            grown[: self.n] = self.a[: self.n]
            self.a = grown
        self.a[self.n:need] = values
        self.n = need

    def view(self) -> np.ndarray:
        return self.a[: self.n]


class _ChainState:
    """What the writer keeps in memory for one chain (see the module docstring)."""

    def __init__(self, chain: str) -> None:
        net = get_chain(chain).btc_network
        assert net is not None
        self.chain = chain
        self.tree = BlockTree(net.genesis_hash)
        self.block_first_tx = _Column(np.int64)
        self.block_ntx = _Column(np.int64)
        self.txids = ByteKeyIndex(width=32, values=np.int32)     # txid -> tx id (< 2**31, checked below)
        self.n_tx = 0
        self.out_start = _Column(np.int64)
        self.out_start.extend(np.zeros(1, dtype=np.int64))
        self.out_value = _Column(np.int64)
        self.out_addr = _Column(np.int32)     # address ids (< 2**31, checked when one is assigned)
        self.out_stype = _Column(np.int8)
        self.addrs = ByteKeyIndex(values=None)
        self.pending = ByteKeyIndex(width=32, values=None)     # prev txids that inputs wait for -> group
        self.p_group = _Column(np.int64)
        self.p_tx = _Column(np.int64)
        self.p_n = _Column(np.int64)
        self.p_prev_n = _Column(np.int64)
        self.partial: set[str] = set()     # stored blocks whose transactions are not all stored

    @property
    def nbytes(self) -> int:
        cols = (self.block_first_tx, self.block_ntx, self.out_start, self.out_value, self.out_addr,
                self.out_stype, self.p_group, self.p_tx, self.p_n, self.p_prev_n)
        return (self.txids.nbytes + self.addrs.nbytes + self.pending.nbytes
                + sum(c.a.nbytes for c in cols))

    def resolve(self, entries: np.ndarray, prev_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(prev tx id, output row) of inputs whose prev txid has index ``entries``; -1 where the tx is not
        stored or has no output ``prev_n``."""
        ok = entries >= 0
        prev_tx = np.where(ok, self.txids.values[np.maximum(entries, 0)].astype(np.int64), -1)
        start = self.out_start.a[np.maximum(prev_tx, 0)]
        count = self.out_start.a[np.maximum(prev_tx, 0) + 1] - start
        ok &= (prev_n >= 0) & (prev_n < count)
        return np.where(ok, prev_tx, -1), np.where(ok, start + prev_n, -1)

    def add_pending(self, keys: Keys, tx: np.ndarray, n: np.ndarray, prev_n: np.ndarray) -> None:
        groups = self.pending.insert(keys)
        self.p_group.extend(groups)
        self.p_tx.extend(tx)
        self.p_n.extend(n)
        self.p_prev_n.extend(prev_n)

    def take_pending(self, new_keys: Keys, new_tx: np.ndarray) -> tuple[np.ndarray, ...]:
        """Pending inputs whose prev txid is one of ``new_keys`` (transactions ``new_tx`` just stored):
        their (tx id, n, prev tx id, output row or -1), removed from the pending arrays."""
        empty = tuple(np.empty(0, dtype=np.int64) for _ in range(4))
        if not self.p_group.n or not new_tx.size:
            return empty
        hit = self.pending.lookup(new_keys)
        found = hit >= 0
        if not found.any():
            return empty
        g_of, t_of = hit[found], new_tx[found]
        order = np.argsort(g_of, kind="stable")
        g_sorted, t_sorted = g_of[order], t_of[order]
        sel = np.isin(self.p_group.view(), g_sorted)
        groups = self.p_group.view()[sel]
        prev_tx = t_sorted[np.searchsorted(g_sorted, groups)]
        prev_n = self.p_prev_n.view()[sel]
        start = self.out_start.a[prev_tx]
        ok = (prev_n >= 0) & (prev_n < self.out_start.a[prev_tx + 1] - start)
        out = (self.p_tx.view()[sel].copy(), self.p_n.view()[sel].copy(), prev_tx, np.where(ok, start + prev_n, -1))
        keep = ~sel
        for c in (self.p_group, self.p_tx, self.p_n, self.p_prev_n):
            kept = c.view()[keep].copy()
            c.n = 0
            c.extend(kept)
        return out


def _keys_of_hex(arr: Any) -> tuple[Keys, np.ndarray]:
    """32-byte keys of hex txids/hashes (null where the text is null or not 64 hex digits) and that mask."""
    rows, bad = hex_to_bytes(arr, 32)
    return fixed_keys(rows, ~bad), bad


def _stype_codes(arr: Any) -> np.ndarray:
    codes = pc.index_in(arr, value_set=_STYPE)
    return np.asarray(pc.fill_null(codes, -1), dtype=np.int8)


class UtxoWriter:
    """Writes :class:`UtxoBatch` es into the UTXO tables (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._states: dict[str, _ChainState] = {}
        db.on_outside_change.append(self._states.clear)   # the file changed while closed (Database.idle)

    def forget(self, chain: str) -> None:
        """Drop the in-memory state of ``chain`` (an outer transaction holding a batch rolled back)."""
        self._states.pop(chain, None)

    def memory_bytes(self) -> int:
        return sum(s.nbytes for s in self._states.values())

    # -- loading --------------------------------------------------------------------------------------
    def _state(self, chain: str) -> _ChainState:
        st = self._states.get(chain)
        if st is None:
            st = self._load(chain)
            self._states[chain] = st
        return st

    def _load(self, chain: str) -> _ChainState:
        """Build the in-memory state of ``chain`` from the store (one pass over each column); repair the
        derived block fields where they differ (a workspace written before they existed)."""
        st = _ChainState(chain)
        con = self.db.con
        rows = con.execute(
            "SELECT hash, prev_hash, bits, coalesce(bip34_height, source_height), first_tx_id, tx_count, chainwork, "
            "root, depth, height, height_source, best, partial FROM blocks WHERE chain = ? "
            "ORDER BY first_tx_id NULLS LAST, hash",
            [chain]).fetchall()
        if rows:
            cols = list(zip(*rows, strict=True))
            ch = st.tree.add([NewBlock(h, p, int(b), None if c is None else int(c))
                              for h, p, b, c in zip(cols[0], cols[1], cols[2], cols[3], strict=True)])
            del ch
            st.block_first_tx.extend(np.asarray([-1 if x is None else x for x in cols[4]], dtype=np.int64))
            st.partial = {h for h, p in zip(cols[0], cols[12], strict=True) if p}
            st.block_ntx.extend(np.asarray(cols[5], dtype=np.int64))
            t = st.tree
            wrong = [i for i, r in enumerate(rows) if
                     (r[6], r[7], r[8], r[9], r[10], r[11]) !=
                     (t.chainwork_hex(i), t.hash[int(t.root[i])], int(t.depth[i]),
                      None if t.height[i] < 0 else int(t.height[i]), t.height_source(i), bool(t.best[i]))]
            if wrong:
                self._write_block_fields(con, chain, st, wrong)
                self._flag_rows(con, chain, st, [i for i in wrong if rows[i][11] != bool(t.best[i])])
        # txids and output counts, in tx id order (dense: 0..n-1)
        reader = con.sql("SELECT tx_id, txid, n_out FROM txs WHERE chain = ? ORDER BY tx_id", params=[chain]).to_arrow_reader(_CHUNK)
        for rb in reader:
            ids = np.asarray(rb.column(0), dtype=np.int64)
            if ids.size and (ids[0] != st.n_tx or ids[-1] != st.n_tx + ids.size - 1):
                raise InternalError(f"tx ids of {chain} are not dense (expected {st.n_tx}, got {int(ids[0])})",
                                    chain=chain)
            keys, _ = _keys_of_hex(rb.column(1))
            st.txids.insert(keys, values=ids)
            n_out = np.asarray(rb.column(2), dtype=np.int64)
            st.out_start.extend(st.out_start.a[st.n_tx] + np.cumsum(n_out))
            st.n_tx += ids.size
        reader = con.sql("SELECT tx_id, n, value, coalesce(address_id, -1), script_type FROM outputs "
                             "WHERE chain = ?", params=[chain]).to_arrow_reader(_CHUNK)
        prev_key = -1
        ordered = True
        for rb in reader:
            tx = np.asarray(rb.column(0), dtype=np.int64)
            key = tx * (1 << 32) + np.asarray(rb.column(1), dtype=np.int64)
            if key.size and (key[0] <= prev_key or np.any(np.diff(key) <= 0)):
                ordered = False
                break
            prev_key = int(key[-1]) if key.size else prev_key
            st.out_value.extend(np.asarray(rb.column(2), dtype=np.int64))
            st.out_addr.extend(np.asarray(rb.column(3), dtype=np.int64))
            st.out_stype.extend(_stype_codes(rb.column(4)))
        if not ordered:      # rows out of (tx, n) order: read them sorted
            for c in (st.out_value, st.out_addr, st.out_stype):
                c.n = 0
            reader = con.sql("SELECT value, coalesce(address_id, -1), script_type FROM outputs WHERE chain = ? "
                                 "ORDER BY tx_id, n", params=[chain]).to_arrow_reader(_CHUNK)
            for rb in reader:
                st.out_value.extend(np.asarray(rb.column(0), dtype=np.int64))
                st.out_addr.extend(np.asarray(rb.column(1), dtype=np.int64))
                st.out_stype.extend(_stype_codes(rb.column(2)))
        if st.out_value.n != int(st.out_start.a[st.n_tx]):
            raise InternalError(f"{chain}: {st.out_value.n} outputs stored but the transactions count "
                                f"{int(st.out_start.a[st.n_tx])}", chain=chain)
        reader = con.sql("SELECT id, address FROM addresses WHERE chain = ? ORDER BY id", params=[chain]).to_arrow_reader(_CHUNK)
        for rb in reader:
            ids = np.asarray(rb.column(0), dtype=np.int64)
            got = st.addrs.insert(arrow_string_buffers(rb.column(1)))
            if not np.array_equal(got, ids):
                raise InternalError(f"address ids of {chain} are not dense and unique", chain=chain)
        p = con.sql("SELECT tx_id, n, prev_txid, prev_n FROM unresolved_inputs WHERE chain = ? ORDER BY tx_id, n", params=[chain]).to_arrow_table()
        if p.num_rows:
            keys, _ = _keys_of_hex(p.column(2))
            sel = np.flatnonzero(st.txids.lookup(keys) < 0)
            st.add_pending(keys.take(sel), np.asarray(p.column(0), dtype=np.int64)[sel],
                           np.asarray(p.column(1), dtype=np.int64)[sel], np.asarray(p.column(3), dtype=np.int64)[sel])
        return st

    # -- writing --------------------------------------------------------------------------------------
    def write_batch(self, batch: UtxoBatch, run_id: int) -> WriteResult:
        """Write one batch in one transaction (see the module docstring).

        A *loose* batch (``batch.loose``: single transactions of an explorer API) holds, per block, the
        transactions fetched at their ``block_index``; its blocks are stored as ``partial`` until all their
        transactions are, and transactions already stored are skipped (a transaction seen both ways is one
        transaction). A whole block whose stored copy is partial is not skipped: its missing transactions are
        added and the block is complete. A partial block's transactions have no consecutive tx ids: its
        ``first_tx_id`` is null and its rows' best flags are found by block hash."""
        if batch.n_blocks == 0:
            return WriteResult(0, 0, 0, 0, 0, None, None)
        chains = pc.unique(batch.blocks["chain"]).to_pylist()
        if len(chains) != 1:
            raise InvalidInput("a batch must hold blocks of one chain", value=chains)
        chain = str(chains[0])
        try:
            with self.db.transaction() as con:
                return self._write(con, chain, batch, run_id)
        except BaseException:
            self._states.pop(chain, None)      # its in-memory state may hold part of the batch
            raise

    def _write(self, con: Any, chain: str, batch: UtxoBatch, run_id: int) -> WriteResult:
        st = self._state(chain)
        blocks, txs, outs, ins = batch.blocks, batch.txs, batch.outputs, batch.inputs
        # 1. which block occurrences are new: not stored, and the first copy inside the batch
        hashes = blocks["hash"].to_pylist()
        loose = batch.loose
        seen: set[str] = set()
        keep_b = np.zeros(len(hashes), dtype=bool)
        for i, h in enumerate(hashes):                  # per block, not per row
            if (h not in st.tree.number or h in st.partial or loose) and h not in seen:
                keep_b[i] = True
            seen.add(h)
        if not keep_b.any():
            return WriteResult(0, 0, 0, 0, 0, None, None)
        # rows of each block occurrence: a block's transactions come together, its first at block_index 0,
        # and outputs and inputs follow their transactions in order
        block_index = np.asarray(txs["block_index"], dtype=np.int64)
        if loose:      # one run of rows per block, in the order of the blocks
            tb = txs["block_hash"]
            start = np.ones(txs.num_rows, dtype=bool)
            if txs.num_rows > 1:
                start[1:] = np.asarray(pc.not_equal(tb.slice(1), tb.slice(0, txs.num_rows - 1)), dtype=bool)
            occ = np.cumsum(start) - 1
        else:
            occ = np.cumsum(block_index == 0) - 1
        n_out = np.asarray(txs["n_out"], dtype=np.int64)
        n_in = np.asarray(txs["n_in"], dtype=np.int64)
        ntx_b = np.asarray(blocks["tx_count"], dtype=np.int64)
        per_block = np.bincount(occ, minlength=len(hashes)) if occ.size else ntx_b * 0
        if (occ.size and (occ[-1] != len(hashes) - 1 or occ[0] != 0)) or \
                not (np.all(per_block <= ntx_b) if loose else np.array_equal(per_block, ntx_b)) or \
                (loose and occ.size and not np.array_equal(txs["block_hash"].take(pa.array(np.flatnonzero(np.r_[
                    True, occ[1:] != occ[:-1]]))).to_pylist(), hashes)) or \
                int(n_out.sum()) != outs.num_rows or int(n_in.sum()) != ins.num_rows:
            raise InternalError("a UTXO batch's rows do not follow its blocks (one run of transactions per "
                                "block, outputs and inputs in transaction order)", blocks=len(hashes))
        keep_t = keep_b[occ]
        known_b = np.asarray([h in st.tree.number for h in hashes], dtype=bool)   # stored partial blocks
        if loose or known_b.any():     # their transactions already stored are the same transactions
            tk, _ = _keys_of_hex(txs["txid"])
            stored = st.txids.lookup(tk) >= 0
            first = np.zeros(txs.num_rows, dtype=bool)
            first[np.unique(np.asarray(txs["txid"].to_pylist(), dtype=object), return_index=True)[1]] = True
            keep_t &= ~((loose | known_b[occ]) & (stored | ~first))
        keep_o = np.repeat(keep_t, n_out)
        keep_i = np.repeat(keep_t, n_in)
        prevouts = batch.prevouts
        if not keep_t.all():
            txs, outs, ins = (t.filter(pa.array(m)) for t, m in ((txs, keep_t), (outs, keep_o), (ins, keep_i)))
            n_out, n_in, occ = n_out[keep_t], n_in[keep_t], occ[keep_t]
            prevouts = None if prevouts is None else prevouts.filter(pa.array(keep_i))
        if loose:      # blocks stored already (partial or not) and no transaction of theirs new: nothing to do
            keep_b &= (np.bincount(occ, minlength=len(hashes)) > 0) | ~known_b
            if not keep_b.any():
                return WriteResult(0, 0, 0, 0, 0, None, None)
        new_rows = np.flatnonzero(keep_b)
        known_b = known_b[new_rows]
        blocks = blocks.take(pa.array(new_rows))
        hashes = [hashes[i] for i in new_rows.tolist()]
        k = txs.num_rows

        # 2. the block tree: link, merge, heights, best chain
        b_prev = blocks["prev_hash"].to_pylist()
        b_bits = blocks["bits"].to_pylist()
        # a block's own claim (its coinbase's BIP34 height, or the height the API reported for a loose
        # block): heights come from the tree, not from the parse
        b_claim = blocks["bip34_height"].to_pylist()
        b_h = blocks["height"].to_pylist()
        b_src = blocks["height_source"].to_pylist()
        claims = [c if c is not None else (h if s in ("bip34", "node", "source") else None)   # node or API heights
                  for c, h, s in zip(b_claim, b_h, b_src, strict=True)]
        ch = st.tree.add([NewBlock(hashes[i], p, int(b), c) for i, p, b, c in
                          zip(range(len(hashes)), b_prev, b_bits, claims, strict=True) if not known_b[i]])
        nb = np.asarray([st.tree.number[h] for h in hashes], dtype=np.int64)   # block numbers, in batch order
        fresh = np.asarray(ch.new, dtype=np.int64)

        # 3. tx ids, per block ranges
        base = st.n_tx
        if base + k >= 2**31:
            raise InternalError(f"{chain}: more than 2**31 transactions; the writer's indexes hold tx ids as int32",
                                chain=chain)
        tx_ids = np.arange(base, base + k, dtype=np.int64)
        local_block = np.searchsorted(new_rows, occ)         # which new block each kept tx belongs to
        first_tx = np.full(len(new_rows), -1, dtype=np.int64)
        if k and not loose:
            starts = np.flatnonzero(np.r_[True, local_block[1:] != local_block[:-1]])
            first_tx[local_block[starts]] = tx_ids[starts]
        first_tx[known_b] = -1          # a partial block's transactions do not have consecutive ids
        tx_best = st.tree.best[nb][local_block] if k else np.zeros(0, dtype=bool)

        # 4. txids into the index (first copy of a txid keeps the entry; later copies are noted)
        tx_keys, bad = _keys_of_hex(txs["txid"])
        if bad.any():
            raise InvalidInput("a transaction id is not 64 hex digits", value=txs["txid"][int(np.argmax(bad))].as_py())
        n_entries = len(st.txids)
        entries = st.txids.insert(tx_keys, values=tx_ids)
        fresh_first = (entries >= n_entries) & (np.arange(k) == _first_index(entries))
        copies = ~fresh_first          # a txid stored before, or twice in this batch

        # 5. addresses: dense ids for the new ones, in order of first appearance
        n_addr = len(st.addrs)
        addr_ids = st.addrs.insert(arrow_string_buffers(outs["address"]))    # (the index refuses 2**31 entries)
        new_addr_rows = np.flatnonzero((addr_ids >= n_addr) & (np.arange(addr_ids.size) == _first_index(addr_ids)))

        # 6. outputs into the arrays the resolution reads
        out_tx = np.repeat(tx_ids, n_out)
        out_n = np.asarray(outs["n"], dtype=np.int64)
        if out_n.size and not np.array_equal(out_n, np.arange(out_n.size) - np.repeat(np.cumsum(n_out) - n_out, n_out)):
            raise InvalidInput("output indexes of a transaction are not 0, 1, ...", field="n")
        out_value = np.asarray(outs["value"], dtype=np.int64)
        st.out_start.extend(st.out_start.a[st.n_tx] + np.cumsum(n_out))
        st.out_value.extend(out_value)
        st.out_addr.extend(addr_ids)
        st.out_stype.extend(_stype_codes(outs["script_type"]))
        st.n_tx += k
        st.block_first_tx.extend(first_tx[~known_b])
        st.block_ntx.extend(np.asarray(blocks["tx_count"], dtype=np.int64)[~known_b])

        # 7. inputs: resolve against every stored output and this batch's
        in_tx = np.repeat(tx_ids, n_in)
        prev_n = np.asarray(pc.fill_null(ins["prev_n"], -1), dtype=np.int64)
        coinbase = np.asarray(pc.is_null(ins["prev_txid"]), dtype=bool)
        in_keys, _ = _keys_of_hex(ins["prev_txid"])
        in_entries = st.txids.lookup(in_keys)
        prev_tx, row = st.resolve(in_entries, prev_n)
        ok = row >= 0
        rowc = np.maximum(row, 0)
        in_value = st.out_value.a[rowc]
        in_addr = st.out_addr.a[rowc].astype(np.int64)
        in_stype = st.out_stype.a[rowc]
        resolved = int(ok.sum())
        unresolved = ~ok & ~coinbase
        known = ok.copy()          # value, address and script type known: resolved, or told by the source
        new_pv_addr_rows = np.empty(0, dtype=np.int64)
        pv_addr_ids = np.empty(0, dtype=np.int64)
        if prevouts is not None and prevouts.num_rows:
            told = unresolved & ~np.asarray(pc.is_null(prevouts["value"]), dtype=bool)
            if told.any():
                n_addr_pv = len(st.addrs)
                pv_told = pc.if_else(pa.array(told), prevouts["address"], pa.scalar(None, pa.string()))
                pv_addr_ids = st.addrs.insert(arrow_string_buffers(pv_told))
                new_pv_addr_rows = np.flatnonzero((pv_addr_ids >= n_addr_pv) &
                                                  (np.arange(pv_addr_ids.size) == _first_index(pv_addr_ids)))
                in_value = np.where(told, np.asarray(pc.fill_null(prevouts["value"], 0), dtype=np.int64), in_value)
                in_addr = np.where(told, pv_addr_ids, in_addr)
                in_stype = np.where(told, _stype_codes(prevouts["script_type"]), in_stype)
                known |= told
        waiting = unresolved & (in_entries < 0)
        if waiting.any():
            st.add_pending(in_keys.take(np.flatnonzero(waiting)), in_tx[waiting],
                           np.asarray(ins["n"], dtype=np.int64)[waiting], prev_n[waiting])
        # input value of each new tx: the sum when every input is resolved (0 for a coinbase)
        input_value = np.zeros(k, dtype=np.int64)
        tx_open = np.zeros(k, dtype=bool)
        if k:
            if (n_in < 1).any():
                raise InvalidInput("a transaction without inputs", field="n_in", value=0)
            in_start = np.cumsum(n_in) - n_in
            input_value = np.add.reduceat(np.where(known, in_value, 0), in_start) if ins.num_rows else input_value
            tx_open = (np.add.reduceat((~known & ~coinbase).astype(np.int64), in_start) > 0 if ins.num_rows
                       else tx_open)

        # 8. inputs stored earlier that waited for a txid of this batch
        late_tx, late_n, l_prev, l_row = st.take_pending(tx_keys.take(np.flatnonzero(fresh_first)),
                                                         tx_ids[fresh_first])
        l_ok = l_row >= 0
        resolved += int(l_ok.sum())
        # 9. write
        self._insert_blocks(con, chain, st, blocks.filter(pa.array(~known_b)), fresh, first_tx[~known_b], run_id,
                            loose=loose)
        self._write_block_fields(con, chain, st, sorted(ch.changed))
        self._flag_rows(con, chain, st, sorted(ch.best_flipped))
        con.register("b_txs", txs.select(["chain", "txid", "wtxid", "block_hash", "block_index", "version", "locktime",
                                          "size", "vsize", "weight", "is_coinbase", "has_witness", "n_in", "n_out",
                                          "output_value"]).append_column("tx_id", pa.array(tx_ids))
                     .append_column("input_value", pa.array(input_value, mask=tx_open))
                     .append_column("best", pa.array(tx_best)))
        con.execute("INSERT INTO txs (chain, tx_id, txid, wtxid, block_hash, block_index, version, locktime, size, "
                    "vsize, weight, is_coinbase, has_witness, n_in, n_out, output_value, input_value, best) "
                    "SELECT chain, tx_id, txid, wtxid, block_hash, block_index, version, locktime, size, vsize, weight, "
                    "is_coinbase, has_witness, n_in, n_out, output_value, input_value, best FROM b_txs")
        KeyLookups.append_txs(con, chain, "b_txs")
        con.unregister("b_txs")
        if new_addr_rows.size:
            con.register("b_addr", pa.table({"id": pa.array(addr_ids[new_addr_rows]),
                                             "address": outs["address"].take(pa.array(new_addr_rows))}))
            con.execute("INSERT INTO addresses (chain, id, address) SELECT ?, id, address FROM b_addr", [chain])
            KeyLookups.append_addresses(con, chain, "b_addr")
            con.unregister("b_addr")
        if new_pv_addr_rows.size:
            assert prevouts is not None
            con.register("b_addr", pa.table({"id": pa.array(pv_addr_ids[new_pv_addr_rows]),
                                             "address": prevouts["address"].take(pa.array(new_pv_addr_rows))}))
            con.execute("INSERT INTO addresses (chain, id, address) SELECT ?, id, address FROM b_addr", [chain])
            KeyLookups.append_addresses(con, chain, "b_addr")
            con.unregister("b_addr")
        out_best = np.repeat(tx_best, n_out)
        con.register("b_out", pa.table({"tx_id": pa.array(out_tx), "n": outs["n"], "value": outs["value"],
                                        "script_type": outs["script_type"],
                                        "address_id": pa.array(addr_ids, mask=addr_ids < 0), "script": outs["script"],
                                        "best": pa.array(out_best)}))
        con.execute("INSERT INTO outputs (chain, tx_id, n, value, script_type, address_id, script, best) "
                    "SELECT ?, tx_id, n, value, script_type, address_id, script, best FROM b_out", [chain])
        con.unregister("b_out")
        in_best = np.repeat(tx_best, n_in)
        con.register("b_in", pa.table({
            "tx_id": pa.array(in_tx), "n": ins["n"], "prev_txid": ins["prev_txid"], "prev_n": ins["prev_n"],
            "prev_tx_id": pa.array(prev_tx, mask=~ok), "address_id": pa.array(in_addr, mask=~known | (in_addr < 0)),
            "value": pa.array(in_value, mask=~known), "script_type": _STYPE.take(pa.array(
                in_stype.astype(np.int64), mask=~known | (in_stype < 0))),
            "sequence": ins["sequence"], "script_sig_size": ins["script_sig_size"],
            "witness_items": ins["witness_items"], "best": pa.array(in_best)}))
        con.execute("INSERT INTO inputs (chain, tx_id, n, prev_txid, prev_n, prev_tx_id, address_id, value, "
                    "script_type, sequence, script_sig_size, witness_items, best) "
                    "SELECT ?, tx_id, n, prev_txid, prev_n, prev_tx_id, address_id, value, script_type, sequence, "
                    "script_sig_size, witness_items, best FROM b_in", [chain])
        con.execute("INSERT INTO unresolved_inputs (chain, tx_id, n, prev_txid, prev_n) "
                    "SELECT ?, tx_id, n, prev_txid, prev_n FROM b_in WHERE prev_txid IS NOT NULL AND prev_tx_id IS NULL",
                    [chain])
        con.unregister("b_in")
        if copies.any():
            con.register("b_copies", pa.table({"txid": txs["txid"].take(pa.array(np.flatnonzero(copies)))}))
            con.execute("INSERT INTO txid_copies (chain, txid) SELECT DISTINCT ?, txid FROM b_copies c WHERE NOT EXISTS "
                        "(SELECT 1 FROM txid_copies x WHERE x.chain = ? AND x.txid = c.txid)", [chain, chain])
            con.unregister("b_copies")
        if l_ok.any():
            lr = np.maximum(l_row, 0)
            la = st.out_addr.a[lr].astype(np.int64)
            ls = st.out_stype.a[lr]
            sel = np.flatnonzero(l_ok)
            con.register("b_late", pa.table({
                "tx_id": pa.array(late_tx[sel]), "n": pa.array(late_n[sel]), "prev_tx_id": pa.array(l_prev[sel]),
                "address_id": pa.array(la[sel], mask=la[sel] < 0), "value": pa.array(st.out_value.a[lr][sel]),
                "script_type": _STYPE.take(pa.array(ls[sel].astype(np.int64), mask=ls[sel] < 0))}))
            lo, hi = int(late_tx[sel].min()), int(late_tx[sel].max())
            con.execute("UPDATE inputs SET prev_tx_id = l.prev_tx_id, address_id = l.address_id, value = l.value, "
                        "script_type = l.script_type FROM b_late l WHERE inputs.chain = ? AND inputs.tx_id BETWEEN ? "
                        "AND ? AND inputs.tx_id = l.tx_id AND inputs.n = l.n", [chain, lo, hi])
            con.execute("DELETE FROM unresolved_inputs WHERE chain = ? AND (tx_id, n) IN (SELECT (tx_id, n) FROM b_late)",
                        [chain])
            con.execute("UPDATE txs SET input_value = s.v FROM (SELECT tx_id, sum(value) AS v FROM inputs "
                        "WHERE chain = ? AND tx_id BETWEEN ? AND ? AND tx_id IN (SELECT tx_id FROM b_late) "
                        "GROUP BY tx_id HAVING count(value) = count(*)) s "
                        "WHERE txs.chain = ? AND txs.tx_id BETWEEN ? AND ? AND txs.tx_id = s.tx_id",
                        [chain, lo, hi, chain, lo, hi])
            con.unregister("b_late")
        touched = [h for h, kb in zip(hashes, known_b.tolist(), strict=True) if kb or loose]
        if touched:      # partial blocks: complete once every transaction of theirs is stored
            con.execute("UPDATE blocks SET partial = (SELECT count(*) FROM txs t WHERE t.chain = blocks.chain AND "
                        "t.block_hash = blocks.hash) < blocks.tx_count WHERE chain = ? AND hash IN (SELECT unnest(?))",
                        [chain, touched])
            still = {str(r[0]) for r in con.execute("SELECT hash FROM blocks WHERE chain = ? AND partial AND hash IN "
                                                    "(SELECT unnest(?))", [chain, touched]).fetchall()}
            st.partial = (st.partial - set(touched)) | still
        heights = [int(st.tree.height[n]) for n in ch.new if st.tree.height[n] >= 0]
        stale_new = int((~st.tree.best[fresh]).sum()) if fresh.size else 0
        return WriteResult(
            blocks_new=len(ch.new), txs_new=k, outputs_new=outs.num_rows, inputs_new=ins.num_rows,
            inputs_resolved=resolved, first_height=min(heights) if heights else None,
            last_height=max(heights) if heights else None, stale_blocks=stale_new,
            reorganised=len(ch.best_flipped))

    # -- block rows -----------------------------------------------------------------------------------
    @staticmethod
    def _insert_blocks(con: Any, chain: str, st: _ChainState, blocks: pa.Table, nb: np.ndarray,
                       first_tx: np.ndarray, run_id: int, *, loose: bool = False) -> None:
        t = st.tree
        ns = nb.tolist()
        if not ns:
            return
        tbl = blocks.select(["chain", "hash", "prev_hash", "merkle_root", "time", "version", "bits", "nonce",
                             "tx_count", "size", "stripped_size", "weight", "source_file", "source_offset"])
        claims = [None if t.claim[n] < 0 or t.hash[n] == t.genesis_hash else int(t.claim[n]) for n in ns]
        extra = {
            "height": pa.array([None if t.height[n] < 0 else int(t.height[n]) for n in ns], pa.int64()),
            "height_source": pa.array([t.height_source(n) for n in ns], pa.string()),
            "bip34_height": pa.array([None] * len(ns) if loose else claims, pa.int64()),
            "source_height": pa.array(claims if loose else [None] * len(ns), pa.int64()),
            "partial": pa.array([loose] * len(ns), pa.bool_()),
            "chainwork": pa.array([t.chainwork_hex(n) for n in ns], pa.string()),
            "root": pa.array([t.hash[int(t.root[n])] for n in ns], pa.string()),
            "depth": pa.array(t.depth[nb], pa.int64()),
            "best": pa.array(t.best[nb], pa.bool_()),
            "first_tx_id": pa.array(first_tx, pa.int64()),
            "run_id": pa.array(np.full(len(ns), run_id, dtype=np.int64)),
        }
        for name, col in extra.items():
            tbl = tbl.append_column(name, col)
        con.register("b_blocks", tbl)
        con.execute(
            "INSERT INTO blocks (chain, hash, height, height_source, prev_hash, merkle_root, time, version, bits, "
            "nonce, tx_count, size, stripped_size, weight, run_id, source_file, source_offset, chainwork, root, "
            "depth, best, first_tx_id, bip34_height, source_height, partial) "
            "SELECT chain, hash, height, height_source, prev_hash, merkle_root, time, version, bits, nonce, "
            "tx_count, size, stripped_size, weight, run_id, source_file, source_offset, chainwork, root, depth, "
            "best, CASE WHEN first_tx_id < 0 THEN NULL ELSE first_tx_id END, bip34_height, source_height, partial "
            "FROM b_blocks")
        con.unregister("b_blocks")

    @staticmethod
    def _write_block_fields(con: Any, chain: str, st: _ChainState, changed: list[int]) -> None:
        """Derived fields of stored blocks whose tree moved (a merge, heights found, the best chain)."""
        if not changed:
            return
        t = st.tree
        con.register("b_upd", pa.table({
            "hash": pa.array([t.hash[n] for n in changed], pa.string()),
            "chainwork": pa.array([t.chainwork_hex(n) for n in changed], pa.string()),
            "root": pa.array([t.hash[int(t.root[n])] for n in changed], pa.string()),
            "depth": pa.array(t.depth[changed], pa.int64()),
            "height": pa.array([None if t.height[n] < 0 else int(t.height[n]) for n in changed], pa.int64()),
            "height_source": pa.array([t.height_source(n) for n in changed], pa.string()),
            "best": pa.array(t.best[changed], pa.bool_())}))
        con.execute("UPDATE blocks SET chainwork = u.chainwork, root = u.root, depth = u.depth, height = u.height, "
                    "height_source = u.height_source, best = u.best FROM b_upd u "
                    "WHERE blocks.chain = ? AND blocks.hash = u.hash", [chain])
        con.unregister("b_upd")

    @staticmethod
    def _flag_rows(con: Any, chain: str, st: _ChainState, flipped: list[int]) -> None:
        """Carry the best flag of stored blocks that joined or left the best chain to their rows (found by
        tx id range: a block's transactions have consecutive ids)."""
        if not flipped:
            return
        ranges: list[list[int]] = []       # [lo, hi) of consecutive blocks with the same new flag
        scattered: dict[bool, list[str]] = {True: [], False: []}
        for n in sorted(flipped, key=lambda x: int(st.block_first_tx.a[x])):
            lo = int(st.block_first_tx.a[n])
            if lo < 0:      # a block once partial: its transactions are found by block hash
                scattered[bool(st.tree.best[n])].append(st.tree.hash[n])
                continue
            hi = lo + int(st.block_ntx.a[n])
            flag = int(st.tree.best[n])
            if ranges and ranges[-1][1] == lo and ranges[-1][2] == flag:
                ranges[-1][1] = hi
            else:
                ranges.append([lo, hi, flag])
        for lo, hi, flag in ranges:
            for table in ("txs", "outputs", "inputs"):
                con.execute(f"UPDATE {table} SET best = ? WHERE chain = ? AND tx_id >= ? AND tx_id < ?",
                            [bool(flag), chain, lo, hi])
        for flag_, hs in scattered.items():
            if hs:
                ids = "(SELECT tx_id FROM txs WHERE chain = ? AND block_hash IN (SELECT unnest(?)))"
                for table in ("outputs", "inputs", "txs"):
                    con.execute(f"UPDATE {table} SET best = ? WHERE chain = ? AND tx_id IN {ids}",
                                [flag_, chain, chain, hs])


def _first_index(entries: np.ndarray) -> np.ndarray:
    """Per row, the position of the first row with the same entry."""
    if not entries.size:
        return np.zeros(0, dtype=np.int64)
    _, first, inv = np.unique(entries, return_index=True, return_inverse=True)
    return first[inv]
