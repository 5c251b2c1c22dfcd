"""Result models for the JSON contracts of DESIGN.md (``show block/tx/address``, ``stats``).

Amounts are Python ints in base units; they serialise as JSON integers, never floats.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AccountIngestSummary",
    "AccountTransfer",
    "AccountTxInfo",
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


class AccountTransfer(_Model):
    """One movement of value inside an account-chain transaction (``show tx`` on EVM chains)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    index: int
    kind: str                  # native|internal|selfdestruct|erc20|erc721|erc1155|fee|burn
    from_: str | None = Field(alias="from")
    to: str | None             # None: burned
    asset: str                 # 'native' or the token contract (EIP-55)
    value: int
    token_id: str | None = None
    trace_address: str | None = None
    log_index: int | None = None


class AccountTxInfo(_Model):
    """``show tx`` on account chains; serialises ``from_`` as ``from``. A failed tx (status 0) moved
    nothing but its fee. ``traces`` says whether internal transfers are known ('none': they are not)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    txid: str
    chain: str
    block_height: int
    block_hash: str
    time: int
    status: int | None
    from_: str = Field(alias="from")
    to: str | None
    value: int
    fee: int | None
    gas_used: int | None
    effective_gas_price: int | None
    contract_address: str | None
    traces: str
    transfers: list[AccountTransfer]

    def model_dump(self, **kw: Any) -> dict[str, Any]:
        kw.setdefault("by_alias", True)
        return super().model_dump(**kw)

    def model_dump_json(self, **kw: Any) -> str:
        kw.setdefault("by_alias", True)
        return super().model_dump_json(**kw)


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


class AccountIngestSummary(_Model):
    """What an account-chain ingest did. ``traces='none'`` means the data lacks internal transfers."""

    chain: str
    run_id: int | None
    source: str
    endpoint: str
    chain_id: int | None
    traces: str
    blocks_seen: int
    blocks_new: int
    txs_new: int
    transfers_new: int
    tokens_new: int
    reorged_blocks: int
    first_height: int | None
    last_height: int | None
    head: int | None
    notes: list[str]
    seconds: float


class StoreStats(_Model):
    schema_version: int
    chains: dict[str, dict[str, Any]]
