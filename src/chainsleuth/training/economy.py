"""The background economy: the services and people whose ordinary transactions surround every case.

Bitcoin side: exchanges (one deposit address per customer, reused by that customer; deposits swept into
a hot wallet in consolidation transactions; batched withdrawals from the hot wallet; refills from and
transfers to cold storage), payment processors settling merchants' invoices in batches, mining pools
paying miners, ordinary wallets (payments with change, address reuse, script types of 2024), CoinJoin
rounds (Wasabi-style equal denominations with a coordinator fee, Whirlpool-style 5-in/5-out, JoinMarket-
style maker/taker), and a custodial mixer paying out of its own reserve.

EVM side: the same exchanges with per-customer deposit accounts swept to a hot wallet, a USDT-like token,
a DEX pair swapping ether and tokens, fixed-denomination mixing pools (deposit 1, 10, 100 ether;
withdrawals paid by the pool as internal calls), and a bridge between the chains.

Per-transaction parameters (payment values, fee rates, batch sizes) are drawn as numpy arrays once per
tick; the Python loop only wires the drawn values into the ledgers. The figures they imitate are listed
in docs/training.md with their sources; tests/training/test_train_stats.py keeps them in range.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chainsleuth.training.ledger_btc import BtcWallet
from chainsleuth.training.ledger_evm import GAS_TOKEN
from chainsleuth.training.world import WorldBuilder

__all__ = [
    "BACKGROUND_MIX",
    "SCRIPT_MIX",
    "Economy",
    "Exchange",
]

COIN = 100_000_000
ETHER = 10**18
USDT = 10**6
#: share of ordinary wallets by the script type they use (outputs created in 2024; see docs/training.md)
SCRIPT_MIX = {"p2wpkh": 0.46, "p2tr": 0.18, "p2sh": 0.17, "p2pkh": 0.19}
#: probability that an ordinary wallet is a "reuser" (pays change back / receives on used addresses)
REUSER_SHARE = 0.35
REUSER_P = 0.8
#: median and log-sd of fee rates (sat/vB)
FEERATE_MEDIAN = 9.0
FEERATE_SIGMA = 0.75
#: kinds of background Bitcoin transactions and their weights per tick
BACKGROUND_MIX = {
    "payment": 0.50, "merchant": 0.09, "deposit": 0.14, "withdrawal": 0.05, "sweep": 0.05,
    "consolidation": 0.04, "settlement": 0.02, "payout": 0.015, "whirlpool": 0.012, "joinmarket": 0.006,
    "mixer": 0.02, "cold": 0.005, "split": 0.04,
}
#: fixed denominations of the EVM mixing pools (ether)
POOL_DENOMS = (1, 10, 100)
#: standard denominations of WabiSabi (Wasabi 2.0) rounds (sat): powers of 2, powers of 3 and twice the powers
#: of 3, and 1-2-5 x powers of 10, from 5,000 sat up to 2^37 sat (WalletWasabi
#: ``WabiSabi/Models/Decomposition/BaseDenomGenerator.cs`` and the client's ``DenominationBuilder``, whose
#: smallest allowed output is 5,000 sat)
WASABI2_DENOMS = tuple(sorted({d for d in (
    [2**k for k in range(38)] + [m * 3**k for k in range(25) for m in (1, 2)]
    + [m * 10**k for k in range(12) for m in (1, 2, 5)]) if 5_000 <= d <= 2**37}))
#: Wasabi 1.x mixing levels: level i mixes ``base x 2^i`` and a participant takes at most one output per level
#: (WalletWasabi ``CoinJoin/Coordinator/MixingLevels``: one Bob, one active output, per level); a level forms
#: only with at least two participants. How many levels a round offers is this project's choice.
WASABI1_LEVELS = 4
#: participants a Wasabi 1.x-style round needs at its base level before the coordinator runs it (real
#: coordinators required an anonymity set of tens; the worlds are small, so fewer here)
WASABI1_MIN_PARTICIPANTS = 6
#: smallest coordinator-fee output of a Wasabi-style round (sat)
DUST_SAFE = 1_000
#: gas kept back when an exchange pays out ether (units of gas)
GAS_GUARD = 60_000
#: outputs of one opening-balance transaction at most (2,000 outputs: under 90,000 vB of any script type, a
#: standard transaction)
OPENING_OUTPUTS = 2_000
#: ether the token treasury holds for gas at least (wei); more when the opening mints cost more
MINTER_FLOAT = 10 * ETHER

EXCHANGE_NAMES = ("Northwind Exchange", "Baht Digital", "Hanbit Coin", "Kestrel Markets", "Lotus Trade",
                  "Orca Exchange", "Sakura Bit", "Andes Exchange", "Meridian Coin", "Tigris Trade")
PROCESSOR_NAMES = ("PayRiver", "CoinGate Lite", "BitSettle")
POOL_NAMES = ("Granite Pool", "Sierra Pool", "Blue Ridge Mining", "Yonder Pool")
MIXER_NAMES = ("ShadowMix", "FogBank")


@dataclass
class Exchange:
    entity: int
    name: str
    hot: BtcWallet
    cold: BtcWallet
    deposits: BtcWallet                           # holds every deposit address and its unswept coins
    dep_addr: dict[int, int] = field(default_factory=dict)   # customer entity -> deposit address
    eth_hot: int = -1
    eth_dep: dict[int, int] = field(default_factory=dict)    # customer entity -> deposit account
    eth_pending: list[int] = field(default_factory=list)     # deposit accounts holding unswept funds


class Economy:
    """Creates the background entities of a world and generates their transactions tick by tick."""

    def __init__(self, w: WorldBuilder, *, size: int, n_ticks: int, tag_share: float, evm_share: float = 0.25):
        self.w = w
        rng = w.rng
        self.rng = rng
        self.size = size
        self.n_ticks = n_ticks
        self.per_tick = max(size // n_ticks, 4)
        self.evm_per_tick = max(int(self.per_tick * evm_share), 1)
        btc, evm = w.btc, w.evm
        n_wallets = max(40, size // 6)
        n_ex = 5 if size < 20_000 else 8
        # -- services
        self.exchanges: list[Exchange] = []
        for k in range(n_ex):
            e = w.entity("exchange", EXCHANGE_NAMES[k], "exchange", role="service",
                         tagged=bool(rng.random() < tag_share))
            hot = BtcWallet(e, "p2wpkh", reuse=1.0, role="hot")
            cold = BtcWallet(e, "p2sh", reuse=1.0, role="cold")
            deps = BtcWallet(e, "p2sh" if k % 2 else "p2wpkh", role="deposit")
            for _ in range(2):
                btc.new_address(hot)
            btc.new_address(cold)
            ex = Exchange(e, EXCHANGE_NAMES[k], hot, cold, deps)
            ex.eth_hot = evm.new_account(e, label="hot wallet")
            self.exchanges.append(ex)
        self.processors = []
        for k in range(2):
            e = w.entity("payment_processor", PROCESSOR_NAMES[k], "payment_processor", role="service",
                         tagged=bool(rng.random() < tag_share))
            self.processors.append(BtcWallet(e, "p2wpkh"))
        self.merchants = [BtcWallet(w.entity("merchant", f"Merchant {k + 1}", "shop"), "p2wpkh", reuse=0.6)
                          for k in range(8)]
        self.pools = []
        for k in range(len(POOL_NAMES)):
            e = w.entity("mining_pool", POOL_NAMES[k], "mining_service", role="service",
                         tagged=bool(rng.random() < max(tag_share, 0.5)))
            p = BtcWallet(e, "p2wpkh", reuse=1.0)
            btc.new_address(p)
            self.pools.append(p)
        self.pool_share = rng.dirichlet(np.full(len(self.pools), 2.0))
        self.miners = [BtcWallet(w.entity("miner", f"Miner {k + 1}", "miner"), "p2wpkh", reuse=0.9)
                       for k in range(12)]
        e = w.entity("coinjoin", "Wasabi-style coordinator", "coinjoin", role="service", tagged=True)
        self.wasabi = BtcWallet(e, "p2wpkh", reuse=1.0)
        btc.new_address(self.wasabi)
        e = w.entity("coinjoin", "Whirlpool-style coordinator", "coinjoin", role="service", tagged=True)
        self.whirlpool = BtcWallet(e, "p2wpkh", reuse=1.0)
        btc.new_address(self.whirlpool)
        self.mixers = []
        for k in range(2):
            e = w.entity("mixer", MIXER_NAMES[k], "mixing_service", role="service",
                         tagged=bool(rng.random() < tag_share))
            self.mixers.append((BtcWallet(e, "p2wpkh"), BtcWallet(e, "p2wpkh")))  # (deposits, reserve)
        self.mixer_queue: list[tuple[int, int, BtcWallet, int]] = []   # (due tick, mixer idx, wallet, value)
        #: Whirlpool outputs of background wallets waiting for a round: post-mix (free remix) and premix
        self.postmix: dict[int, list[tuple[BtcWallet, int]]] = {}
        self.premix: dict[int, list[tuple[BtcWallet, int]]] = {}
        # -- people
        types = list(SCRIPT_MIX)
        st = rng.choice(len(types), size=n_wallets, p=np.array(list(SCRIPT_MIX.values())))
        reuser = rng.random(n_wallets) < REUSER_SHARE
        self.wallets = [BtcWallet(w.entity("wallet", f"Wallet {k + 1}", "user"), types[int(st[k])],
                                  reuse=REUSER_P if reuser[k] else 0.03) for k in range(n_wallets)]
        self.home = rng.integers(0, n_ex, size=n_wallets)   # each person's usual exchange
        #: JoinMarket makers ("yield generators"): well-funded wallets offering liquidity for a fee
        self.makers = [BtcWallet(w.entity("wallet", f"Maker {k + 1}", "user"), "p2wpkh") for k in range(10)]
        # -- EVM
        self.eth_users = [evm.new_account(self.wallets[k].entity) for k in range(max(30, n_wallets // 3))]
        tok_e = w.entity("token", "Tether USD (training)", "defi_token", role="service", tagged=True)
        self.usdt = evm.new_account(tok_e, contract=True, label="USDT")
        self.usdt_minter = evm.new_account(tok_e, label="USDT treasury")
        dex_e = w.entity("dex", "SwapSwap ETH/USDT pair", "defi_dex", role="service", tagged=True)
        self.dex = evm.new_account(dex_e, contract=True, label="DEX pair")
        mp_e = w.entity("mixing_pool", "Tornado-style pools", "mixing_service", role="service", tagged=True)
        self.pool_entity = mp_e
        self.pool_contracts = {d: evm.new_account(mp_e, contract=True, label=f"{d} ETH pool") for d in POOL_DENOMS}
        self.relayer = evm.new_account(w.entity("relayer", "Pool relayer", "mixing_service"), label="relayer")
        self.pool_notes: dict[int, int] = {d: 0 for d in POOL_DENOMS}  # deposits not yet withdrawn
        br_e = w.entity("bridge", "CrossLink bridge", "defi_bridge", role="service", tagged=True)
        self.bridge_entity = br_e
        self.bridge = evm.new_account(br_e, contract=True, label="bridge")
        self.bridge_btc = BtcWallet(br_e, "p2wpkh", reuse=1.0)
        btc.new_address(self.bridge_btc)
        self.validators = [evm.new_account(p.entity) for p in self.pools]
        self._opening()

    # -- opening balances ----------------------------------------------------------------------------------
    def _opening(self) -> None:
        w, rng, btc, evm = self.w, self.rng, self.w.btc, self.w.evm
        outs: list[tuple[int, int]] = []
        holders: list[BtcWallet] = []
        for ex in self.exchanges:
            for v in rng.lognormal(np.log(40 * COIN), 0.5, size=12):
                outs.append((btc.receive_address(ex.hot), int(v)))
            holders.append(ex.hot)
            for v in rng.lognormal(np.log(900 * COIN), 0.3, size=3):
                outs.append((btc.receive_address(ex.cold), int(v)))
            holders.append(ex.cold)
        for m, _ in enumerate(self.mixers):
            res = self.mixers[m][1]
            for v in rng.lognormal(np.log(3 * COIN), 0.6, size=30):
                outs.append((btc.new_address(res), int(v)))
            holders.append(res)
        vals = rng.lognormal(np.log(0.04 * COIN), 1.3, size=(len(self.wallets), 2))
        for k, wal in enumerate(self.wallets):
            for v in vals[k]:
                outs.append((btc.receive_address(wal), max(int(v), 20_000)))
            holders.append(wal)
        for mk in self.makers:
            for v in rng.lognormal(np.log(6 * COIN), 0.5, size=3):
                outs.append((btc.new_address(mk), int(v)))
            holders.append(mk)
        for p in self.processors:
            outs.append((btc.new_address(p), 2 * COIN))
            holders.append(p)
        for wal in (self.bridge_btc,):
            for v in rng.lognormal(np.log(25 * COIN), 0.3, size=10):
                outs.append((btc.receive_address(wal), int(v)))
            holders.append(wal)
        # block 1's coinbase creates the world's money; block 2 hands it out (a premine, as on a test chain)
        issuer = BtcWallet(w.entity("issuer", "Opening balances", "unknown"), "p2wpkh")
        # in transactions of at most OPENING_OUTPUTS outputs (each a standard size), chained through the
        # issuer's change; the block writer spreads them over as many blocks as they fill
        total = sum(v for _, v in outs)
        chunks = [outs[i:i + OPENING_OUTPUTS] for i in range(0, len(outs), OPENING_OUTPUTS)]
        fan_fees = [int(btc.vsize(["p2wpkh"], ["p2wpkh"] * (len(c) + (k < len(chunks) - 1))) * 2)
                    for k, c in enumerate(chunks)]
        cb = btc.coinbase([(btc.new_address(issuer), total + sum(fan_fees))], kind="opening")
        btc.credit(issuer, cb)
        self.close_tick()
        rest = total + sum(fan_fees)
        for c, fan_fee in zip(chunks, fan_fees, strict=True):
            rest -= sum(v for _, v in c) + fan_fee
            change = [(btc.new_address(issuer), rest)] if rest else []
            t = btc.raw_tx(issuer, list(issuer.utxos), c + change, kind="opening-split")
            btc.credit_all(holders, t)
        # EVM genesis allocations and token float
        for ex in self.exchanges:
            evm.allocate(ex.eth_hot, int(rng.lognormal(np.log(4000), 0.3)) * ETHER)
        for u in self.eth_users:
            evm.allocate(u, int(rng.lognormal(np.log(2.0), 1.0) * 1e6) * 10**12)
        # the treasury pays the gas of every opening mint (one per exchange, the DEX and each user) in the
        # next block, whose base fee is already set: fund it with that bound, never less than its usual float
        n_mints = len(self.exchanges) + 1 + len(self.eth_users)
        evm.allocate(self.usdt_minter, max(MINTER_FLOAT, n_mints * evm.max_fee(GAS_TOKEN)))
        evm.allocate(self.dex, 20_000 * ETHER)
        evm.allocate(self.relayer, 50 * ETHER)
        evm.allocate(self.bridge, 5_000 * ETHER)
        for v in self.validators:
            evm.allocate(v, 1 * ETHER)
        for ex in self.exchanges:
            evm.mint(self.usdt, ex.eth_hot, int(rng.lognormal(np.log(20e6), 0.4)) * USDT, minter=self.usdt_minter)
        evm.mint(self.usdt, self.dex, 60_000_000 * USDT, minter=self.usdt_minter)
        for u in self.eth_users:
            evm.mint(self.usdt, u, int(rng.lognormal(np.log(3000), 1.2)) * USDT + USDT, minter=self.usdt_minter)
        self.close_tick()

    # -- helpers -------------------------------------------------------------------------------------------
    def feerates(self, n: int) -> np.ndarray:
        return np.clip(self.rng.lognormal(np.log(FEERATE_MEDIAN), FEERATE_SIGMA, size=n), 1.0, 400.0)

    def feerate(self) -> float:
        return float(self.feerates(1)[0])

    def pool_for_block(self) -> BtcWallet:
        return self.pools[int(self.rng.choice(len(self.pools), p=self.pool_share))]

    def deposit_address(self, ex: Exchange, customer: int) -> int:
        """The customer's deposit address at ``ex`` (created on first use, then reused)."""
        a = ex.dep_addr.get(customer)
        if a is None:
            a = self.w.btc.new_address(ex.deposits)
            ex.dep_addr[customer] = a
        return a

    def eth_deposit_account(self, ex: Exchange, customer: int) -> int:
        a = ex.eth_dep.get(customer)
        if a is None:
            a = self.w.evm.new_account(ex.entity, label="deposit")
            ex.eth_dep[customer] = a
        return a

    def withdraw(self, ex: Exchange, payments: list[tuple[int, int]], *, kind: str = "withdrawal") -> int | None:
        """A batched withdrawal from ``ex``'s hot wallet (refilled from cold storage when short)."""
        btc = self.w.btc
        need = sum(v for _, v in payments) + 50_000 * (len(payments) + 3)
        if ex.hot.balance(btc) < need * 2:
            self._refill(ex, need * 3)
        return btc.pay(ex.hot, payments, feerate=self.feerate(), kind=kind, largest_first=True)

    def _refill(self, ex: Exchange, amount: int) -> None:
        btc = self.w.btc
        if ex.cold.balance(btc) > amount + COIN:
            btc.pay(ex.cold, [(ex.hot.addrs[0], amount)], feerate=self.feerate(), kind="cold-to-hot",
                    largest_first=True)

    # -- one tick ------------------------------------------------------------------------------------------
    def step(self) -> None:
        """Generate this tick's background transactions on both chains."""
        self._btc_tick()
        self._evm_tick()

    def close_tick(self) -> None:
        w = self.w
        # block intervals are exponential with a 10-minute mean (Poisson block arrivals)
        w.btc.close_block(self.pool_for_block(), interval=int(np.clip(self.rng.exponential(600.0), 15, 5400)))
        w.evm.close_block(self.validators[int(self.rng.integers(len(self.validators)))], interval=12)
        w.evm.time = max(w.evm.time, w.btc.time + 7)   # after the blocks a busy tick filled, if later
        w.tick += 1

    def _btc_tick(self) -> None:
        rng, btc = self.rng, self.w.btc
        kinds = list(BACKGROUND_MIX)
        n = int(rng.poisson(self.per_tick))
        ks = rng.choice(len(kinds), size=n, p=np.array(list(BACKGROUND_MIX.values())) / sum(BACKGROUND_MIX.values()))
        wal_i = rng.integers(0, len(self.wallets), size=(n, 2))
        vals = rng.lognormal(np.log(0.004 * COIN), 1.4, size=n).astype(np.int64) + 30_000
        fr = self.feerates(n)
        due = [q for q in self.mixer_queue if q[0] <= self.w.tick]
        self.mixer_queue = [q for q in self.mixer_queue if q[0] > self.w.tick]
        for _, m, dest, v in due:
            btc.pay(self.mixers[m][1], [(btc.receive_address(dest), v)], feerate=self.feerate(), kind="mixer-payout")
        for i in range(n):
            k = kinds[int(ks[i])]
            a = self.wallets[int(wal_i[i, 0])]
            b = self.wallets[int(wal_i[i, 1])]
            v = int(vals[i])
            f = float(fr[i])
            if k == "payment":
                self._pay_or_topup(a, [(btc.receive_address(b), v)], f, "payment")
            elif k == "merchant":
                p = self.processors[int(rng.integers(len(self.processors)))]
                self._pay_or_topup(a, [(btc.new_address(p), v)], f, "merchant-payment")
            elif k == "deposit":
                ex = self.exchanges[int(self.home[int(wal_i[i, 0])])]
                da = self.deposit_address(ex, a.entity)
                t = self._pay_or_topup(a, [(da, v * 3)], f, "exchange-deposit")
                if t is not None:
                    btc.credit(ex.deposits, t)
            elif k == "withdrawal":
                ex = self.exchanges[int(rng.integers(len(self.exchanges)))]
                m = int(rng.integers(3, 25))
                who = rng.integers(0, len(self.wallets), size=m)
                vv = rng.lognormal(np.log(0.01 * COIN), 1.2, size=m).astype(np.int64) + 20_000
                t = self.withdraw(ex, [(btc.receive_address(self.wallets[int(j)]), int(x)) for j, x in zip(who, vv, strict=False)])
                if t is not None:
                    btc.credit_all([self.wallets[int(j)] for j in who], t)
            elif k == "sweep":
                ex = self.exchanges[int(rng.integers(len(self.exchanges)))]
                self.sweep_exchange(ex)
            elif k == "consolidation":
                if len(a.utxos) >= 3:
                    btc.sweep(a, list(a.utxos[:8]), btc.receive_address(a), feerate=max(1.0, f / 3),
                              kind="consolidation")
            elif k == "split":
                if a.utxos:
                    m = int(rng.integers(2, 5))
                    bal = a.balance(btc)
                    if bal > 200_000:
                        part = bal // (m + 2)
                        self._pay_or_topup(a, [(btc.new_address(a), part) for _ in range(m)], f, "self-split")
            elif k == "settlement":
                p = self.processors[int(rng.integers(len(self.processors)))]
                if len(p.utxos) >= 2:
                    total = p.balance(btc)
                    ms = rng.choice(len(self.merchants), size=min(5, len(self.merchants)), replace=False)
                    share = total // (len(ms) + 2)
                    btc.pay(p, [(btc.receive_address(self.merchants[int(j)]), share) for j in ms], feerate=f,
                            kind="settlement", largest_first=True)
                    t = btc.n_txs - 1
                    btc.credit_all([self.merchants[int(j)] for j in ms], t)
            elif k == "payout":
                p = self.pools[int(rng.integers(len(self.pools)))]
                mature = [o for o in p.utxos if btc.tx_block[btc.out_tx[o]] <= len(btc.blocks) - 100
                          or btc.tx_block[btc.out_tx[o]] == 0]
                if mature:
                    total = sum(btc.out_value[o] for o in mature)
                    ms = rng.choice(len(self.miners), size=6, replace=False)
                    fee = btc.vsize([p.script_type] * len(mature), [p.script_type] * 7) * f
                    sh = rng.dirichlet(np.ones(6)) * (total - 2 * fee - 10_000)
                    t = btc.spend(p, mature, [(btc.receive_address(self.miners[int(j)]), int(s))
                                              for j, s in zip(ms, sh, strict=False) if s > 1000], feerate=f, kind="pool-payout")
                    btc.credit_all([self.miners[int(j)] for j in ms], t)
            elif k == "whirlpool":
                self.whirlpool_round(f)
            elif k == "joinmarket":
                self.joinmarket_round(f)
            elif k == "mixer":
                mi = int(rng.integers(len(self.mixers)))
                deps = self.mixers[mi][0]
                da = btc.new_address(deps)
                t = self._pay_or_topup(a, [(da, v * 5)], f, "mixer-deposit")
                if t is not None:
                    btc.credit(deps, t)
                    self.mixer_queue.append((self.w.tick + int(rng.integers(1, 12)), mi, a,
                                             int(v * 5 * (1 - 0.02))))
                if len(deps.utxos) > 6:
                    btc.sweep(deps, list(deps.utxos), btc.new_address(self.mixers[mi][1]), feerate=f,
                              kind="mixer-sweep")
                    btc.credit(self.mixers[mi][1], btc.n_txs - 1)
            elif k == "cold":
                ex = self.exchanges[int(rng.integers(len(self.exchanges)))]
                bal = ex.hot.balance(btc)
                if bal > 400 * COIN:
                    btc.pay(ex.hot, [(ex.cold.addrs[0], bal // 3)], feerate=f, kind="hot-to-cold", largest_first=True)
                    btc.credit(ex.cold, btc.n_txs - 1)
        if self.w.tick % 25 == 3:
            self.wasabi_round(self.feerate())
        if self.w.tick % 25 == 16:
            self.wasabi2_round(self.feerate())

    def sweep_exchange(self, ex: Exchange) -> int | None:
        btc = self.w.btc
        deps = ex.deposits.utxos
        if not deps:
            return None
        take = list(deps[:40])
        f = min(self.feerate(), 4.0)     # exchanges consolidate at low fee rates
        if sum(btc.out_value[o] for o in take) < f * 100 * len(take) + 10_000:
            return None
        t = btc.sweep(ex.deposits, take, ex.hot.addrs[int(self.rng.integers(len(ex.hot.addrs)))],
                      feerate=f, kind="exchange-sweep")
        btc.credit(ex.hot, t)
        return t

    def _pay_or_topup(self, a: BtcWallet, payments: list[tuple[int, int]], f: float, kind: str) -> int | None:
        """Pay from wallet ``a``; a wallet that cannot afford it buys coins at its exchange first."""
        btc = self.w.btc
        t = btc.pay(a, payments, feerate=f, kind=kind)
        if t is None:
            ex = self.exchanges[int(self.rng.integers(len(self.exchanges)))]
            need = sum(v for _, v in payments) * 2 + 200_000
            wt = self.withdraw(ex, [(btc.receive_address(a), need)])
            if wt is not None:
                btc.credit(a, wt)
            t = btc.pay(a, payments, feerate=f, kind=kind)
        return t

    # -- CoinJoin rounds -----------------------------------------------------------------------------------
    def wasabi_round(self, f: float, *, extra: list[tuple[BtcWallet, list[int]]] | None = None,
                     denom: int = 10_000_000, n_background: int | None = None
                     ) -> tuple[int, dict[int, list[int]]] | None:
        """A Wasabi 1.x-style round: every participant gets one mixed output per mixing level it can afford
        (``denom``, ``2 x denom``, ``4 x denom``, ...; :data:`WASABI1_LEVELS`, ascending, a level only when at
        least two participants reach it), change back, and the coordinator a fee of 0.3% per mixed output.
        ``extra`` adds chosen participants (wallet, its inputs). Returns the tx and the outputs per extra
        participant (index in ``extra``), or None when fewer than :data:`WASABI1_MIN_PARTICIPANTS` wallets
        could join (the coordinator does not run the round)."""
        rng, btc = self.rng, self.w.btc
        parts: list[tuple[BtcWallet, list[int]]] = list(extra or [])
        nb = n_background if n_background is not None else int(rng.integers(12, 30))
        for j in rng.permutation(len(self.wallets)):      # the first ``nb`` wallets able to join, at least enough
            if len(parts) >= max(nb + len(extra or []), WASABI1_MIN_PARTICIPANTS):
                break
            wal = self.wallets[int(j)]
            sel = btc.select(wal, denom + 200_000)
            if sel:
                parts.append((wal, sel))
        if len(parts) < WASABI1_MIN_PARTICIPANTS:
            return None
        inputs: list[int] = []
        outs: list[tuple[int, int]] = []
        owner_of_out: list[int] = []
        fee_total = 0
        vout = int(f * 31)

        def need(lvl: int) -> int:          # the level's output, its coordinator fee and its vbytes
            d = denom << lvl
            return d + d * 3 // 1000 + vout

        reach: list[int] = []               # levels each participant affords, ascending
        for _wal, ins in parts:
            avail = sum(btc.out_value[o] for o in ins) - int(f * 68) * len(ins) - vout
            lv = 0
            while lv < WASABI1_LEVELS and avail >= need(lv):
                avail -= need(lv)
                lv += 1
            reach.append(lv)
        levels = 0                          # levels with at least two participants (reach is a prefix)
        while levels < WASABI1_LEVELS and sum(r > levels for r in reach) >= 2:
            levels += 1
        for pi, (wal, ins) in enumerate(parts):
            total = sum(btc.out_value[o] for o in ins)
            inputs += ins
            cost = int(f * 68) * len(ins)
            k = min(reach[pi], levels)
            if k == 0:
                continue
            for lv in range(k):
                outs.append((btc.new_address(wal), denom << lv))
                owner_of_out.append(pi)
            cfee = sum((denom << lv) * 3 // 1000 for lv in range(k))
            fee_total += cfee
            rest = total - cost - sum(need(lv) for lv in range(k)) - vout
            if rest > 5_000:
                outs.append((btc.new_address(wal), rest))
                owner_of_out.append(pi)
        outs.append((self.wasabi.addrs[0], max(fee_total, DUST_SAFE)))
        owner_of_out.append(-1)
        perm = rng.permutation(len(outs))
        outs = [outs[int(i)] for i in perm]
        owner_of_out = [owner_of_out[int(i)] for i in perm]
        t = btc.raw_tx(None, inputs, outs, kind="coinjoin-wasabi", owners=[p[0] for p in parts] + [self.wasabi])
        mine: dict[int, list[int]] = {}
        for n, pi in enumerate(owner_of_out):
            if pi >= 0 and extra and pi < len(extra):
                mine.setdefault(pi, []).append(btc.tx_outputs[t][n])
        return t, mine

    def wasabi2_round(self, f: float) -> int | None:
        """A WabiSabi (Wasabi 2.0) style round: many participants, each input's value decomposed greedily into
        standard denominations (:data:`WASABI2_DENOMS`, up to 8 outputs each), what is left below the
        smallest denomination going to the miners. Outputs are sorted by value, as the coordinator does."""
        rng, btc = self.rng, self.w.btc
        n = int(rng.integers(15, 40))
        inputs: list[int] = []
        outs: list[tuple[int, int]] = []
        owners: list[BtcWallet] = []
        for j in rng.choice(len(self.wallets), size=min(n, len(self.wallets)), replace=False):
            wal = self.wallets[int(j)]
            if not wal.utxos:
                continue
            o = wal.utxos[int(rng.integers(len(wal.utxos)))]
            v = btc.out_value[o] - int(f * 68)
            if v < 2 * WASABI2_DENOMS[0]:
                continue
            inputs.append(o)
            owners.append(wal)
            for _ in range(8):
                d = next((x for x in reversed(WASABI2_DENOMS) if x + int(f * 31) <= v), None)
                if d is None:
                    break
                outs.append((btc.new_address(wal, "p2wpkh"), d))
                v -= d + int(f * 31)
        if len(owners) < 5:
            return None
        outs.sort(key=lambda x: -x[1])
        return btc.raw_tx(None, inputs, outs, kind="coinjoin-wasabi2", owners=owners)

    def whirlpool_round(self, f: float, *, extra: list[tuple[BtcWallet, int]] | None = None,
                        denom: int = 1_000_000) -> int | None:
        """A Whirlpool-style 5-in/5-out round of pool denomination ``denom``. Inputs: ``extra`` (wallet,
        premix output), then up to three free remixes of earlier post-mix outputs, then premix outputs left
        from earlier Tx0s, then fresh Tx0s (split + coordinator fee) of new participants."""
        rng, btc = self.rng, self.w.btc
        parts: list[tuple[BtcWallet, int]] = list(extra or [])
        fresh = btc.out_spent
        post = [(w, o) for w, o in self.postmix.get(denom, []) if fresh[o] == -1]
        pre = [(w, o) for w, o in self.premix.get(denom, []) if fresh[o] == -1]
        for w, o in post[:3]:
            if len(parts) < 5 and not any(p[0] is w for p in parts):
                parts.append((w, o))
        for w, o in pre:
            if len(parts) < 5 and not any(p[0] is w for p in parts):
                parts.append((w, o))
        tries = 0
        while len(parts) < 5 and tries < 20:
            tries += 1
            wal = self.wallets[int(rng.integers(len(self.wallets)))]
            if any(p[0] is wal for p in parts):
                continue
            got = self.tx0(wal, denom, f)
            if got:
                parts.append((wal, got[0]))
                self.premix.setdefault(denom, []).extend((wal, o) for o in got[1:])
        if len(parts) < 5:
            return None
        parts = parts[:5]
        used = {p[1] for p in parts}
        self.postmix[denom] = [(w, o) for w, o in post if o not in used]
        self.premix[denom] = [(w, o) for w, o in self.premix.get(denom, []) if o not in used and fresh[o] == -1]
        inputs = [p[1] for p in parts]
        outs = [(btc.new_address(p[0], "p2wpkh"), denom) for p in parts]
        perm = rng.permutation(5)
        outs = [outs[int(i)] for i in perm]
        t = btc.raw_tx(None, inputs, outs, kind="coinjoin-whirlpool", owners=[p[0] for p in parts])
        background = {id(w) for w in self.wallets}
        aw = btc.addr_wallet
        for o in btc.tx_outputs[t]:       # background post-mix outputs wait for a free remix
            w = next((p[0] for p in parts if id(p[0]) == aw[btc.out_addr[o]]), None)
            if w is not None and id(w) in background:
                self.postmix.setdefault(denom, []).append((w, o))
        return t

    def tx0(self, wal: BtcWallet, denom: int, f: float, n_max: int = 3) -> list[int]:
        """Whirlpool Tx0: split into premix outputs of ``denom`` + miner-fee margin, pay the coordinator fee
        (5% of the denomination), keep the rest as change. Returns the premix outputs."""
        btc = self.w.btc
        margin = int(f * 120)
        fee = denom * 5 // 100
        sel = btc.select(wal, denom + margin + fee + 50_000)
        if not sel:
            return []
        total = sum(btc.out_value[o] for o in sel)
        n = min(n_max, int((total - fee - 50_000) // (denom + margin)))
        if n <= 0:
            return []
        pays = [(btc.new_address(wal, "p2wpkh"), denom + margin) for _ in range(n)]
        t = btc.spend(wal, sel, [(self.whirlpool.addrs[0], fee), *pays], feerate=f, kind="whirlpool-tx0")
        btc.credit(self.whirlpool, t)
        pre = [o for o in btc.tx_outputs[t] if btc.out_value[o] == denom + margin]
        return pre

    def joinmarket_round(self, f: float, *, taker: BtcWallet | None = None, taker_inputs: list[int] | None = None,
                         amount: int | None = None) -> tuple[int, list[int]] | None:
        """A JoinMarket-style round: the taker's ``amount`` output is matched by 3-7 makers' equal outputs;
        makers get change including their fee (0.02%), the taker change minus fees."""
        rng, btc = self.rng, self.w.btc
        if taker is None:
            taker = self.wallets[int(rng.integers(len(self.wallets)))]
            amount = int(rng.lognormal(np.log(0.02 * COIN), 0.8)) + 50_000
            taker_inputs = btc.select(taker, amount + 100_000)
            if not taker_inputs:
                return None
        assert amount is not None and taker_inputs is not None
        n_makers = int(rng.integers(3, 8))
        inputs = list(taker_inputs)
        outs: list[tuple[int, int]] = [(btc.new_address(taker), amount)]
        owners = [taker]
        mfee = max(amount * 2 // 10_000, 200)
        for j in rng.choice(len(self.makers), size=n_makers, replace=False):
            mk = self.makers[int(j)]
            if mk is taker:
                continue
            sel = btc.select(mk, amount + 20_000)
            if not sel:
                continue
            tot = sum(btc.out_value[o] for o in sel)
            inputs += sel
            outs.append((btc.new_address(mk), amount))
            outs.append((btc.new_address(mk), tot - amount + mfee))
            owners.append(mk)
        n_m = len(owners) - 1
        if n_m < 2:
            return None
        tin = sum(btc.out_value[o] for o in taker_inputs)
        txfee = int(f * (len(inputs) * 68 + len(outs) * 31 + 11 + 31))
        rest = tin - amount - n_m * mfee - txfee
        if rest < 0:
            return None
        if rest > 5_000:
            outs.append((btc.new_address(taker), rest))
        perm = rng.permutation(len(outs))
        outs = [outs[int(i)] for i in perm]
        t = btc.raw_tx(None, inputs, outs, kind="coinjoin-joinmarket", owners=owners)
        mine = [o for o in btc.tx_outputs[t] if btc.addr_owner[btc.out_addr[o]] == taker.entity
                and btc.out_value[o] == amount]
        return t, mine

    # -- EVM background ------------------------------------------------------------------------------------
    def _evm_tick(self) -> None:
        rng, evm = self.rng, self.w.evm
        n = int(rng.poisson(self.evm_per_tick))
        users = self.eth_users
        ui = rng.integers(0, len(users), size=(n, 2))
        kind = rng.random(n)
        # drawn in micro-ether (int64 holds 9.2 million ether of those); scaled to wei as Python ints below,
        # since wei overflow int64 above 9.2 ether (a 4-sigma draw, a few times in a 30,000-transaction world)
        eth_micro = (rng.lognormal(np.log(0.05), 1.3, size=n) * 1e6).astype(np.int64)
        tok_v = (rng.lognormal(np.log(300), 1.3, size=n)).astype(np.int64) * USDT + USDT
        gas_reserve = evm.max_fee(200_000)
        for ex in self.exchanges:     # exchanges sweep last tick's deposits
            for acct in ex.eth_pending:
                self._sweep_eth_deposit(ex, acct)
            ex.eth_pending = []
        for i in range(n):
            a, b = users[int(ui[i, 0])], users[int(ui[i, 1])]
            r = kind[i]
            v, tv = int(eth_micro[i]) * 10**12, int(tok_v[i])
            if r < 0.33:
                if evm.balance(a) > v + gas_reserve:
                    evm.send(a, b, v, kind="payment")
                else:
                    self._eth_withdraw(a, v * 2 + gas_reserve)
            elif r < 0.55:
                if evm.balance(a, self.usdt) >= tv and evm.balance(a) > gas_reserve:
                    evm.send_token(a, self.usdt, b, tv, kind="token-payment")
                else:
                    self._eth_withdraw(a, gas_reserve, token=tv * 2)
            elif r < 0.70:
                ex = self.exchanges[int(rng.integers(len(self.exchanges)))]
                dep = self.eth_deposit_account(ex, self.w.evm.acct_owner[a])
                if evm.balance(a, self.usdt) >= tv and evm.balance(a) > gas_reserve and rng.random() < 0.5:
                    evm.send_token(a, self.usdt, dep, tv, kind="exchange-deposit")
                    ex.eth_pending.append(dep)
                elif evm.balance(a) > v + gas_reserve:
                    evm.send(a, dep, v, kind="exchange-deposit")
                    ex.eth_pending.append(dep)
            elif r < 0.82:
                self._eth_withdraw(a, v, token=tv if rng.random() < 0.4 else 0)
            elif r < 0.93:
                self.swap(a, eth_in=v if rng.random() < 0.5 else 0, usdt_in=tv)
            elif r < 0.98:
                d = POOL_DENOMS[0] if rng.random() < 0.8 else POOL_DENOMS[1]
                if rng.random() < 0.5 or self.pool_notes[d] == 0:
                    if evm.balance(a) > d * ETHER + gas_reserve:
                        self.pool_deposit(a, d)
                    else:
                        self._eth_withdraw(a, d * ETHER + gas_reserve)
                else:
                    self.pool_withdraw(b, d)
            else:
                if evm.balance(a) > v + gas_reserve:
                    self.bridge_out(a, v, btc_dest=None)

    def _eth_withdraw(self, to: int, wei: int, *, token: int = 0) -> None:
        ex = self.exchanges[int(self.rng.integers(len(self.exchanges)))]
        evm = self.w.evm
        if wei and evm.balance(ex.eth_hot) > wei + evm.max_fee(GAS_GUARD):
            evm.send(ex.eth_hot, to, wei, kind="exchange-withdrawal")
        if token and evm.balance(ex.eth_hot, self.usdt) > token:
            evm.send_token(ex.eth_hot, self.usdt, to, token, kind="exchange-withdrawal")

    def _sweep_eth_deposit(self, ex: Exchange, acct: int) -> list[int]:
        """Forward a deposit account's balance to the hot wallet (gas top-up first for tokens)."""
        evm = self.w.evm
        out = []
        tok = evm.balance(acct, self.usdt)
        if tok > 0:
            need = evm.max_fee(60_000)
            if evm.balance(acct) < need:
                out.append(evm.send(ex.eth_hot, acct, need, kind="gas-topup"))
            out.append(evm.send_token(acct, self.usdt, ex.eth_hot, tok, kind="exchange-sweep"))
        fee = evm.max_fee(21_000)
        bal = evm.balance(acct)
        if bal > fee * 2:
            out.append(evm.send(acct, ex.eth_hot, bal - fee, kind="exchange-sweep"))
        return out

    def swap(self, who: int, *, eth_in: int = 0, usdt_in: int = 0, to: int | None = None) -> int | None:
        """Swap on the DEX pair at a price near 3,000 USDT per ether (0.3% fee). Ether in -> tokens out, or
        tokens in -> ether out (paid as an internal call)."""
        evm, rng = self.w.evm, self.rng
        to = who if to is None else to
        price = 3000 * (1 + float(rng.normal(0, 0.01)))
        reserve = evm.max_fee(200_000)
        if eth_in:
            if evm.balance(who) < eth_in + reserve:
                return None
            out = int(eth_in / ETHER * price * 0.997 * USDT)
            return evm.call(who, self.dex, eth_in, "0x7ff36ab5", kind="dex-swap",
                            logs=[(self.usdt, self.dex, to, out)])
        if usdt_in and evm.balance(who, self.usdt) >= usdt_in and evm.balance(who) >= reserve:
            out = int(usdt_in / USDT / price * 0.997 * 1e6) * 10**12
            return evm.call(who, self.dex, 0, "0x18cbafe5", kind="dex-swap",
                            logs=[(self.usdt, who, self.dex, usdt_in)], internal=[(self.dex, to, out)])
        return None

    def pool_deposit(self, who: int, denom: int, *, background: bool = True) -> int:
        if background:       # only background notes may be withdrawn by background users
            self.pool_notes[denom] += 1
        return self.w.evm.call(who, self.pool_contracts[denom], denom * ETHER, "0x13d98d13", kind="pool-deposit",
                               args=[format(int(self.rng.integers(2**62)), "064x")])

    def pool_withdraw(self, to: int, denom: int, *, fee_share: float = 0.002, background: bool = True) -> int:
        """A withdrawal through the relayer: the pool pays ``to`` and the relayer its fee, as internal calls."""
        evm = self.w.evm
        if background:
            self.pool_notes[denom] = max(self.pool_notes[denom] - 1, 0)
        fee = int(denom * ETHER * fee_share)
        c = self.pool_contracts[denom]
        return evm.call(self.relayer, c, 0, "0x21a0adb6", kind="pool-withdraw",
                        internal=[(c, to, denom * ETHER - fee), (c, self.relayer, fee)],
                        args=["0" * 64, evm.address(to)[2:].rjust(64, "0")])

    def bridge_out(self, who: int, wei: int, *, btc_dest: int | None) -> int:
        """Lock ether in the bridge (its BTC side pays out later, see ``bridge_release``)."""
        return self.w.evm.call(who, self.bridge, wei, "0x0f5287b0", kind="bridge-deposit")

    def bridge_release_btc(self, addr: int, sats: int) -> int:
        btc = self.w.btc
        t = btc.pay(self.bridge_btc, [(addr, sats)], feerate=self.feerate(), kind="bridge-release",
                    largest_first=True)
        assert t is not None, "bridge BTC float exhausted"
        return t

