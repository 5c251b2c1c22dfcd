"""Crime typologies: each a seeded generator registered in :data:`TYPOLOGIES`.

A generator takes ``difficulty`` (1-3), ``seed`` (a numpy ``Generator``) and ``size`` (background
Bitcoin transactions, about) and returns ``(World, AnswerKey)``. Difficulty sets the number of hops,
dormancy between moves, denomination noise, whether value hops chains, and the share of services that
carry tags (:data:`LEVELS`). The story of each typology runs as a coroutine inside the background
economy: it yields the number of ticks (blocks) to wait, so its transactions sit among ordinary ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from chainsleuth.core.registry import Registry
from chainsleuth.errors import InternalError, InvalidInput
from chainsleuth.training.economy import COIN, ETHER, Economy, Exchange
from chainsleuth.training.ledger_btc import BtcWallet
from chainsleuth.training.world import AnswerKey, Ref, World, WorldBuilder

__all__ = ["LEVELS", "TYPOLOGIES", "Level", "Typology", "generate_world"]


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

Typology = Callable[..., tuple[World, AnswerKey]]
#: every scenario typology; built-ins register like plugins do
TYPOLOGIES: Registry[Typology] = Registry("scenario typology")

DEFAULT_SIZE = 4000


def generate_world(typology: str, difficulty: int, seed: int, *, size: int = DEFAULT_SIZE) -> tuple[World, AnswerKey]:
    """Generate one world of ``typology`` at ``difficulty`` from an integer ``seed``."""
    if difficulty not in LEVELS:
        raise InvalidInput(f"difficulty must be 1, 2 or 3, not {difficulty}", field="difficulty", value=difficulty)
    if size < 100:
        raise InvalidInput(f"size must be at least 100 background transactions, not {size}", field="size",
                           value=size)
    gen = TYPOLOGIES.get(typology)
    return gen(difficulty=difficulty, seed=np.random.default_rng(seed), size=size, seed_int=seed)


# ---------------------------------------------------------------------------------------------------------
# shared machinery
# ---------------------------------------------------------------------------------------------------------
class _Case:
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
        self.cluster: tuple[str, int] | None = None     # (question role, entity) of the cluster question

    # -- amounts and time
    def noisy(self, v: int) -> int:
        if self.lv.noise == 0:
            return int(v)
        return max(int(v * (1 + self.rng.uniform(-self.lv.noise, self.lv.noise))), 1)

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
        self.w.answers.setdefault("mixer", {"type": "custodial", "entity": Ref("entity", deps.entity)})
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
        t, mine = self.eco.wasabi_round(self.fr(), extra=[(src, inputs)])
        outs = mine.get(0, [])
        self.w.answers["mixer"] = {"type": "coinjoin-wasabi", "entity": Ref("entity", self.eco.wasabi.entity)}
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
        self._answers_common()
        world = w.finish()
        return world, world.key

    def _answers_common(self) -> None:
        w = self.w
        by_ex: dict[int, dict[str, int]] = {}
        for e, _c, _a, amt, asset, _ in w.cashouts:
            by_ex.setdefault(e, {}).setdefault(asset, 0)
            by_ex[e][asset] += amt
        w.answers["exchanges"] = [{"exchange": Ref("entity", e), "amounts": v} for e, v in by_ex.items()]
        if self.cluster is not None:
            who, ent = self.cluster
            w.answers["cluster"] = {"who": who, "entity": Ref("entity", ent), "addresses": [
                Ref("btc-addr", a) for a, o in enumerate(self.btc.addr_owner) if o == ent]}
        w.answers["deposit_addresses"] = [
            {"chain": c, "address": Ref(f"{c}-addr", a), "exchange": Ref("entity", e)}
            for e, c, a, _amt, _asset, _ in w.cashouts]


# ---------------------------------------------------------------------------------------------------------
# ransomware
# ---------------------------------------------------------------------------------------------------------
@TYPOLOGIES.register("ransomware")
def ransomware(*, difficulty: int, seed: np.random.Generator, size: int = DEFAULT_SIZE,
               seed_int: int = 0) -> tuple[World, AnswerKey]:
    """Victims pay ransoms; the operator takes its cut and the affiliate peels the rest into exchanges,
    through a custodial mixer (level 2) or a CoinJoin and a bridge to the EVM chain (level 3)."""
    c = _Case("ransomware", difficulty, seed, size, seed_int)
    rng, btc, w = c.rng, c.btc, c.w
    lv = c.lv
    strain = str(rng.choice(["BlackVault", "NightLock", "CryptoHydra", "RansomRiver"]))
    operator = c.actor("ransomware", f"{strain} operators", "ransomware")
    affiliate = c.actor("ransomware", f"{strain} affiliate", "ransomware")
    collect = BtcWallet(operator.entity, "p2wpkh")          # per-victim payment addresses, operator-run
    n_victims = {1: 1, 2: 3, 3: 5}[difficulty]
    exs = c.pick_exchanges({1: 1, 2: 2, 3: 3}[difficulty])
    otc = c.pick_exchanges(1)[0]
    w.facts.update({"strain": strain, "victims": [], "operator_share": 0.2})
    w.answers["operator"] = Ref("entity", operator.entity)
    w.answers["affiliate"] = Ref("entity", affiliate.entity)
    aff_stage = BtcWallet(affiliate.entity, "p2wpkh")
    c.cluster = ("affiliate", affiliate.entity)

    def victim_story(k: int) -> Iterator[int]:
        victim = c.actor("victim", f"Victim {k + 1}", "victim", role="victim", script="p2sh")
        ransom = c.noisy(int(rng.choice([1, 2, 3, 5]) * COIN // 2))
        c.buy(victim, ransom + 300_000)
        yield int(rng.integers(1, 4))
        pay_addr = btc.new_address(collect)
        t, o, v = c.send(victim, collect, ransom, "ransom payment", addr=pay_addr)
        w.facts["victims"].append({"name": f"Victim {k + 1}", "txid": Ref("btc-tx", t),
                                   "address": Ref("btc-addr", pay_addr), "amount": v,
                                   "time": btc.time})
        yield c.dormant() + 1
        # the split: 20% operator, 80% affiliate
        op_a = btc.new_address(operator)
        af_a = btc.new_address(aff_stage)
        fee = int(btc.vsize(["p2wpkh"], ["p2wpkh", "p2wpkh"]) * c.fr())
        op_v = (v - fee) // 5
        t2 = btc.spend(collect, [o], [(op_a, op_v), (af_a, v - fee - op_v)], feerate=0.0, kind="split",
                       change=False)
        btc.credit(operator, t2)
        btc.credit(aff_stage, t2)
        w.step("btc", t2, operator.entity, operator.entity, op_v, "BTC", "operator share")
        w.step("btc", t2, operator.entity, affiliate.entity, v - fee - op_v, "BTC", "affiliate share")

    for k in range(n_victims):
        w.spawn(victim_story(k), c.start + k * int(rng.integers(2, 6)))

    def affiliate_story() -> Iterator[int]:
        yield c.start + n_victims * 6 + lv.dormancy[1] + 4
        main = affiliate
        c.send(aff_stage, main, None, "consolidation")
        yield c.dormant() + 1
        if lv.mixing and difficulty == 2:
            mixed = BtcWallet(affiliate.entity, "p2wpkh")
            amt = main.balance(btc) * 2 // 5
            yield from c.custodial_mix(main, amt, mixed)
            yield c.dormant() + 1
            ex = exs[-1]
            c.deposit(mixed, ex, None, "exchange deposit (after mixer)")
        if lv.mixing and difficulty == 3:
            post = BtcWallet(affiliate.entity, "p2wpkh")
            cj = BtcWallet(affiliate.entity, "p2wpkh")
            c.send(main, cj, main.balance(btc) // 3, "to coinjoin wallet")
            yield c.dormant() + 1
            yield from c.wasabi_mix(cj, post)
            yield c.dormant() + 1
            eth_acct = c.evm.new_account(affiliate.entity)
            yield from c.btc_to_eth(post, post.balance(btc) - 50_000, eth_acct)
            yield c.dormant() + 1
            c.eth_deposit(eth_acct, exs[-1], token=False)
        yield from c.peel_chain(main, exs[:2] if difficulty == 3 else exs, lv.hops, (0.08, 0.25))
        if main.balance(btc) > 100_000:
            c.deposit(main, exs[0], None, "final deposit")

    def operator_story() -> Iterator[int]:
        yield c.start + n_victims * 6 + lv.dormancy[1] + 10
        if operator.balance(btc) > 0:
            c.deposit(operator, otc, None, "operator cash-out")

    w.spawn(affiliate_story())
    w.spawn(operator_story())
    return c.run()
