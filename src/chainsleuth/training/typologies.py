"""Crime typologies: each a seeded generator registered in :data:`TYPOLOGIES`.

A generator takes ``difficulty`` (1-3), ``seed`` (a numpy ``Generator``) and ``size`` (background
Bitcoin transactions, about) and returns ``(World, AnswerKey)``. Difficulty sets the number of hops,
dormancy between moves, denomination noise, whether value hops chains, and the share of services that
carry tags (:data:`~chainsleuth.training.scenario.LEVELS`). The story of each typology runs as a coroutine
inside the background economy: it yields the number of ticks (blocks) to wait, so its transactions sit among
ordinary ones. The moves the stories share live in :class:`~chainsleuth.training.scenario.Scenario`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator

import numpy as np

from chainsleuth.core.registry import Registry
from chainsleuth.errors import InvalidInput
from chainsleuth.training.economy import COIN, ETHER, USDT
from chainsleuth.training.expectations import btc_expectation, evm_expectation
from chainsleuth.training.ledger_btc import BtcWallet
from chainsleuth.training.scenario import LEVELS, Level, Scenario
from chainsleuth.training.world import AnswerKey, Ref, World

__all__ = [
    "DEFAULT_SIZE",
    "LEVELS",
    "MAX_SEED",
    "MAX_SIZE",
    "MIN_SIZE",
    "TYPOLOGIES",
    "Level",
    "Typology",
    "generate_world",
]


Typology = Callable[..., tuple[World, AnswerKey]]
#: every scenario typology; built-ins register like plugins do
TYPOLOGIES: Registry[Typology] = Registry("scenario typology")

DEFAULT_SIZE = 4000
#: the sizes a world may have (background Bitcoin transactions, about): below the minimum the economy is too
#: thin for the stories; the maximum is the largest size the seeded sweep checks (tests/training)
MIN_SIZE = 100
MAX_SIZE = 400_000
#: seeds are non-negative and fit 63 bits (the range of class variant seeds, and of a signed 64-bit column)
MAX_SEED = 2**63 - 1


def generate_world(typology: str, difficulty: int, seed: int, *, size: int = DEFAULT_SIZE) -> tuple[World, AnswerKey]:
    """Generate one world of ``typology`` at ``difficulty`` from an integer ``seed``.

    Raises :class:`~chainsleuth.errors.InvalidInput` (exit 2) for an unknown typology, a difficulty other
    than 1-3, a size outside ``MIN_SIZE``-``MAX_SIZE`` or a seed outside 0-``MAX_SEED``.
    """
    gen = TYPOLOGIES.get(typology)
    if not _whole_in(difficulty, min(LEVELS), max(LEVELS)):
        raise InvalidInput(f"difficulty must be 1, 2 or 3, not {difficulty!r}", field="difficulty",
                           value=difficulty)
    if not _whole_in(size, MIN_SIZE, MAX_SIZE):
        raise InvalidInput(f"size must be a whole number of background transactions from {MIN_SIZE:,} to "
                           f"{MAX_SIZE:,}, not {size!r}", field="size", value=size)
    if not _whole_in(seed, 0, MAX_SEED):
        raise InvalidInput(f"seed must be a whole number from 0 to {MAX_SEED:,} (2^63 - 1), not {seed!r}",
                           field="seed", value=seed)
    difficulty, size, seed = int(difficulty), int(size), int(seed)
    return gen(difficulty=difficulty, seed=np.random.default_rng(seed), size=size, seed_int=seed)


def _whole_in(v: object, lo: int, hi: int) -> bool:
    """Whether ``v`` is a whole number (a Python or numpy integer, not a bool) from ``lo`` to ``hi``."""
    if isinstance(v, bool):
        return False
    try:
        n = operator.index(v)  # type: ignore[arg-type]
    except TypeError:
        return False
    return lo <= n <= hi


# ---------------------------------------------------------------------------------------------------------
# ransomware
# ---------------------------------------------------------------------------------------------------------
@TYPOLOGIES.register("ransomware")
def ransomware(*, difficulty: int, seed: np.random.Generator, size: int = DEFAULT_SIZE,
               seed_int: int = 0) -> tuple[World, AnswerKey]:
    """Victims pay ransoms; the operator takes its cut and the affiliate peels the rest into exchanges,
    through a custodial mixer (level 2) or a CoinJoin and a bridge to the EVM chain (level 3)."""
    c = Scenario("ransomware", difficulty, seed, size, seed_int)
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
    c.cluster = ("affiliate", affiliate.entity, "btc")
    ransoms: list[int] = []           # the victims' payment outputs: where the case's trace starts
    c.expect.append(lambda: btc_expectation(w, ransoms, note="the victims' ransom payments"))

    def victim_story(k: int) -> Iterator[int]:
        victim = c.actor("victim", f"Victim {k + 1}", "victim", role="victim", script="p2sh")
        ransom = c.noisy(int(rng.choice([1, 2, 3, 5]) * COIN // 2))
        c.buy(victim, ransom + 300_000)
        yield int(rng.integers(1, 4))
        pay_addr = btc.new_address(collect)
        t, o, v = c.send(victim, collect, ransom, "ransom payment", addr=pay_addr)
        ransoms.append(o)
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


# ---------------------------------------------------------------------------------------------------------
# darknet market
# ---------------------------------------------------------------------------------------------------------
@TYPOLOGIES.register("darknet_market")
def darknet_market(*, difficulty: int, seed: np.random.Generator, size: int = DEFAULT_SIZE,
                   seed_int: int = 0) -> tuple[World, AnswerKey]:
    """Buyers pay per-user deposit addresses of a market; the market sweeps them into escrow, pays vendors in
    batches and keeps a commission; the target vendor consolidates and cashes out (through a custodial
    mixer at level 2, Whirlpool and a bridge at level 3)."""
    c = Scenario("darknet_market", difficulty, seed, size, seed_int)
    rng, btc, w, eco, lv = c.rng, c.btc, c.w, c.eco, c.lv
    mname = str(rng.choice(["Hydrangea Market", "Silk Lantern", "Cobalt Bazaar", "Nightjar Market"]))
    m_e = w.entity("market", mname, "market", role="perpetrator")
    deposits = BtcWallet(m_e, "p2wpkh", role="deposit")
    escrow = BtcWallet(m_e, "p2wpkh", reuse=0.9)
    btc.new_address(escrow)
    admin = c.actor("market_admin", f"{mname} administrator", "market")
    vnames = ["GreenLeaf", "DrMoon", "PharmaKing", "NordicBlue", "SpeedyUK"]
    vendors = [c.actor("vendor", n, "market", script="p2wpkh") for n in vnames]
    vendor = vendors[int(rng.integers(len(vendors)))]
    vname = w.entities[vendor.entity].name
    officer = c.actor("investigator", "Undercover officer", "user", role="victim")
    exs = c.pick_exchanges({1: 1, 2: 2, 3: 2}[difficulty])
    c.cluster = ("vendor", vendor.entity, "btc")
    # the trace starts at the market's sweeps into its escrow (the officer's payment is swept with other
    # buyers' deposits, so its own share downstream would depend on the policy)
    escrowed: list[int] = []
    c.expect.append(lambda: btc_expectation(w, escrowed, note="the market's sweeps into its escrow"))
    w.facts.update({"market": mname, "vendor": vname, "victims": []})
    dep_of: dict[int, int] = {}
    owed: dict[int, int] = {}      # vendor wallet index -> amount owed after commission

    def buy(buyer: BtcWallet, v_idx: int, amount: int, *, record: bool = False) -> None:
        a = dep_of.get(buyer.entity)
        if a is None:
            a = dep_of[buyer.entity] = btc.new_address(deposits)
        t = eco._pay_or_topup(buyer, [(a, amount)], c.fr(), "market-deposit")
        if t is None:
            return
        btc.credit(deposits, t)
        owed[v_idx] = owed.get(v_idx, 0) + amount * 95 // 100
        if record:
            w.facts["victims"].append({"name": w.entities[buyer.entity].name, "txid": Ref("btc-tx", t),
                                       "address": Ref("btc-addr", a), "amount": amount, "time": btc.time})

    def market_story() -> Iterator[int]:
        c.buy(officer, 3_000_000)
        rounds = 6 + 2 * difficulty
        target = vendors.index(vendor)
        for r in range(rounds):
            for _ in range(int(rng.integers(4, 9))):
                b = eco.wallets[int(rng.integers(len(eco.wallets)))]
                vi = target if rng.random() < 0.35 else int(rng.integers(len(vendors)))
                buy(b, vi, c.noisy(int(rng.lognormal(np.log(1_500_000), 0.6))))
            if r == 1:
                buy(officer, target, 2_000_000, record=True)
            yield int(rng.integers(1, 3))
            if deposits.utxos:
                t = btc.sweep(deposits, list(deposits.utxos), btc.receive_address(escrow), feerate=c.fr(),
                              kind="market-sweep")
                btc.credit(escrow, t)
                escrowed.append(btc.tx_outputs[t][0])
            if r % 2 == 1 and owed:
                pays = []
                for vi, amt in owed.items():
                    pays.append((btc.new_address(vendors[vi]) if difficulty > 1 or not vendors[vi].addrs
                                 else vendors[vi].addrs[0], amt))
                com = sum(v for _, v in pays) * 4 // 95    # 4% to the admin, 1% stays for fees
                pays.append((btc.receive_address(admin), com))
                t = btc.pay(escrow, pays, feerate=c.fr(), kind="vendor-payouts", largest_first=True)
                if t is not None:
                    for vw in [*vendors, admin]:
                        btc.credit(vw, t)
                    w.step("btc", t, m_e, vendor.entity, owed.get(target, 0), "BTC", "vendor payout (batch)")
                    owed.clear()
            yield int(rng.integers(1, 3))
        done.append(True)

    done: list[bool] = []

    def vendor_story() -> Iterator[int]:
        while not done:
            yield 1
        yield c.dormant() + 1
        stash = BtcWallet(vendor.entity, "p2wpkh")
        c.send(vendor, stash, None, "vendor consolidation")
        yield c.dormant() + 1
        if difficulty == 2:
            clean = BtcWallet(vendor.entity, "p2wpkh")
            yield from c.custodial_mix(stash, stash.balance(btc) // 2, clean)
            yield c.dormant() + 1
            c.deposit(clean, exs[-1], None, "exchange deposit (after mixer)")
        if difficulty == 3:
            post = BtcWallet(vendor.entity, "p2wpkh")
            yield from c.whirlpool_mix(stash, post, denom=5_000_000, n=int(min(6, stash.balance(btc) // 8_000_000)))
            yield c.dormant() + 1
            eth_acct = c.evm.new_account(vendor.entity)
            yield from c.btc_to_eth(post, post.balance(btc) - 100_000, eth_acct)
            yield c.dormant() + 1
            c.eth_deposit(eth_acct, exs[-1], token=False)
        yield from c.peel_chain(stash, exs[:1] if difficulty == 3 else exs, lv.hops, (0.15, 0.35))
        if stash.balance(btc) > 100_000:
            c.deposit(stash, exs[0], None, "final deposit")

    def admin_story() -> Iterator[int]:
        while not done:
            yield 1
        yield 4
        if admin.balance(btc) > 100_000:
            c.send(admin, BtcWallet(admin.entity, "p2wpkh"), None, "admin consolidation")

    w.spawn(market_story(), c.start)
    w.spawn(vendor_story())
    w.spawn(admin_story())
    return c.run()


# ---------------------------------------------------------------------------------------------------------
# investment scam / pig butchering
# ---------------------------------------------------------------------------------------------------------
@TYPOLOGIES.register("investment_scam")
def investment_scam(*, difficulty: int, seed: np.random.Generator, size: int = DEFAULT_SIZE,
                    seed_int: int = 0) -> tuple[World, AnswerKey]:
    """Victims buy USDT and send it to per-victim collection addresses of a fake trading platform; the
    platform sweeps them into a pool and cashes out through exchanges and an OTC desk (level 2: more hops
    and a DEX swap to ether; level 3: a bridge to Bitcoin as well)."""
    c = Scenario("investment_scam", difficulty, seed, size, seed_int)
    rng, evm, w, eco, lv = c.rng, c.evm, c.w, c.eco, c.lv
    pname = str(rng.choice(["GoldenBridge FX", "Apex Quant Pro", "Lotus Wealth Trade", "CoinHarbor Prime"]))
    p_e = w.entity("scam", pname, "investment_fraud", role="perpetrator")
    pool = evm.new_account(p_e, label="pool")
    evm.allocate(pool, 2 * ETHER)
    n_victims = {1: 3, 2: 6, 3: 10}[difficulty]
    exs = c.pick_exchanges({1: 1, 2: 2, 3: 2}[difficulty])
    otc_e = w.entity("otc", "Pearl OTC desk", "exchange", role="service", tagged=True)
    c.cluster = ("platform", p_e, "eth")
    paid: list[int] = []              # the victims' payment transactions: where the case's trace starts
    c.expect.append(lambda: evm_expectation(w, asset=eco.usdt, txs=paid, note="the victims' USDT payments"))
    w.facts.update({"platform": pname, "victims": []})
    collections: list[int] = []

    def victim_story(k: int) -> Iterator[int]:
        v_e = w.entity("victim", f"Victim {k + 1}", "victim", role="victim")
        me = evm.new_account(v_e)
        col = evm.new_account(p_e, label="collection")
        collections.append(col)
        ex = eco.exchanges[int(rng.integers(len(eco.exchanges)))]
        for _i in range(int(rng.integers(1, 4))):
            amt = c.noisy(int(rng.choice([5_000, 10_000, 20_000, 50_000])) * USDT)
            evm.send(ex.eth_hot, me, evm.max_fee(60_000) * 2, kind="exchange-withdrawal")
            evm.send_token(ex.eth_hot, eco.usdt, me, amt, kind="exchange-withdrawal")
            yield int(rng.integers(1, 3))
            t = evm.send_token(me, eco.usdt, col, amt, kind="scam-payment")
            paid.append(t)
            w.step("eth", t, v_e, p_e, amt, "USDT", "victim payment")
            w.facts["victims"].append({"name": f"Victim {k + 1}", "txid": Ref("eth-tx", t),
                                       "address": Ref("eth-addr", col), "amount": amt, "asset": "USDT",
                                       "time": evm.time})
            yield int(rng.integers(2, 8))

    def platform_story() -> Iterator[int]:
        yield c.start + n_victims * 3 + 20
        for col in collections:         # gas top-up, then sweep every collection address into the pool
            bal = evm.balance(col, eco.usdt)
            if bal == 0:
                continue
            evm.send(pool, col, evm.max_fee(60_000) * 2, kind="gas-topup")
            t = evm.send_token(col, eco.usdt, pool, bal, kind="pool-sweep")
            w.step("eth", t, p_e, p_e, bal, "USDT", "collection sweep")
        yield c.dormant() + 1
        cur = pool
        for _ in range(lv.hops - 1):
            nxt = evm.new_account(p_e, label="hop")
            evm.send(pool, nxt, evm.max_fee(200_000) * 8, kind="gas")
            v = evm.balance(cur, eco.usdt)
            t = evm.send_token(cur, eco.usdt, nxt, v, kind="hop")
            w.step("eth", t, p_e, p_e, v, "USDT", "hop")
            cur = nxt
            yield c.dormant() + 1
        total = evm.balance(cur, eco.usdt)
        # OTC desk: a deposit account of its own, like an exchange's
        otc_dep = evm.new_account(otc_e, label="OTC desk")
        part = c.noisy(total * 3 // 10)
        t = evm.send_token(cur, eco.usdt, otc_dep, part, kind="otc")
        w.step("eth", t, p_e, otc_e, part, "USDT", "OTC desk")
        w.cashout(otc_e, "eth", otc_dep, part, "USDT", t)
        yield c.dormant() + 1
        if difficulty >= 2:
            sw = evm.balance(cur, eco.usdt) // 2
            t = eco.swap(cur, usdt_in=sw)
            assert t is not None
            w.step("eth", t, p_e, evm.acct_owner[eco.dex], sw, "USDT", "DEX swap USDT -> ETH")
            yield 1
            wei = evm.balance(cur) - evm.max_fee(200_000) * 4
            if difficulty == 2:
                c.eth_deposit(cur, exs[-1], token=False, amount=wei)
            else:
                btc_w = BtcWallet(p_e, "p2wpkh")
                yield from c.eth_to_btc(cur, wei, btc_w)
                yield c.dormant() + 1
                c.deposit(btc_w, exs[-1], None, "exchange deposit (BTC)")
            yield c.dormant() + 1
        c.eth_deposit(cur, exs[0], token=True)

    for k in range(n_victims):
        w.spawn(victim_story(k), c.start + k * 2)
    w.spawn(platform_story())
    return c.run()


# ---------------------------------------------------------------------------------------------------------
# exchange hack laundered Lazarus-style
# ---------------------------------------------------------------------------------------------------------
@TYPOLOGIES.register("exchange_hack")
def exchange_hack(*, difficulty: int, seed: np.random.Generator, size: int = DEFAULT_SIZE,
                  seed_int: int = 0) -> tuple[World, AnswerKey]:
    """An exchange's EVM hot wallet is drained (ether and USDT); the thieves swap the tokens to ether on a
    DEX, split the ether over fresh addresses, push it through fixed-denomination mixing pools (level 2+),
    bridge it to Bitcoin, CoinJoin it (level 3) and cash out through an OTC desk and exchanges."""
    c = Scenario("exchange_hack", difficulty, seed, size, seed_int)
    rng, evm, btc, w, eco, lv = c.rng, c.evm, c.btc, c.w, c.eco, c.lv
    h_e = w.entity("hacker", "Lazarus-style group", "hacking", role="perpetrator")
    victim_ex = eco.exchanges[int(rng.integers(len(eco.exchanges)))]
    w.set_tagged(victim_ex.entity, True)
    cash_exs = [ex for ex in c.pick_exchanges(3) if ex is not victim_ex][:2]
    otc_e = w.entity("otc", "Jade OTC desk", "exchange", role="service", tagged=True)
    otc = BtcWallet(otc_e, "p2wpkh", reuse=1.0)
    btc.new_address(otc)
    c.cluster = ("hacker", h_e, "eth")
    w.facts.update({"victim": victim_ex.name})
    w.answers["victim_exchange"] = Ref("entity", victim_ex.entity)

    def story() -> Iterator[int]:
        thief = evm.new_account(h_e)
        # the trace starts at the thieves' first address: the stolen ether and the ether the USDT became
        c.expect.append(lambda: evm_expectation(w, address=thief, note="everything the thieves' address received"))
        wei = c.noisy(int(rng.choice([300, 500, 800])) * ETHER)
        tok = c.noisy(int(rng.choice([500_000, 1_000_000])) * USDT)
        t = evm.send(victim_ex.eth_hot, thief, wei, kind="theft")
        w.step("eth", t, victim_ex.entity, h_e, wei, "ETH", "theft (ether)")
        w.facts["theft"] = {"txid": Ref("eth-tx", t), "address": Ref("eth-addr", victim_ex.eth_hot), "amount": wei,
                            "asset": "ETH", "time": evm.time}
        t = evm.send_token(victim_ex.eth_hot, eco.usdt, thief, tok, kind="theft")
        w.step("eth", t, victim_ex.entity, h_e, tok, "USDT", "theft (USDT)")
        yield 1
        t = eco.swap(thief, usdt_in=tok)
        assert t is not None
        w.step("eth", t, h_e, evm.acct_owner[eco.dex], tok, "USDT", "DEX swap USDT -> ETH")
        yield c.dormant() + 1
        # split into fresh addresses
        n_split = 2 + lv.hops // 2
        bal = evm.balance(thief) - evm.max_fee(21_000) * (n_split + 2)
        parts = [evm.new_account(h_e) for _ in range(n_split)]
        share = bal // n_split
        for p in parts:
            t = evm.send(thief, p, share, kind="split")
            w.step("eth", t, h_e, h_e, share, "ETH", "split")
        yield c.dormant() + 1
        outs = []
        n_out = 0
        if lv.mixing:
            denom = 100 if share > 100 * ETHER else 10
            for p in parts:
                k = int((evm.balance(p) - evm.max_fee(200_000) * 40) // (denom * ETHER))
                for _ in range(k):
                    t = eco.pool_deposit(p, denom, background=False)
                    n_out += 1
                    w.step("eth", t, h_e, eco.pool_entity, denom * ETHER, "ETH", f"mixing pool deposit ({denom} ETH)")
                    w.facts.setdefault("mixer_txs", []).append(Ref("eth-tx", t))
                yield int(rng.integers(1, 3))
            c.mixed("mixing-pool", eco.pool_entity)
            yield c.dormant() + 1
            for _ in range(n_out):
                fresh = evm.new_account(h_e)
                t = eco.pool_withdraw(fresh, denom, background=False)
                got = denom * ETHER - int(denom * ETHER * 0.002)
                w.step("eth", t, eco.pool_entity, h_e, got, "ETH", "mixing pool withdrawal")
                outs.append(fresh)
                yield int(rng.integers(0, 2))
        else:
            outs = parts
        yield c.dormant() + 1
        btc_w = BtcWallet(h_e, "p2wpkh")
        for o in outs:
            wei_o = evm.balance(o) - evm.max_fee(200_000) * 2
            if wei_o > ETHER // 10:
                yield from c.eth_to_btc(o, wei_o, btc_w)
        yield c.dormant() + 1
        if difficulty == 3:
            post = BtcWallet(h_e, "p2wpkh")
            yield from c.wasabi_mix(btc_w, post)
            btc_w = post
            yield c.dormant() + 1
        total = btc_w.balance(btc)
        c.deposit(btc_w, cash_exs[0], total // 3, "exchange deposit")
        yield c.dormant() + 1
        if len(cash_exs) > 1 and difficulty > 1:
            c.deposit(btc_w, cash_exs[1], total // 4, "exchange deposit")
            yield 1
        a = otc.addrs[0]
        t, _o, v = c.send(btc_w, otc, None, "OTC desk", addr=a)
        w.cashout(otc_e, "btc", a, v, "BTC", t)

    w.spawn(story(), c.start)
    return c.run()


# ---------------------------------------------------------------------------------------------------------
# sanctions evasion through a nested exchange
# ---------------------------------------------------------------------------------------------------------
@TYPOLOGIES.register("sanctions_evasion")
def sanctions_evasion(*, difficulty: int, seed: np.random.Generator, size: int = DEFAULT_SIZE,
                      seed_int: int = 0) -> tuple[World, AnswerKey]:
    """A sanctioned entity moves bitcoin through a small (nested) exchange that holds its own accounts at
    larger exchanges. Level 2 adds hops; level 3 a JoinMarket-style CoinJoin before the deposit."""
    c = Scenario("sanctions_evasion", difficulty, seed, size, seed_int)
    rng, btc, w, eco, lv = c.rng, c.btc, c.w, c.eco, c.lv
    sname = str(rng.choice(["Garantex-like Ltd", "Volga Trading House", "Northern Star Procurement"]))
    s_e = w.entity("sanctioned", sname, "sanction", role="perpetrator", tagged=True)
    sanc = BtcWallet(s_e, "p2pkh", reuse=0.9, role="listed")
    nname = str(rng.choice(["QuickSwap Kiosk", "Bitobmen24", "CashCoin Point"]))
    n_e = w.entity("nested_exchange", nname, "exchange", role="service", tagged=False)
    n_deps = BtcWallet(n_e, "p2wpkh", role="deposit")
    n_hot = BtcWallet(n_e, "p2wpkh", reuse=0.9)
    btc.new_address(n_hot)
    hosts = c.pick_exchanges({1: 1, 2: 2, 3: 2}[difficulty])
    c.cluster = ("nested", n_e, "btc")
    n_dep_of: dict[int, int] = {}
    w.facts.update({"entity": sname})

    def nested_deposit(src: BtcWallet, amount: int | None, note: str, *, record: bool) -> int | None:
        a = n_dep_of.get(src.entity)
        if a is None:
            a = n_dep_of[src.entity] = btc.new_address(n_deps)
        if record:
            t, _o, v = c.send(src, n_deps, amount, note, addr=a)
            w.cashout(n_e, "btc", a, v, "BTC", t)
            return t
        t2 = eco._pay_or_topup(src, [(a, amount or 0)], c.fr(), "nested-deposit")
        if t2 is not None:
            btc.credit(n_deps, t2)
        return t2

    def customers() -> Iterator[int]:          # the nested exchange's ordinary business
        for _ in range(30):
            wal = eco.wallets[int(rng.integers(len(eco.wallets)))]
            nested_deposit(wal, int(rng.lognormal(np.log(2_000_000), 0.7)) + 50_000, "nested-deposit",
                           record=False)
            yield int(rng.integers(0, 3))

    def sanctioned_story() -> Iterator[int]:
        a = btc.new_address(sanc)
        w.facts["sanctioned_address"] = Ref("btc-addr", a)
        c.expect.append(lambda: btc_expectation(w, address=a, note="every output paid to the sanctioned address"))
        for _ in range(int(rng.integers(3, 6))):           # customers of the sanctioned entity pay it
            wal = eco.wallets[int(rng.integers(len(eco.wallets)))]
            t = eco._pay_or_topup(wal, [(a, c.noisy(int(rng.choice([50, 80, 120])) * 1_000_000))], c.fr(),
                                  "payment")
            if t is not None:
                btc.credit(sanc, t)
            yield int(rng.integers(1, 3))
        yield c.dormant() + 1
        cur = sanc
        for _ in range(max(lv.hops - 2, 0)):
            nxt = BtcWallet(s_e, "p2wpkh")
            c.send(cur, nxt, None, "hop")
            cur = nxt
            yield c.dormant() + 1
        if difficulty == 3:
            amount = min(cur.balance(btc) * 2 // 3, 3 * COIN)
            ins = btc.select(cur, amount + 200_000)
            res = eco.joinmarket_round(c.fr(), taker=cur, taker_inputs=ins, amount=amount)
            assert res is not None
            t, _mine = res
            w.step("btc", t, s_e, s_e, amount, "BTC", "coinjoin (JoinMarket-style)")
            c.mixed("coinjoin-joinmarket", s_e)
            w.facts.setdefault("coinjoin_txs", []).append(Ref("btc-tx", t))
            yield c.dormant() + 1
        nested_deposit(cur, None, "deposit at nested exchange", record=True)
        state["deposited"] = True

    state = {"deposited": False, "swept": False, "forwarded": False}

    def nested_story() -> Iterator[int]:
        while True:
            yield int(rng.integers(3, 7))
            if n_deps.utxos and sum(btc.out_value[o] for o in n_deps.utxos) > 500_000:
                t = btc.sweep(n_deps, list(n_deps.utxos), btc.receive_address(n_hot), feerate=c.fr(),
                              kind="nested-sweep")
                btc.credit(n_hot, t)
                if state["deposited"] and not state["swept"]:
                    state["swept"] = True
                    w.step("btc", t, n_e, n_e, btc.out_value[btc.tx_outputs[t][0]], "BTC", "nested exchange sweep")
            bal = n_hot.balance(btc)
            carry = state["swept"] and not state["forwarded"]
            if bal > 200_000 and (bal > 2 * COIN or carry):
                ex = hosts[int(rng.integers(len(hosts)))] if not carry else hosts[-1]
                dep = eco.deposit_address(ex, n_e)
                t, _o, v = c.send(n_hot, ex.deposits, None, "nested exchange -> host exchange", addr=dep)
                if carry:
                    state["forwarded"] = True
                    w.cashout(ex.entity, "btc", dep, v, "BTC", t)
            if state["forwarded"] and w.tick > c.n_ticks:
                return

    w.spawn(customers(), c.start)
    w.spawn(sanctioned_story(), c.start + 2)
    w.spawn(nested_story(), c.start)
    return c.run()
