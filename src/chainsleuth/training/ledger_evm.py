"""The EVM side of a training world: accounts, balances, transactions with their logs and internal calls.

Every transaction debits its sender's native balance by ``value + gas_used * gas_price`` and fails
loudly (AssertionError, a generator bug) if a balance would go negative, so the exported chain is
consistent: what an investigator sums from the transfers is what the accounts held. Token movements
are ERC-20 ``Transfer`` logs of a token contract; value moved by contracts (a mixing pool paying a
withdrawal, a bridge releasing funds, a DEX paying out ether) are internal calls, exported as traces.
Opening balances are genesis allocations of block 0 (ethereum-etl exports them as ``genesis`` traces).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "BLOCK_GAS_LIMIT",
    "GAS_CALL",
    "GAS_NATIVE",
    "GAS_TOKEN",
    "NATIVE",
    "TRANSFER_TOPIC",
    "EvmLedger",
    "EvmTx",
]

NATIVE = -1
#: keccak256("Transfer(address,address,uint256)"), topic0 of every ERC-20 transfer log
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
GAS_NATIVE = 21_000
GAS_TOKEN = 51_000
GAS_CALL = 140_000
#: gas one block may use (mainnet's limit through 2024); the ethereum-etl export writes it as ``gas_limit``
BLOCK_GAS_LIMIT = 30_000_000
_SEL_TRANSFER = "0xa9059cbb"


@dataclass
class EvmTx:
    sender: int
    to: int
    value: int
    nonce: int
    gas: int
    gas_used: int
    gas_price: int
    input: str
    block: int
    kind: str
    #: (token account, from, to, value) for each ERC-20 Transfer log, in log order
    logs: list[tuple[int, int, int, int]] = field(default_factory=list)
    #: (from, to, value) for each internal call carrying ether, in trace order
    internal: list[tuple[int, int, int]] = field(default_factory=list)


class EvmLedger:
    """Accounts, balances, transactions and blocks of the EVM side of a world (chain ``eth``)."""

    def __init__(self, rng: np.random.Generator, *, start_block: int = 1, start_time: int = 1_714_000_000,
                 salt: bytes = b"") -> None:
        self.rng = rng
        self.salt = salt
        self.acct_owner: list[int] = []
        self.acct_contract: list[bool] = []
        self.acct_label: list[str] = []
        self.nonce: list[int] = []
        self.bal: dict[tuple[int, int], int] = {}
        self.genesis: list[tuple[int, int]] = []     # (account, wei) allocated in block 0
        self.txs: list[EvmTx] = []
        self.blocks: list[list[int]] = []            # tx ids per block; blocks[0] is the genesis block
        self.block_time: list[int] = [start_time - 12]
        self.block_base_fee: list[int] = [0]
        self.block_miner: list[int] = [-1]
        self.blocks.append([])
        self.time = start_time
        self._open: list[int] = []
        self._base_fee = 15 * 10**9

    # -- accounts ------------------------------------------------------------------------------------------
    def new_account(self, entity: int, *, contract: bool = False, label: str = "") -> int:
        a = len(self.acct_owner)
        self.acct_owner.append(entity)
        self.acct_contract.append(contract)
        self.acct_label.append(label)
        self.nonce.append(0)
        return a

    def address(self, a: int) -> str:
        """0x-prefixed lowercase hex, as ethereum-etl writes addresses."""
        return "0x" + hashlib.sha256(self.salt + b"evm-acct" + a.to_bytes(8, "little")).hexdigest()[:40]

    def tx_hash(self, t: int) -> str:
        return "0x" + hashlib.sha256(self.salt + b"evm-tx" + t.to_bytes(8, "little")).hexdigest()

    def block_hash(self, b: int) -> str:
        return "0x" + hashlib.sha256(self.salt + b"evm-block" + b.to_bytes(8, "little")).hexdigest()

    def balance(self, a: int, asset: int = NATIVE) -> int:
        return self.bal.get((a, asset), 0)

    def allocate(self, a: int, wei: int) -> None:
        """Opening balance in the genesis block."""
        self.genesis.append((a, wei))
        self.bal[(a, NATIVE)] = self.bal.get((a, NATIVE), 0) + wei

    def mint(self, token: int, to: int, amount: int, *, minter: int) -> int:
        """The token contract's owner mints ``amount`` to ``to`` (a Transfer log from the zero address)."""
        return self._tx(minter, token, 0, GAS_TOKEN, "0x40c10f19" + _word(self.address(to)) + _uint(amount),
                        "mint", logs=[(token, -2, to, amount)])

    @property
    def block(self) -> int:
        return len(self.blocks)

    @property
    def n_txs(self) -> int:
        return len(self.txs)

    # -- transactions --------------------------------------------------------------------------------------
    def _move(self, frm: int, to: int, asset: int, value: int, what: str) -> None:
        if value == 0:
            return
        if frm >= 0:
            have = self.bal.get((frm, asset), 0)
            if have < value:
                raise AssertionError(f"{what}: account {frm} holds {have} of asset {asset}, needs {value}")
            self.bal[(frm, asset)] = have - value
        if to >= 0:
            self.bal[(to, asset)] = self.bal.get((to, asset), 0) + value

    def _tx(self, sender: int, to: int, value: int, gas_used: int, data: str, kind: str, *,
            logs: list[tuple[int, int, int, int]] | None = None,
            internal: list[tuple[int, int, int]] | None = None) -> int:
        gp = self._base_fee + int(self.rng.integers(1, 3)) * 10**9
        self._move(sender, -1, NATIVE, gas_used * gp, kind + " gas")
        self._move(sender, to, NATIVE, value, kind)
        for tok, f, t_, v in logs or []:
            self._move(f, t_, tok, v, kind)
        for f, t_, v in internal or []:
            self._move(f, t_, NATIVE, v, kind)
        t = len(self.txs)
        gas = gas_used + int(gas_used * 0.25) if gas_used > GAS_NATIVE else gas_used
        self.txs.append(EvmTx(sender, to, value, self.nonce[sender], gas, gas_used, gp, data, len(self.blocks),
                              kind, list(logs or []), list(internal or [])))
        self.nonce[sender] += 1
        self._open.append(t)
        return t

    def send(self, frm: int, to: int, wei: int, *, kind: str) -> int:
        """A plain ether transfer."""
        return self._tx(frm, to, wei, GAS_NATIVE, "0x", kind)

    def send_token(self, frm: int, token: int, to: int, amount: int, *, kind: str) -> int:
        """An ERC-20 ``transfer(to, amount)`` call on ``token``."""
        data = _SEL_TRANSFER + _word(self.address(to)) + _uint(amount)
        return self._tx(frm, token, 0, GAS_TOKEN, data, kind, logs=[(token, frm, to, amount)])

    def call(self, frm: int, contract: int, wei: int, selector: str, *, kind: str,
             logs: list[tuple[int, int, int, int]] | None = None,
             internal: list[tuple[int, int, int]] | None = None, args: list[str] | None = None) -> int:
        """A contract call moving ``wei`` to ``contract``, emitting token ``logs`` and ``internal`` ether calls."""
        data = selector + "".join(args or [])
        return self._tx(frm, contract, wei, GAS_CALL, data, kind, logs=logs, internal=internal)

    def fee_of(self, t: int) -> int:
        tx = self.txs[t]
        return tx.gas_used * tx.gas_price

    def max_fee(self, gas_used: int) -> int:
        """An upper bound for the fee of a transaction using ``gas_used`` in the current block."""
        return gas_used * (self._base_fee + 3 * 10**9)

    def close_block(self, miner: int, *, interval: int = 12) -> int:
        """Close the block being filled; return its index. Transactions that use more gas than one block
        may (:data:`BLOCK_GAS_LIMIT`) fill as many consecutive blocks as they need, in creation order, all
        at the base fee they were priced with, ``interval`` seconds apart."""
        groups: list[list[int]] = [[]]
        used = 0
        for t in self._open:
            g = self.txs[t].gas_used
            if used + g > BLOCK_GAS_LIMIT and groups[-1]:
                groups.append([])
                used = 0
            groups[-1].append(t)
            used += g
        for k, group in enumerate(groups):
            if k:
                for t in group:
                    self.txs[t].block = len(self.blocks)
            self.blocks.append(group)
            self.block_time.append(self.time)
            self.block_base_fee.append(self._base_fee)
            self.block_miner.append(miner)
            self.time += interval
        self._open = []
        step = 1.0 + float(self.rng.normal(0.0, 0.03))
        self._base_fee = int(min(max(self._base_fee * step, 4 * 10**9), 60 * 10**9))
        return len(self.blocks) - 1


def _word(address: str) -> str:
    return address[2:].rjust(64, "0")


def _uint(v: int) -> str:
    return format(v, "064x")
