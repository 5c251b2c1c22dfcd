"""A small seeded Bitcoin world with ground truth, written as real blocks by the seeded block writer.

Entities pay each other (1-3 inputs of the payer, a payment and a change output to a fresh address of the
payer), and now and then join a Whirlpool-shaped or JoinMarket-shaped CoinJoin. The truth: the owner of
every address and the txids of the CoinJoins by type.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chainsleuth.core.btc.builder import BlockBuilder, TxSpec
from chainsleuth.training.output import write_files


@dataclass
class ClustWorld:
    blocks: list[Path]
    owner: dict[str, int]
    coinjoins: dict[str, str] = field(default_factory=dict)   # txid -> type
    txids: list[str] = field(default_factory=list)


def build_clust_world(directory: Path, *, seed: int, n_entities: int = 8, rounds: int = 12,
                      coinjoin_every: int = 4) -> ClustWorld:
    rng = random.Random(seed)
    bb = BlockBuilder("btc-regtest", seed=seed)
    keys = bb.keys
    owner: dict[str, int] = {}
    kinds = {e: rng.choice(["p2pkh", "p2wpkh"]) for e in range(n_entities)}
    counter = [0]

    def fresh(e: int) -> str:
        counter[0] += 1
        a = keys.address(counter[0], kinds[e])
        owner[a] = e
        return a

    coins: dict[int, list[tuple[str, int, int]]] = {e: [] for e in range(n_entities)}
    out = ClustWorld([], owner)

    def track(txid: str, outputs: list[tuple[str, int]]) -> None:
        for n, (a, v) in enumerate(outputs):
            coins[owner[a]].append((txid, n, v))

    for e in range(n_entities):                      # fund everyone with a few coinbases
        for _ in range(2):
            a = fresh(e)
            b = bb.add_block([], coinbase_to=a)
            coins[e].append((b.txids[0], 0, bb.subsidy(b.height)))
    for r in range(rounds):
        specs: list[tuple[TxSpec, list[tuple[str, int]], str | None]] = []
        busy: set[int] = set()
        if r % coinjoin_every == coinjoin_every - 1:
            kind = "whirlpool" if (r // coinjoin_every) % 2 == 0 else "joinmarket"
            parts = rng.sample(range(n_entities), 5 if kind == "whirlpool" else 3)
            ins, outs = [], []
            denom = 1_000_000 if kind == "whirlpool" else 7_654_321
            for e in parts:
                coins[e].sort(key=lambda c: c[2])
                txid, n, v = coins[e].pop()
                ins.append((txid, n))
                outs.append((fresh(e), denom))
                if kind == "joinmarket":
                    outs.append((fresh(e), v - denom - 1_000))
                busy.add(e)
            rng.shuffle(outs)
            specs.append((TxSpec(inputs=ins, outputs=outs), outs, kind))
        for e in range(n_entities):
            if e in busy or not coins[e] or rng.random() < 0.3:
                continue
            k = min(len(coins[e]), rng.randint(1, 3))
            rng.shuffle(coins[e])
            spend = [coins[e].pop() for _ in range(k)]
            total = sum(v for _, _, v in spend)
            f = rng.choice([x for x in range(n_entities) if x != e])
            pay = min(total // 3, rng.randint(1, 50) * 1_000_000)
            outs = [(fresh(f), pay), (fresh(e), total - pay - 2_000)]
            rng.shuffle(outs)
            specs.append((TxSpec(inputs=[(t, n) for t, n, _ in spend], outputs=outs), outs, None))
        block = bb.add_block([s for s, _, _ in specs], coinbase_to=fresh(rng.randrange(n_entities)))
        coins_cb_owner = owner[list(owner)[-1]]
        coins[coins_cb_owner].append((block.txids[0], 0, bb.subsidy(block.height)))
        for (_spec, outs, kind), txid in zip(specs, block.txids[1:], strict=True):
            track(txid, outs)
            if kind:
                out.coinjoins[txid] = kind
        out.txids += list(block.txids)
    out.blocks = write_files(directory, bb.raw_files())
    return out


@pytest.fixture
def clust_world(tmp_path: Path) -> ClustWorld:
    return build_clust_world(tmp_path / "blocks", seed=7)
