"""The Bitcoin side of a training world: a UTXO ledger built transaction by transaction.

The ledger knows nothing of bytes: an address is an integer id with an owner entity, a script type (its key and text
come from the block writer's seeded key ring when the world is written); an output is an integer id with an address and a
value in satoshi; a transaction lists the output ids it spends and creates. Blocks group transactions in
creation order, so every spent output is created earlier in the chain. The output adapter
(:mod:`chainsleuth.training.output_btc`) turns the ledger into real blocks.

Fees follow the virtual sizes of the scripts (BIP141 weights, see :data:`VBYTES_IN` / :data:`VBYTES_OUT`)
times a fee rate drawn by the caller; the coinbase of each block collects the block's fees plus the
subsidy and pays the block's mining pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "DUST",
    "MAX_BLOCK_VBYTES",
    "MAX_STANDARD_TX_VBYTES",
    "SCRIPT_TYPES",
    "SUBSIDY",
    "VBYTES_IN",
    "VBYTES_OUT",
    "BtcLedger",
    "BtcWallet",
]

#: script types a generated address can have (names as ``outputs.script_type`` stores them)
SCRIPT_TYPES = ("p2pkh", "p2sh", "p2wpkh", "p2tr")
#: virtual bytes one input of each script type adds (signature included; P2SH = P2SH-P2WPKH)
VBYTES_IN = {"p2pkh": 148, "p2sh": 150, "p2wpkh": 68, "p2tr": 58}
#: virtual bytes one output of each script type adds
VBYTES_OUT = {"p2pkh": 34, "p2sh": 32, "p2wpkh": 31, "p2tr": 43}
#: transaction overhead in vbytes (version, locktime, counts, segwit marker)
VBYTES_TX = 11
#: change smaller than this goes to the fee (Bitcoin Core's dust limit for P2PKH is 546 sat)
DUST = 546
#: what one block may hold besides its coinbase (vB): the consensus limit of 4,000,000 weight units
#: (1,000,000 vB) less room for the coinbase and the header
MAX_BLOCK_VBYTES = 990_000
#: the largest transaction Bitcoin Core relays (400,000 weight units), in vB
MAX_STANDARD_TX_VBYTES = 100_000
#: block subsidy of the world's chain: mainnet rules at heights below 210,000 (sat); worlds are far shorter
SUBSIDY = 5_000_000_000


@dataclass
class BtcWallet:
    """Keys and coins of one entity (or one role of it, e.g. an exchange's hot wallet).

    ``reuse`` is the probability that a payment to this wallet, or its change, goes to an address it
    already used instead of a fresh one.
    """

    entity: int
    script_type: str
    reuse: float = 0.0
    role: str = ""          # e.g. "hot", "cold", "deposit" for an exchange's wallets
    addrs: list[int] = field(default_factory=list)
    utxos: list[int] = field(default_factory=list)

    def balance(self, ledger: BtcLedger) -> int:
        v = ledger.out_value
        return sum(v[o] for o in self.utxos)


class BtcLedger:
    """Addresses, outputs, transactions and blocks of the Bitcoin side of a world."""

    def __init__(self, rng: np.random.Generator, *, start_height: int = 1, start_time: int = 1_714_000_000,
                 salt: bytes = b"") -> None:
        self.rng = rng
        self.salt = salt
        # addresses
        self.addr_owner: list[int] = []
        self.addr_type: list[str] = []
        self.addr_wallet: list[int] = []     # id() of the wallet holding the key
        self.addr_role: list[str] = []
        # outputs
        self.out_addr: list[int] = []
        self.out_value: list[int] = []
        self.out_tx: list[int] = []
        self.out_n: list[int] = []
        self.out_spent: list[int] = []       # spending tx id, -1 while unspent
        # transactions
        self.tx_inputs: list[tuple[int, ...]] = []
        self.tx_outputs: list[tuple[int, ...]] = []
        self.tx_block: list[int] = []
        self.tx_kind: list[str] = []
        # blocks: list of tx ids, coinbase first (added at close)
        self.blocks: list[list[int]] = []
        self.block_time: list[int] = []
        self.block_pool: list[int] = []     # pool wallet index receiving the coinbase
        self.start_height = start_height
        self.time = start_time
        self._open: list[int] = []
        self._fees_open = 0

    # -- addresses -----------------------------------------------------------------------------------------
    def new_address(self, wallet: BtcWallet, script_type: str | None = None) -> int:
        a = len(self.addr_owner)
        self.addr_owner.append(wallet.entity)
        self.addr_type.append(script_type or wallet.script_type)
        self.addr_wallet.append(id(wallet))
        self.addr_role.append(wallet.role)
        wallet.addrs.append(a)
        return a

    def receive_address(self, wallet: BtcWallet) -> int:
        """An address to receive on: a reused one with probability ``wallet.reuse``, else a fresh one."""
        if wallet.addrs and wallet.reuse > 0 and self.rng.random() < wallet.reuse:
            return wallet.addrs[int(self.rng.integers(len(wallet.addrs)))]
        return self.new_address(wallet)

    @property
    def height(self) -> int:
        """Height of the block being filled."""
        return self.start_height + len(self.blocks)

    @property
    def n_txs(self) -> int:
        return len(self.tx_inputs)

    # -- transactions --------------------------------------------------------------------------------------
    def _add_tx(self, inputs: list[int], outs: list[tuple[int, int]], kind: str, *, coinbase: bool = False) -> int:
        t = len(self.tx_inputs)
        ov = self.out_value
        if not coinbase:
            for o in inputs:
                if self.out_spent[o] != -1:
                    raise AssertionError(f"output {o} spent twice")
                self.out_spent[o] = t
        ids = []
        for n, (a, v) in enumerate(outs):
            if v <= 0:
                raise AssertionError(f"non-positive output value {v} in {kind}")
            ids.append(len(ov))
            self.out_addr.append(a)
            ov.append(int(v))
            self.out_tx.append(t)
            self.out_n.append(n)
            self.out_spent.append(-1)
        self.tx_inputs.append(tuple(inputs))
        self.tx_outputs.append(tuple(ids))
        self.tx_block.append(len(self.blocks))
        self.tx_kind.append(kind)
        if not coinbase:
            self._open.append(t)
        return t

    def credit(self, wallet: BtcWallet, tx: int) -> None:
        """Give ``wallet`` every output of ``tx`` paid to one of its addresses."""
        me = id(wallet)
        aw, oa = self.addr_wallet, self.out_addr
        for o in self.tx_outputs[tx]:
            if aw[oa[o]] == me:
                wallet.utxos.append(o)

    def credit_all(self, wallets: list[BtcWallet], tx: int) -> None:
        """:meth:`credit` for many wallets in one pass over the outputs (batches, CoinJoins)."""
        by_id = {id(w): w for w in wallets}
        aw, oa = self.addr_wallet, self.out_addr
        for o in self.tx_outputs[tx]:
            w = by_id.get(aw[oa[o]])
            if w is not None:
                w.utxos.append(o)

    def vsize(self, in_types: list[str], out_types: list[str]) -> int:
        return VBYTES_TX + sum(VBYTES_IN[t] for t in in_types) + sum(VBYTES_OUT[t] for t in out_types)

    def select(self, wallet: BtcWallet, amount: int, *, largest_first: bool = False) -> list[int]:
        """Pick unspent outputs of ``wallet`` covering ``amount`` (random order, or largest first)."""
        utxos = wallet.utxos
        if not utxos:
            return []
        ov = self.out_value
        if largest_first:
            order = sorted(range(len(utxos)), key=lambda i: -ov[utxos[i]])
        else:
            order = list(self.rng.permutation(len(utxos)))
        picked: list[int] = []
        total = 0
        for i in order:
            picked.append(utxos[int(i)])
            total += ov[utxos[int(i)]]
            if total >= amount:
                break
        return picked if total >= amount else []

    def spend(self, wallet: BtcWallet, inputs: list[int], payments: list[tuple[int, int]], *, feerate: float,
              kind: str, change_to: int | None = None, change: bool = True, shuffle: bool = True) -> int:
        """Spend ``inputs`` (outputs of ``wallet``) to ``payments`` [(address, value)]; the rest minus the fee
        goes to a change address of the wallet (or ``change_to``). Returns the tx id."""
        ov = self.out_value
        at = self.addr_type
        total = sum(ov[o] for o in inputs)
        pay = sum(v for _, v in payments)
        in_types = [at[self.out_addr[o]] for o in inputs]
        out_types = [at[a] for a, _ in payments]
        fee = int(self.vsize(in_types, [*out_types, wallet.script_type]) * feerate)
        outs = list(payments)
        rest = total - pay - fee
        if rest < 0:
            raise AssertionError(f"{kind}: inputs {total} < payments {pay} + fee {fee}")
        if change and rest > DUST:
            ca = change_to if change_to is not None else self.receive_address(wallet)
            outs.append((ca, rest))
        if shuffle and len(outs) > 1:
            perm = self.rng.permutation(len(outs))
            outs = [outs[int(i)] for i in perm]
        used = set(inputs)
        wallet.utxos = [o for o in wallet.utxos if o not in used]
        t = self._add_tx(inputs, outs, kind)
        self._fees_open += total - sum(v for _, v in outs)
        self.credit(wallet, t)
        return t

    def pay(self, wallet: BtcWallet, payments: list[tuple[int, int]], *, feerate: float, kind: str,
            largest_first: bool = False) -> int | None:
        """Select coins and pay; ``None`` when the wallet cannot afford it."""
        pay = sum(v for _, v in payments)
        out_types = [self.addr_type[a] for a, _ in payments] + [wallet.script_type]
        n_guess = 1
        for _ in range(4):
            need = pay + int(self.vsize([wallet.script_type] * n_guess, out_types) * feerate) + 1
            inputs = self.select(wallet, need, largest_first=largest_first)
            if not inputs:
                return None
            in_types = [self.addr_type[self.out_addr[o]] for o in inputs]
            fee = int(self.vsize(in_types, out_types) * feerate)
            if sum(self.out_value[o] for o in inputs) >= pay + fee:
                return self.spend(wallet, inputs, payments, feerate=feerate, kind=kind)
            n_guess = len(inputs) + 2
        return None

    def sweep(self, wallet: BtcWallet, inputs: list[int], to: int, *, feerate: float, kind: str) -> int:
        """Move ``inputs`` whole to one address (consolidation, forwarding): one output, value minus fee."""
        ov = self.out_value
        total = sum(ov[o] for o in inputs)
        in_types = [self.addr_type[self.out_addr[o]] for o in inputs]
        fee = int(self.vsize(in_types, [self.addr_type[to]]) * feerate)
        if total - fee <= DUST:
            raise AssertionError(f"{kind}: sweeping {len(inputs)} inputs worth {total} leaves nothing after fee {fee}")
        return self.spend(wallet, inputs, [(to, total - fee)], feerate=0.0, kind=kind, change=False)

    def raw_tx(self, wallet: BtcWallet | None, inputs: list[int], outs: list[tuple[int, int]], *, kind: str,
               owners: list[BtcWallet] | None = None) -> int:
        """A transaction with explicit inputs and outputs (CoinJoins: inputs of several wallets).

        The fee is whatever the outputs leave; every wallet in ``owners`` (and ``wallet``) drops the inputs
        it owned and is credited the outputs paid to it.
        """
        ws = list({id(w): w for w in ([wallet] if wallet else []) + (owners or [])}.values())
        used = set(inputs)
        for w in ws:
            w.utxos = [o for o in w.utxos if o not in used]
        total = sum(self.out_value[o] for o in inputs)
        t = self._add_tx(inputs, outs, kind)
        self._fees_open += total - sum(v for _, v in outs)
        self.credit_all(ws, t)
        return t

    def coinbase(self, outs: list[tuple[int, int]], kind: str = "coinbase") -> int:
        """A coinbase transaction for the block being filled (used for the opening balances)."""
        t = self._add_tx([], outs, kind, coinbase=True)
        self._open.insert(0, t)
        return t

    def close_block(self, pool: BtcWallet, *, interval: int) -> int:
        """Close the block being filled: add its coinbase (subsidy + fees to ``pool``); return its index.

        When the transactions waiting do not fit one block (:data:`MAX_BLOCK_VBYTES`), they fill as many
        consecutive blocks as they need, in creation order (so every spend still follows what it spends),
        each with its own coinbase claiming its own fees; ``interval`` is shared out between them.
        """
        if self._open and self.tx_kind[self._open[0]] in ("coinbase", "opening"):
            groups = [self._open]
        else:
            groups = self._fill(self._open)
        step = max(interval // len(groups), 1)
        for k, group in enumerate(groups):
            if not (group and self.tx_kind[group[0]] in ("coinbase", "opening")):
                fees = self._fees_open if len(groups) == 1 else sum(self.tx_in_value(t) - self.tx_out_value(t)
                                                                     for t in group)
                a = self.receive_address(pool)
                t = self._add_tx([], [(a, SUBSIDY + fees)], "coinbase", coinbase=True)
                self.credit(pool, t)
                group.insert(0, t)
            b = len(self.blocks)
            if k:
                for t in group:
                    self.tx_block[t] = b
            self.blocks.append(group)
            self.block_time.append(self.time)
            self.block_pool.append(pool.entity)
            self.time += step if k < len(groups) - 1 else interval - step * (len(groups) - 1)
        self._open = []
        self._fees_open = 0
        return len(self.blocks) - 1

    def _fill(self, txs: list[int]) -> list[list[int]]:
        """``txs`` cut, in order, into runs that each fit a block beside its coinbase."""
        sizes = [self.tx_vsize(t) for t in txs]
        if sum(sizes) <= MAX_BLOCK_VBYTES:
            return [list(txs)]
        groups: list[list[int]] = [[]]
        used = 0
        for t, v in zip(txs, sizes, strict=True):
            if used + v > MAX_BLOCK_VBYTES and groups[-1]:
                groups.append([])
                used = 0
            groups[-1].append(t)
            used += v
        return groups

    # -- reading -------------------------------------------------------------------------------------------
    def tx_in_value(self, t: int) -> int:
        return sum(self.out_value[o] for o in self.tx_inputs[t])

    def tx_out_value(self, t: int) -> int:
        return sum(self.out_value[o] for o in self.tx_outputs[t])

    def tx_vsize(self, t: int) -> int:
        """Virtual size of transaction ``t`` from its scripts (what the block writer serialises, about)."""
        at, oa = self.addr_type, self.out_addr
        return (VBYTES_TX + sum(VBYTES_IN[at[oa[o]]] for o in self.tx_inputs[t])
                + sum(VBYTES_OUT[at[oa[o]]] for o in self.tx_outputs[t]))

    def arrays(self) -> dict[str, np.ndarray]:
        """Columnar view for statistics and tests."""
        return {
            "out_addr": np.asarray(self.out_addr, dtype=np.int64),
            "out_value": np.asarray(self.out_value, dtype=np.int64),
            "out_tx": np.asarray(self.out_tx, dtype=np.int64),
            "n_in": np.asarray([len(x) for x in self.tx_inputs], dtype=np.int64),
            "n_out": np.asarray([len(x) for x in self.tx_outputs], dtype=np.int64),
        }
