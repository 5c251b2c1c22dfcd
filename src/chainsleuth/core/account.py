"""Account-chain (EVM) records: the Arrow schemas sources produce and the store consumes, the transfer kinds,
and the EIP-55 address checksum.

Value accounting (docs/evm.md explains it in full): every unit of native coin or token that changes hands
is one row of :data:`TRANSFER_SCHEMA`. A transaction's own value is a ``native`` transfer (only when the
transaction succeeded); value moved inside contracts is ``internal`` (CALL/CREATE with value) or
``selfdestruct``; the gas fee is split into ``fee`` (the priority part, sender -> block fee recipient) and
``burn`` (base fee and blob fee, sender -> nobody); ``withdrawal`` (beacon chain -> address) and ``reward``
(block/uncle reward from Parity traces) create coin; ``erc20``, ``erc721`` and ``erc1155`` come from logs.

Amounts are exact: Arrow ``decimal128(38, 0)``. A token amount beyond 38 digits (uint256 allows 78; spam
tokens use them) goes into ``value_big`` as a decimal string with ``value`` null, so nothing is rounded.
Addresses are lower-case hex with ``0x``; :func:`to_checksum_address` renders them (EIP-55).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
from Crypto.Hash import keccak

from chainsleuth.errors import InvalidInput

__all__ = [
    "ACCOUNT_BLOCK_SCHEMA",
    "ACCOUNT_TX_SCHEMA",
    "AMOUNT",
    "MAX_DECIMAL",
    "TOKEN_SCHEMA",
    "TRANSFER_KINDS",
    "TRANSFER_SCHEMA",
    "AccountBatch",
    "amount_columns",
    "is_address",
    "keccak256",
    "normalize_address",
    "to_checksum_address",
]

#: exact amount type of every value column
AMOUNT = pa.decimal128(38, 0)
#: largest value that fits in :data:`AMOUNT`; larger ones are kept as strings in ``value_big``
MAX_DECIMAL = 10**38 - 1

#: transfer kinds, in the order they are numbered inside a transaction
TRANSFER_KINDS = (
    "native",        # the transaction's own value (successful transactions only)
    "internal",      # CALL / CREATE / CREATE2 with value inside a transaction (traces)
    "selfdestruct",  # SELFDESTRUCT sending the contract's balance to a beneficiary (traces)
    "erc20",         # Transfer(from, to, value) log with 3 topics
    "erc721",        # Transfer(from, to, tokenId) log with 4 topics; value 1
    "erc1155",       # TransferSingle / TransferBatch logs; one row per id
    "fee",           # priority fee: sender -> block fee recipient
    "burn",          # base fee and blob fee: sender -> nobody (to is null)
    "reward",        # block / uncle reward (Parity traces of pre-merge chains): nobody -> miner
    "withdrawal",    # beacon-chain withdrawal (post-Shanghai): nobody -> address
    "genesis",       # genesis allocation in block 0 (ethereum-etl 'genesis' traces): nobody -> address
    "daofork",       # the DAO fork's irregular state change at block 1,920,000 (ethereum-etl 'daofork' traces)
)

ACCOUNT_BLOCK_SCHEMA = pa.schema([
    ("chain", pa.string()),
    ("number", pa.int64()),
    ("hash", pa.string()),
    ("parent_hash", pa.string()),
    ("time", pa.int64()),
    ("miner", pa.string()),              # fee recipient
    ("gas_used", pa.int64()),
    ("gas_limit", pa.int64()),
    ("base_fee_per_gas", AMOUNT),        # null before London
    ("tx_count", pa.int32()),
    ("withdrawal_count", pa.int32()),
    ("size", pa.int64()),
    ("traces", pa.string()),             # 'geth', 'parity', 'etl' or 'none': whether internal transfers are in
    ("transactions_root", pa.string()),
])

ACCOUNT_TX_SCHEMA = pa.schema([
    ("chain", pa.string()),
    ("hash", pa.string()),
    ("block_hash", pa.string()),
    ("block_number", pa.int64()),
    ("tx_index", pa.int32()),
    ("from", pa.string()),
    ("to", pa.string()),                 # null for a contract creation
    ("value", AMOUNT),
    ("nonce", pa.int64()),
    ("tx_type", pa.int32()),
    ("gas", pa.int64()),
    ("gas_price", AMOUNT),
    ("max_fee_per_gas", AMOUNT),
    ("max_priority_fee_per_gas", AMOUNT),
    ("input_size", pa.int32()),          # bytes of call data
    ("method_id", pa.string()),          # first 4 bytes of call data, hex
    ("status", pa.int8()),               # 1 success, 0 failed, null unknown (pre-Byzantium without traces)
    ("gas_used", pa.int64()),
    ("effective_gas_price", AMOUNT),
    ("fee", AMOUNT),                     # gas_used * effective_gas_price (+ blob fee), paid by the sender
    ("contract_address", pa.string()),   # created contract
])

TRANSFER_SCHEMA = pa.schema([
    ("chain", pa.string()),
    ("block_hash", pa.string()),
    ("block_number", pa.int64()),
    ("tx_hash", pa.string()),            # null for withdrawals and rewards
    ("tx_index", pa.int32()),            # null for withdrawals and rewards
    ("index", pa.int32()),               # order inside the transaction (or inside the block when tx is null)
    ("kind", pa.string()),
    ("from", pa.string()),               # null when coin is created (withdrawal, reward) or minted by the protocol
    ("to", pa.string()),                 # null when coin is destroyed (burn)
    ("asset", pa.string()),              # 'native' or the token contract, lower-case
    ("token_id", pa.string()),           # ERC-721 / ERC-1155 token id (decimal), else null
    ("value", AMOUNT),
    ("value_big", pa.string()),          # decimal digits when value does not fit decimal(38,0); value is then null
    ("trace_address", pa.string()),      # position in the call tree ('0.1') for internal transfers
    ("log_index", pa.int32()),           # for token transfers
])

TOKEN_SCHEMA = pa.schema([
    ("chain", pa.string()),
    ("address", pa.string()),
    ("standard", pa.string()),           # erc20, erc721, erc1155 (as first seen)
    ("symbol", pa.string()),
    ("name", pa.string()),
    ("decimals", pa.int32()),
])


@dataclass(frozen=True)
class AccountBatch:
    """One batch of account-chain data, all tables following the schemas above (one chain per batch)."""

    blocks: pa.Table
    txs: pa.Table
    transfers: pa.Table
    tokens: pa.Table
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_blocks(self) -> int:
        return self.blocks.num_rows

    @staticmethod
    def empty() -> AccountBatch:
        return AccountBatch(ACCOUNT_BLOCK_SCHEMA.empty_table(), ACCOUNT_TX_SCHEMA.empty_table(),
                            TRANSFER_SCHEMA.empty_table(), TOKEN_SCHEMA.empty_table())


def amount_columns(values: list[int | None]) -> tuple[list[int | None], list[str | None]]:
    """Split exact ints into (decimal128 column, overflow string column).

    >>> amount_columns([1, None, 10**40])
    ([1, None, None], [None, None, '10000000000000000000000000000000000000000'])
    """
    dec: list[int | None] = []
    big: list[str | None] = []
    for v in values:
        if v is None:
            dec.append(None)
            big.append(None)
        elif 0 <= v <= MAX_DECIMAL:
            dec.append(v)
            big.append(None)
        else:
            dec.append(None)
            big.append(str(v))
    return dec, big


def keccak256(data: bytes) -> bytes:
    """Keccak-256 as Ethereum uses it (not NIST SHA3-256).

    >>> keccak256(b"").hex()[:16]
    'c5d2460186f7233c'
    """
    return keccak.new(digest_bits=256, data=data).digest()


_HEX = frozenset("0123456789abcdefABCDEF")


def is_address(text: str) -> bool:
    """True for ``0x`` + 40 hex digits (any case).

    >>> is_address("0x52908400098527886E0F7030069857D2E4169EE7"), is_address("0x1234")
    (True, False)
    """
    return len(text) == 42 and text[:2] in ("0x", "0X") and all(c in _HEX for c in text[2:])


def normalize_address(text: str, *, field: str = "address") -> str:
    """Lower-case form used in the store; rejects anything that is not 20 bytes of hex, and a mixed-case
    address whose EIP-55 checksum is wrong (a typo).

    >>> normalize_address("0x52908400098527886E0F7030069857D2E4169EE7")
    '0x52908400098527886e0f7030069857d2e4169ee7'
    """
    if not is_address(text):
        raise InvalidInput(f"{text!r} is not an EVM address (0x followed by 40 hex digits)", field=field, value=text)
    body = text[2:]
    low = "0x" + body.lower()
    if body != body.lower() and body != body.upper() and to_checksum_address(low) != "0x" + body:
        raise InvalidInput(f"{text!r} has a wrong EIP-55 checksum (expected {to_checksum_address(low)})",
                           field=field, value=text)
    return low


def to_checksum_address(address: str) -> str:
    """EIP-55 mixed-case checksum encoding.

    >>> to_checksum_address("0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359")
    '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359'
    """
    low = address.lower().removeprefix("0x")
    h = keccak256(low.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(h[i], 16) >= 8 else c for i, c in enumerate(low))
