"""Rows (dicts from the mappers) -> one :class:`~chainsleuth.core.account.AccountBatch` of Arrow tables."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from chainsleuth.core.account import (
    ACCOUNT_BLOCK_SCHEMA,
    ACCOUNT_TX_SCHEMA,
    TOKEN_SCHEMA,
    TRANSFER_SCHEMA,
    AccountBatch,
    amount_columns,
)

__all__ = ["build_batch", "native_transfer"]


def native_transfer(tx: dict[str, Any]) -> dict[str, Any] | None:
    """The transaction's own value as a ``native`` transfer (index 0), or None (no value, or it failed)."""
    if not tx["value"] or tx.get("status") == 0:
        return None
    to = tx["to"] if tx["to"] is not None else tx.get("contract_address")
    return {"chain": tx["chain"], "block_hash": tx["block_hash"], "block_number": tx["block_number"],
            "tx_hash": tx["hash"], "tx_index": tx["tx_index"], "index": 0, "kind": "native", "from": tx["from"],
            "to": to, "asset": "native", "token_id": None, "value": tx["value"], "trace_address": None,
            "log_index": None}


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows -> table; keys outside the schema are ignored, missing ones are null (from_pylist runs in C++,
    several times faster than building Python columns first)."""
    return pa.Table.from_pylist(rows, schema=schema)


def build_batch(blocks: list[dict[str, Any]], txs: list[dict[str, Any]], transfers: list[dict[str, Any]],
                tokens: list[dict[str, Any]], notes: tuple[str, ...] = ()) -> AccountBatch:
    vals, big = amount_columns([t["value"] for t in transfers])
    for t, v, b in zip(transfers, vals, big, strict=True):
        t["value"], t["value_big"] = v, b
    for t in txs:  # a tx value never exceeds the coin supply; gas prices might in theory: clamp to null
        for k in ("value", "gas_price", "max_fee_per_gas", "max_priority_fee_per_gas", "effective_gas_price", "fee"):
            v = t.get(k)
            if v is not None and v >= 10**38:
                t[k] = None
    return AccountBatch(_table(blocks, ACCOUNT_BLOCK_SCHEMA), _table(txs, ACCOUNT_TX_SCHEMA),
                        _table(transfers, TRANSFER_SCHEMA), _table(tokens, TOKEN_SCHEMA), notes)
