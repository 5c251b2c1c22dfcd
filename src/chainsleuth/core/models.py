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
    "BtcNodeIngestSummary",
    "IngestSummary",
    "StoreStats",
    "TxInput",
    "TxOutput",
    "UtxoTxInfo",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BlockInfo(_Model):
    """``show block``. UTXO chains add the block's size, stripped size and weight, how many of its
    transactions carry a witness, its header fields, the chain's cumulative work up to it (from genesis;
    null in a segment of blocks not linked to genesis), where its height comes from ('genesis', 'bip34' or
    null), whether it is on the best chain (``best``; a stale block is shown only when asked for by hash)
    and how many best-chain blocks the data holds from it to the tip (``confirmations_in_data``)."""

    chain: str
    hash: str
    height: int | None
    prev_hash: str
    time: int
    merkle_root: str
    tx_count: int
    size: int | None = None
    stripped_size: int | None = None
    weight: int | None = None
    segwit_txs: int | None = None
    version: int | None = None
    bits: int | None = None
    nonce: int | None = None
    chainwork: str | None = None
    height_source: str | None = None
    best: bool | None = None
    confirmations_in_data: int | None = None


class TxInput(_Model):
    n: int
    address: str | None
    value: int | None          # None when the spent output is not in the workspace
    prev_txid: str | None      # None for a coinbase input
    prev_n: int | None
    outpoint: str | None               # "prev_txid:prev_n", the coin it spends
    script_type: str | None            # of the output it spends (None when that output is not in the data)
    asset: str
    unit: str


class TxOutput(_Model):
    n: int
    address: str | None
    value: int
    script_type: str
    spent_by: str | None       # "txid:n" of the spending input on the best chain, None if none is in the data
    outpoint: str              # "txid:n"
    #: spent | unspent_in_data (no input in the data spends it and the data holds every later block) |
    #: unknown_beyond_data (blocks after it are missing: a spend may be there) | unspendable
    status: str
    unspendable: str | None    # why it can never be spent (OP_RETURN, genesis coinbase, BIP30)
    asset: str
    unit: str


class UtxoTxInfo(_Model):
    txid: str
    chain: str
    block_height: int | None
    block_hash: str
    time: int
    fee: int | None            # None when some prevouts are missing; 0 for a coinbase
    inputs: list[TxInput]
    outputs: list[TxOutput]
    asset: str
    unit: str
    best: bool                 # its block is on the best chain (else: shown because asked for)
    inputs_outside_data: int   # inputs whose spent output is not in the workspace (so fee is null)


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
    transfer: str              # "txhash:index", the movement cited
    unit: str                  # 'wei', 'base unit' (tokens) or 'token' (ERC-721/1155: value counts tokens)
    decimals: int | None
    symbol: str | None


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
    asset: str                 # of value and fee: the chain's native coin
    unit: str

    def model_dump(self, **kw: Any) -> dict[str, Any]:
        kw.setdefault("by_alias", True)
        return super().model_dump(**kw)

    def model_dump_json(self, **kw: Any) -> str:
        kw.setdefault("by_alias", True)
        return super().model_dump_json(**kw)


class AddressInfo(_Model):
    """``show address``. ``received``/``sent``/``balance`` are ints (UTXO chains, counted in ``asset`` and
    ``unit``) or per asset (account chains, each key's unit in ``units``); None when the workspace holds no
    transaction of the address (``in_data`` false: it is known from tags only). ``balance`` is what the data
    leaves unspent (``provenance.coverage`` says which blocks the data holds); ``unspendable`` is the part of
    it that can never be spent (the genesis coinbase). ``transactions`` is one page of its transactions,
    newest first (``transactions_page``: limit, offset, total), each with what the address received and sent in
    it (base units of ``asset``; native coin on account chains, fees included)."""

    address: str
    chain: str
    cluster: dict[str, Any] | None
    tags: list[dict[str, Any]]
    received: int | dict[str, int] | None
    sent: int | dict[str, int] | None
    balance: int | dict[str, int] | None
    tx_count: int
    first_seen: int | None
    last_seen: int | None
    in_data: bool = True
    asset: str | None = None
    unit: str | None = None
    units: dict[str, dict[str, Any]] | None = None
    script_types: list[str] = Field(default_factory=list)
    unspendable: int | None = None
    provenance: dict[str, Any] = Field(default_factory=dict)
    transactions: list[dict[str, Any]] = Field(default_factory=list)
    transactions_page: dict[str, int] = Field(default_factory=dict)


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
    #: 'checked', or 'not checked' when the run accepted blocks without proof of work (--allow-invalid-pow)
    proof_of_work: str = "checked"


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


class BtcNodeIngestSummary(_Model):
    """What an ingest from a Bitcoin node did (all rounds of a ``--follow`` run together). ``stale_blocks``:
    stored blocks that left the best chain because the node's branch has more work (a reorg)."""

    chain: str
    run_ids: list[int]
    source: str
    endpoint: str
    network: str
    block_format: str
    blocks_seen: int
    blocks_new: int
    txs_new: int
    outputs_new: int
    inputs_new: int
    inputs_resolved: int
    stale_blocks: int
    reorgs: int
    first_height: int | None
    last_height: int | None
    head: int | None
    tip: str | None
    notes: list[str]
    seconds: float


class StoreStats(_Model):
    schema_version: int
    chains: dict[str, dict[str, Any]]
