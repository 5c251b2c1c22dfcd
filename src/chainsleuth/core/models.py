"""Result models for the JSON contracts of DESIGN.md (``show block/tx/address``, ``stats``).

Amounts are Python ints in base units; they serialise as JSON integers, never floats.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "AddressInfo",
    "BlockInfo",
    "IngestSummary",
    "StoreStats",
    "TxInput",
    "TxOutput",
    "UtxoTxInfo",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BlockInfo(_Model):
    chain: str
    hash: str
    height: int | None
    prev_hash: str
    time: int
    merkle_root: str
    tx_count: int


class TxInput(_Model):
    n: int
    address: str | None
    value: int | None          # None when the spent output is not in the workspace
    prev_txid: str | None      # None for a coinbase input
    prev_n: int | None


class TxOutput(_Model):
    n: int
    address: str | None
    value: int
    script_type: str
    spent_by: str | None       # "txid:n" of the spending input, None while unspent (in the workspace)


class UtxoTxInfo(_Model):
    txid: str
    chain: str
    block_height: int | None
    block_hash: str
    time: int
    fee: int | None            # None when some prevouts are missing; 0 for a coinbase
    inputs: list[TxInput]
    outputs: list[TxOutput]


class AddressInfo(_Model):
    address: str
    chain: str
    cluster: dict[str, Any] | None
    tags: list[dict[str, Any]]
    received: int | dict[str, int]
    sent: int | dict[str, int]
    balance: int | dict[str, int]
    tx_count: int
    first_seen: int | None
    last_seen: int | None


class IngestSummary(_Model):
    chain: str
    run_id: int
    blocks_seen: int
    blocks_new: int
    txs_new: int
    outputs_new: int
    inputs_new: int
    inputs_resolved: int
    skipped: list[str]
    first_height: int | None
    last_height: int | None
    seconds: float


class StoreStats(_Model):
    schema_version: int
    chains: dict[str, dict[str, Any]]
