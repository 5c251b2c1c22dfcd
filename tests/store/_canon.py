"""The UTXO tables of a store in a form that does not depend on the order data arrived in.

Dense ids (tx ids, address ids) follow arrival order, and provenance columns (the run and the file that
stored a block) say where a block came from, so they are translated to natural keys or left out: a
transaction is named by (block hash, position in block), an address by its text, an input's spent
transaction by its txid. What is left is what the store says about the chain.
"""

from __future__ import annotations

from typing import Any

from chainsleuth.store import Store

__all__ = ["canonical_tables", "read_blocks"]


def canonical_tables(store: Store, chain: str = "btc") -> dict[str, Any]:
    q = store.db.all
    return {
        "blocks": sorted(q(
            "SELECT hash, height, height_source, prev_hash, merkle_root, time, version, bits, nonce, tx_count, size, "
            "stripped_size, weight, chainwork, root, depth, best, bip34_height FROM blocks WHERE chain = ?", [chain])),
        "txs": sorted(q(
            "SELECT block_hash, block_index, txid, wtxid, version, locktime, size, vsize, weight, is_coinbase, "
            "has_witness, n_in, n_out, output_value, input_value, best FROM txs WHERE chain = ?", [chain])),
        "outputs": sorted(q(
            "SELECT t.block_hash, t.txid, o.n, o.value, o.script_type, a.address, o.script, o.best FROM outputs o "
            "JOIN txs t ON t.chain = o.chain AND t.tx_id = o.tx_id "
            "LEFT JOIN addresses a ON a.chain = o.chain AND a.id = o.address_id WHERE o.chain = ?", [chain]),
            key=repr),
        "inputs": sorted(q(
            "SELECT t.block_hash, t.txid, i.n, i.prev_txid, i.prev_n, p.txid, a.address, i.value, i.script_type, "
            "i.sequence, i.script_sig_size, i.witness_items, i.best FROM inputs i "
            "JOIN txs t ON t.chain = i.chain AND t.tx_id = i.tx_id "
            "LEFT JOIN txs p ON p.chain = i.chain AND p.tx_id = i.prev_tx_id "
            "LEFT JOIN addresses a ON a.chain = i.chain AND a.id = i.address_id WHERE i.chain = ?", [chain]),
            key=repr),
        "addresses": sorted(r[0] for r in q("SELECT address FROM addresses WHERE chain = ?", [chain])),
        "address_ids_dense": q("SELECT count(*) = coalesce(max(id) + 1, 0), count(DISTINCT address) = count(*) "
                               "FROM addresses WHERE chain = ?", [chain]),
        "unresolved": sorted(q(
            "SELECT t.block_hash, t.txid, u.n, u.prev_txid, u.prev_n FROM unresolved_inputs u "
            "JOIN txs t ON t.chain = u.chain AND t.tx_id = u.tx_id WHERE u.chain = ?", [chain])),
        "txid_copies": sorted(r[0] for r in q("SELECT txid FROM txid_copies WHERE chain = ?", [chain])),
        "tx_ids_dense": q("SELECT count(*) = coalesce(max(tx_id) + 1, 0) FROM txs WHERE chain = ?", [chain]),
    }


def read_blocks(path: Any) -> list[bytes]:
    """The raw blocks of a blk*.dat-framed file, a raw block file or a hex file."""
    from pathlib import Path

    data = Path(path).read_bytes()
    if Path(path).suffix == ".hex":
        return [bytes.fromhex(data.decode().strip())]
    if data[:4] in (bytes.fromhex("f9beb4d9"), bytes.fromhex("0b110907"), bytes.fromhex("fabfb5da")):
        out, pos = [], 0
        while pos + 8 <= len(data) and data[pos:pos + 4] == data[:4]:
            size = int.from_bytes(data[pos + 4:pos + 8], "little")
            out.append(data[pos + 8:pos + 8 + size])
            pos += 8 + size
        return out
    return [data]
