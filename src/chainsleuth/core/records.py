"""Columnar records that sources produce and the store consumes (Arrow batches).

A source turns an outside format into a :class:`UtxoBatch` (four Arrow tables, one row per block, tx,
output, input); nothing downstream ever sees raw bytes or raw node JSON. Row order is part of the
contract: blocks in the order they were read; each block's transactions together and in block order
(``block_index`` 0, 1, ...), so a repeated block is a second run of rows; outputs and inputs in transaction
order, ``n`` 0, 1, ... within each transaction. Amounts are int64 satoshis
(21e6 BTC * 1e8 < 2**63). Hashes and txids are lowercase hex in display (big-endian) order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

__all__ = [
    "BLOCK_SCHEMA",
    "INPUT_SCHEMA",
    "OUTPUT_SCHEMA",
    "PREVOUT_SCHEMA",
    "SCRIPT_TYPES",
    "TX_SCHEMA",
    "UtxoBatch",
]

#: script types as stored in ``outputs.script_type``
SCRIPT_TYPES = (
    "p2pk", "p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "multisig", "op_return", "witness_unknown", "nonstandard",
)

BLOCK_SCHEMA = pa.schema([
    ("chain", pa.string()),
    ("hash", pa.string()),
    ("height", pa.int64()),            # null when unknown at parse time (store links it to its parent)
    ("height_source", pa.string()),    # 'genesis' (linked back to genesis), 'bip34', 'parent', or null
    ("prev_hash", pa.string()),
    ("merkle_root", pa.string()),
    ("time", pa.int64()),
    ("version", pa.int64()),
    ("bits", pa.int64()),
    ("nonce", pa.int64()),
    ("tx_count", pa.int32()),
    ("size", pa.int64()),
    ("stripped_size", pa.int64()),
    ("weight", pa.int64()),
    ("source_file", pa.string()),      # where the bytes came from (file path or URL), for provenance and errors
    ("source_offset", pa.int64()),     # byte offset of the block (after framing) in source_file
    ("bip34_height", pa.int64()),      # the height its coinbase claims (BIP34), whatever else was parsed; or null
])

TX_SCHEMA = pa.schema([
    ("chain", pa.string()),
    ("txid", pa.string()),
    ("wtxid", pa.string()),
    ("block_hash", pa.string()),
    ("block_index", pa.int32()),       # position in the block
    ("version", pa.int64()),
    ("locktime", pa.int64()),
    ("size", pa.int64()),
    ("vsize", pa.int64()),
    ("weight", pa.int64()),
    ("is_coinbase", pa.bool_()),
    ("has_witness", pa.bool_()),
    ("n_in", pa.int32()),
    ("n_out", pa.int32()),
    ("output_value", pa.int64()),
])

OUTPUT_SCHEMA = pa.schema([
    ("chain", pa.string()),
    ("txid", pa.string()),
    ("block_hash", pa.string()),
    ("n", pa.int32()),
    ("value", pa.int64()),
    ("script_type", pa.string()),
    ("address", pa.string()),          # null for op_return; 'nonstandard<sha256[:40]>' for non-standard scripts
    ("script", pa.binary()),           # scriptPubKey bytes (OP_RETURN payload kept here)
])

INPUT_SCHEMA = pa.schema([
    ("chain", pa.string()),
    ("txid", pa.string()),
    ("block_hash", pa.string()),
    ("n", pa.int32()),
    ("prev_txid", pa.string()),        # null for the coinbase input
    ("prev_n", pa.int64()),
    ("sequence", pa.int64()),
    ("script_sig_size", pa.int32()),
    ("witness_items", pa.int32()),
])


#: what a source says of the output each input spends (Esplora's ``prevout``), one row per input row;
#: null ``value`` where it says nothing (the coinbase input). The store uses it for inputs whose spent
#: output it does not hold; once that output is stored, the stored output wins (they must agree).
PREVOUT_SCHEMA = pa.schema([
    ("value", pa.int64()),
    ("script_type", pa.string()),
    ("address", pa.string()),
])


@dataclass(frozen=True)
class UtxoBatch:
    """One batch of parsed UTXO-chain data. All four tables follow the schemas above."""

    blocks: pa.Table
    txs: pa.Table
    outputs: pa.Table
    inputs: pa.Table
    skipped: tuple[str, ...] = field(default_factory=tuple)   # human-readable notes on skipped records
    #: a source's word on the outputs the inputs spend (PREVOUT_SCHEMA, aligned with ``inputs``), or None
    prevouts: pa.Table | None = None
    #: blocks whose transactions are not all in the batch (single transactions from an explorer API): their
    #: ``tx_count`` is the header's, and their rows are the transactions fetched, at their ``block_index``
    loose: bool = False

    @property
    def n_blocks(self) -> int:
        return self.blocks.num_rows

    @property
    def n_txs(self) -> int:
        return self.txs.num_rows

    @staticmethod
    def empty() -> UtxoBatch:
        return UtxoBatch(BLOCK_SCHEMA.empty_table(), TX_SCHEMA.empty_table(), OUTPUT_SCHEMA.empty_table(),
                         INPUT_SCHEMA.empty_table())
