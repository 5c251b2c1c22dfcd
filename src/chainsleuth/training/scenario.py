"""The machinery every typology's story uses: difficulty levels, the world being built, and the moves
that write the answer key as they happen (victim purchases, payments, peel chains, mixers, CoinJoins,
bridges, cash-outs).

A :class:`Scenario` holds the :class:`~chainsleuth.training.world.WorldBuilder`, the background
:class:`~chainsleuth.training.economy.Economy` and the :class:`Level`; a typology writes its story as
coroutines over it (see :mod:`chainsleuth.training.typologies`) and calls :meth:`Scenario.run`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainsleuth.errors import InternalError
from chainsleuth.training.economy import COIN, ETHER, Economy, Exchange
from chainsleuth.training.ledger_btc import BtcWallet
from chainsleuth.training.world import AnswerKey, Ref, World, WorldBuilder

__all__ = ["LEVELS", "Level", "Scenario"]


@dataclass(frozen=True)
class Level:
    """What a difficulty level changes."""

    hops: int                     # peel / forwarding hops between the crime and a cash-out
    dormancy: tuple[int, int]     # ticks (blocks) funds rest between moves, drawn uniformly
    noise: float                  # relative noise on amounts (0: round figures)
    chain_hop: bool               # part of the proceeds crosses to the other chain
    mixing: bool                  # the proceeds pass through a mixer / CoinJoin
    tag_share: float              # share of services whose addresses carry tags


LEVELS = {
    1: Level(hops=2, dormancy=(0, 2), noise=0.0, chain_hop=False, mixing=False, tag_share=1.0),
    2: Level(hops=4, dormancy=(4, 12), noise=0.08, chain_hop=False, mixing=True, tag_share=0.7),
    3: Level(hops=7, dormancy=(8, 24), noise=0.2, chain_hop=True, mixing=True, tag_share=0.45),
}

# ---------------------------------------------------------------------------------------------------------
# shared machinery
# ---------------------------------------------------------------------------------------------------------
class Scenario:
    """One world being generated: builder, economy, level and the helpers every story uses."""

    def __init__(self, typology: str, difficulty: int, rng: np.random.Generator, size: int, seed_int: int):
        self.lv = LEVELS[difficulty]
        self.w = WorldBuilder(rng, typology=typology, difficulty=difficulty, seed=seed_int)
        self.rng = rng
        #: planned length in blocks; stories that run longer extend the world at the same pace
        self.n_ticks = {1: 60, 2: 120, 3: 200}[difficulty]
        self.eco = Economy(self.w, size=size, n_ticks=self.n_ticks, tag_share=self.lv.tag_share)
        self.btc = self.w.btc
        self.evm = self.w.evm
        self.start = max(3, self.n_ticks // 10)
        #: (question role, entity, chain) of the cluster question
        self.cluster: tuple[str, int, str] | None = None
        #: how to compute what a trace from the case's start reaches (run once the ledgers are complete)
        self.expect: list[Callable[[], dict[str, Any]]] = []

    def mixed(self, kind: str, entity: int) -> None:
        """Record that the proceeds passed through mixing of ``kind`` (in order; a world can have two)."""
        m = self.w.answers.setdefault("mixer", {"type": kind, "types": [], "entities": []})
        if kind not in m["types"]:
            m["types"].append(kind)
            m["entities"].append(Ref("entity", entity))

    # -- amounts and time
    def noisy(self, v: int) -> int:
        if self.lv.noise == 0:
            return int(v)
        ppm = round((1 + self.rng.uniform(-self.lv.noise, self.lv.noise)) * 10_000)   # exact integer maths
        return max(int(v) * ppm // 10_000, 1)

    def dormant(self) -> int:
        lo, hi = self.lv.dormancy
        return int(self.rng.integers(lo, hi + 1))

    def fr(self) -> float:
        return self.eco.feerate()

    # -- entities
    def actor(self, kind: str, name: str, category: str, *, role: str = "perpetrator", tagged: bool = False,
              script: str = "p2wpkh") -> BtcWallet:
        return BtcWallet(self.w.entity(kind, name, category, role=role, tagged=tagged), script)

    def pick_exchanges(self, k: int) -> list[Exchange]:
        idx = self.rng.choice(len(self.eco.exchanges), size=k, replace=False)
        exs = [self.eco.exchanges[int(i)] for i in idx]
        for ex in exs:       # an exchange that receives proceeds is always identifiable from some tag
            self.w.set_tagged(ex.entity, True)
        return exs

    # -- Bitcoin moves recorded in the answer key
    def buy(self, victim: BtcWallet, amount: int) -> int:
        """The victim buys ``amount`` at an exchange and withdraws it to a fresh address of their own."""
        ex = self.eco.exchanges[int(self.rng.integers(len(self.eco.exchanges)))]
        t = self.eco.withdraw(ex, [(self.btc.new_address(victim), amount)], kind="exchange-withdrawal")
        assert t is not None
        self.btc.credit(victim, t)
        return t

    def send(self, src: BtcWallet, dst: BtcWallet, amount: int | None, note: str, *,
             addr: int | None = None, to_entity: int | None = None) -> tuple[int, int, int]:
        """Pay ``amount`` (None: everything, one output) from ``src`` to a fresh address of ``dst`` (or
        ``addr``). Records the path step; returns (tx, output id, value)."""
        btc = self.btc
        a = addr if addr is not None else btc.new_address(dst)
        if amount is None:
            t = btc.sweep(src, list(src.utxos), a, feerate=self.fr(), kind=note)
        else:
            t = btc.pay(src, [(a, amount)], feerate=self.fr(), kind=note)
            assert t is not None, f"{note}: {amount} not affordable"
        o = next(o for o in btc.tx_outputs[t] if btc.out_addr[o] == a)
        btc.credit(dst, t)
        v = btc.out_value[o]
        self.w.step("btc", t, src.entity, dst.entity if to_entity is None else to_entity, v, "BTC", note)
        return t, o, v

    def deposit(self, src: BtcWallet, ex: Exchange, amount: int | None, note: str = "exchange deposit") -> int:
        """Pay into the perpetrator's own deposit address at ``ex`` (a cash-out)."""
        a = self.eco.deposit_address(ex, src.entity)
        t, _, v = self.send(src, ex.deposits, amount, note, addr=a)
        self.w.cashout(ex.entity, "btc", a, v, "BTC", t)
        return t

    def peel_chain(self, src: BtcWallet, exs: list[Exchange], hops: int, share: tuple[float, float],
                   note: str = "peel") -> Iterator[int]:
        """A peel chain: each hop sends a slice to an exchange deposit and the rest to a fresh own address."""
        btc = self.btc
        for _ in range(hops):
            bal = src.balance(btc)
            if bal < 200_000:
                return
            ex = exs[int(self.rng.integers(len(exs)))]
            peel = self.noisy(int(bal * self.rng.uniform(*share)))
            a_dep = self.eco.deposit_address(ex, src.entity)
            a_next = btc.new_address(src)
            inputs = list(src.utxos)
            total = sum(btc.out_value[o] for o in inputs)
            fee = int(btc.vsize(["p2wpkh"] * len(inputs), ["p2wpkh", "p2wpkh"]) * self.fr())
            t = btc.spend(src, inputs, [(a_dep, peel), (a_next, total - peel - fee)], feerate=0.0, kind=note,
                          change=False)
            btc.credit(ex.deposits, t)
            self.w.step("btc", t, src.entity, ex.entity, peel, "BTC", note)
            self.w.cashout(ex.entity, "btc", a_dep, peel, "BTC", t)
            yield self.dormant() + 1

    def custodial_mix(self, src: BtcWallet, amount: int, dst: BtcWallet) -> Iterator[int]:
        """Deposit into a custodial mixer; it pays ``dst`` later out of its own reserve (fee 2-3%)."""
        eco, btc = self.eco, self.btc
        mi = int(self.rng.integers(len(eco.mixers)))
        deps, reserve = eco.mixers[mi]
        t, _, v = self.send(src, deps, amount, "mixer deposit")
        self.mixed("custodial", deps.entity)
        self.w.facts.setdefault("mixer_txs", []).append(Ref("btc-tx", t))
        yield int(self.rng.integers(2, 8))
        out = int(v * (1 - self.rng.uniform(0.02, 0.03)))
        n_parts = int(self.rng.integers(2, 4))
        parts = [out // n_parts] * (n_parts - 1) + [out - out // n_parts * (n_parts - 1)]
        for p in parts:
            a = btc.new_address(dst)
            t2 = btc.pay(reserve, [(a, p)], feerate=self.fr(), kind="mixer-payout", largest_first=True)
            assert t2 is not None
            btc.credit(dst, t2)
            self.w.step("btc", t2, deps.entity, dst.entity, p, "BTC", "mixer payout")
            yield int(self.rng.integers(1, 4))

    def wasabi_mix(self, src: BtcWallet, dst: BtcWallet) -> Iterator[int]:
        """Join a Wasabi-style round with everything ``src`` holds; post-mix outputs land in ``dst``."""
        btc = self.btc
        inputs = list(src.utxos)
        res = self.eco.wasabi_round(self.fr(), extra=[(src, inputs)])
        assert res is not None, "not enough wallets for a Wasabi-style round"
        t, mine = res
        outs = mine.get(0, [])
        self.mixed("coinjoin-wasabi", self.eco.wasabi.entity)
        self.w.facts.setdefault("coinjoin_txs", []).append(Ref("btc-tx", t))
        v = sum(btc.out_value[o] for o in outs)
        self.w.step("btc", t, src.entity, src.entity, v, "BTC", "coinjoin (Wasabi-style)")
        yield 1
        if outs:
            a = btc.new_address(dst)
            t2 = btc.sweep(src, [o for o in outs if o in src.utxos], a, feerate=self.fr(), kind="post-mix")
            btc.credit(dst, t2)
            self.w.step("btc", t2, src.entity, dst.entity, btc.out_value[btc.tx_outputs[t2][0]], "BTC",
                        "post-mix consolidation")
        yield 1

    def btc_to_eth(self, src: BtcWallet, amount: int, eth_to: int) -> Iterator[int]:
        """Cross-chain hop through the bridge: BTC into its deposit address, ether out on EVM."""
        eco, btc, evm = self.eco, self.btc, self.evm
        t, o, v = self.send(src, eco.bridge_btc, amount, "bridge deposit")
        yield int(self.rng.integers(1, 3))
        wei = int(v / COIN * 20 * 0.995 * 1e6) * 10**12   # 20 ETH per BTC, 0.5% bridge fee
        t2 = evm.call(eco.relayer, eco.bridge, 0, "0x5c975abb", kind="bridge-release",
                      internal=[(eco.bridge, eth_to, wei)])
        self.w.step("eth", t2, eco.bridge_entity, evm.acct_owner[eth_to], wei, "ETH", "bridge release")
        self.w.hops.append({"service": eco.bridge_entity, "from_chain": "btc", "from_tx": t, "from_addr":
                            btc.out_addr[o], "amount_in": v, "asset_in": "BTC", "to_chain": "eth", "to_tx": t2,
                            "to_addr": eth_to, "amount_out": wei, "asset_out": "ETH"})
        yield 1

    def eth_to_btc(self, src: int, wei: int, dst: BtcWallet) -> Iterator[int]:
        """Cross-chain hop the other way: ether locked in the bridge, BTC paid out by its BTC wallet."""
        eco, btc, evm = self.eco, self.btc, self.evm
        t = eco.bridge_out(src, wei, btc_dest=None)
        self.w.step("eth", t, evm.acct_owner[src], eco.bridge_entity, wei, "ETH", "bridge deposit")
        yield int(self.rng.integers(1, 3))
        sats = int(wei / ETHER / 20 * 0.995 * COIN)
        a = btc.new_address(dst)
        t2 = eco.bridge_release_btc(a, sats)
        btc.credit(dst, t2)
        self.w.step("btc", t2, eco.bridge_entity, dst.entity, sats, "BTC", "bridge release")
        self.w.hops.append({"service": eco.bridge_entity, "from_chain": "eth", "from_tx": t, "from_addr": src,
                            "amount_in": wei, "asset_in": "ETH", "to_chain": "btc", "to_tx": t2, "to_addr": a,
                            "amount_out": sats, "asset_out": "BTC"})
        yield 1

    def eth_deposit(self, src: int, ex: Exchange, *, token: bool, amount: int | None = None,
                    note: str = "exchange deposit") -> int:
        """Send ether or USDT from ``src`` to its owner's deposit account at ``ex`` (a cash-out on EVM)."""
        evm, eco = self.evm, self.eco
        dep = eco.eth_deposit_account(ex, evm.acct_owner[src])
        if token:
            v = evm.balance(src, eco.usdt) if amount is None else amount
            t = evm.send_token(src, eco.usdt, dep, v, kind=note)
            asset = "USDT"
        else:
            v = evm.balance(src) - evm.max_fee(21_000) if amount is None else amount
            t = evm.send(src, dep, v, kind=note)
            asset = "ETH"
        ex.eth_pending.append(dep)
        self.w.step("eth", t, evm.acct_owner[src], ex.entity, v, asset, note)
        self.w.cashout(ex.entity, "eth", dep, v, asset, t)
        return t

    def whirlpool_mix(self, src: BtcWallet, dst: BtcWallet, denom: int = 5_000_000, n: int = 6) -> Iterator[int]:
        """Tx0 of ``src`` into premix outputs of ``denom``, then one 5-in/5-out round per premix output
        (four other participants each); the post-mix outputs land in ``dst``."""
        btc = self.btc
        premix = self.eco.tx0(src, denom, self.fr(), n_max=n)
        assert premix, "tx0 of the perpetrator failed"
        t0 = btc.out_tx[premix[0]]
        self.w.step("btc", t0, src.entity, src.entity, sum(btc.out_value[o] for o in premix), "BTC",
                    "whirlpool tx0 (premix)")
        self.mixed("coinjoin-whirlpool", self.eco.whirlpool.entity)
        yield 1
        for o in premix:
            t = self.eco.whirlpool_round(self.fr(), extra=[(src, o)], denom=denom)
            assert t is not None
            self.w.facts.setdefault("coinjoin_txs", []).append(Ref("btc-tx", t))
            yield int(self.rng.integers(0, 2))
        post = [o for o in src.utxos if btc.out_value[o] == denom]
        for o in post:       # each post-mix output moves on its own (no co-spend), to a fresh dst address
            a = btc.new_address(dst)
            t2 = btc.sweep(src, [o], a, feerate=self.fr(), kind="post-mix")
            btc.credit(dst, t2)
            self.w.step("btc", t2, src.entity, dst.entity, btc.out_value[btc.tx_outputs[t2][0]], "BTC", "post-mix")
            yield int(self.rng.integers(0, 3))

    # -- run
    def run(self) -> tuple[World, AnswerKey]:
        w, eco = self.w, self.eco
        limit = self.n_ticks * 5
        while w.tick < self.n_ticks or w.pending():
            if w.tick > limit:
                raise InternalError(f"{w.typology} story still running after {limit} blocks")
            eco.step()
            w.run_due()
            eco.close_tick()
        # every exchange sweeps what is still waiting on its deposit addresses, in a final block
        for ex in eco.exchanges:
            while ex.deposits.utxos and eco.sweep_exchange(ex) is not None:
                pass
        eco.close_tick()
        self._trace_expectations()
        self._answers_common()
        world = w.finish()
        return world, world.key

    def _trace_expectations(self) -> None:
        """What a correct trace reaches: from the case's start, then from every bridge release on the other
        chain (one trace per destination chain: the releases land in one wallet), from the ledgers."""
        from chainsleuth.training.expectations import btc_expectation, evm_expectation

        out = [fn() for fn in self.expect]
        for to_chain in ("btc", "eth"):
            hops = [h for h in self.w.hops if h["to_chain"] == to_chain]
            if not hops:
                continue
            if to_chain == "btc":
                seeds = [o for h in hops for o in self.btc.tx_outputs[h["to_tx"]]
                         if self.btc.out_addr[o] == h["to_addr"]]
                out.append(btc_expectation(self.w, seeds, note="bridge release (cross-chain hop)"))
            else:
                out.append(evm_expectation(self.w, txs=[h["to_tx"] for h in hops], note="bridge release (cross-chain hop)"))
        self.w.answers["trace_expectations"] = out

    def _answers_common(self) -> None:
        w = self.w
        by_ex: dict[int, dict[str, int]] = {}
        for e, _c, _a, amt, asset, _ in w.cashouts:
            by_ex.setdefault(e, {}).setdefault(asset, 0)
            by_ex[e][asset] += amt
        w.answers["exchanges"] = [{"exchange": Ref("entity", e), "amounts": v} for e, v in by_ex.items()]
        if self.cluster is not None:
            who, ent, chain = self.cluster
            owners = self.btc.addr_owner if chain == "btc" else self.evm.acct_owner
            w.answers["cluster"] = {"who": who, "entity": Ref("entity", ent), "chain": chain, "addresses": [
                Ref(f"{chain}-addr", a) for a, o in enumerate(owners) if o == ent]}
        w.answers["deposit_addresses"] = [
            {"chain": c, "address": Ref(f"{c}-addr", a), "exchange": Ref("entity", e)}
            for e, c, a, _amt, _asset, _ in w.cashouts]
