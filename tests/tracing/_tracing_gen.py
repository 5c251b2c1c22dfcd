"""Seeded random UTXO and account graphs for the tracing tests (not a test module)."""

from __future__ import annotations

import random

from chainsleuth.algorithms.tracing.utxo import UtxoGraph

__all__ = ["random_utxo_graph"]


def random_utxo_graph(seed: int, n_tx: int = 60, n_addr: int = 25, n_coinbase: int = 6,
                      max_in: int = 4, max_out: int = 4, unresolved: float = 0.05) -> UtxoGraph:
    rng = random.Random(seed)
    in_tx, in_value, in_prev, in_addr = [], [], [], []
    out_tx, out_value, out_addr = [], [], []
    unspent: list[int] = []
    cb = []
    for tx in range(n_tx):
        ins = []
        if tx >= n_coinbase and unspent:
            for _ in range(rng.randint(1, max_in)):
                if not unspent:
                    break
                ins.append(unspent.pop(rng.randrange(len(unspent))))
        if not ins:
            cb.append(True)
            in_tx.append(tx)
            in_value.append(0)
            in_prev.append(-1)
            in_addr.append(-1)
            total = rng.randint(1, 10_000)
        else:
            cb.append(False)
            total = 0
            for o in ins:
                in_tx.append(tx)
                if rng.random() < unresolved:      # prevout outside the workspace
                    in_value.append(0)
                    in_prev.append(-1)
                    in_addr.append(-1)
                    total += rng.randint(0, 500)
                else:
                    in_value.append(out_value[o])
                    in_prev.append(o)
                    in_addr.append(out_addr[o])
                    total += out_value[o]
            total -= rng.randint(0, min(total, 50))
        n_out = rng.randint(1, max_out)
        cuts = sorted(rng.randint(0, total) for _ in range(n_out - 1))
        vals = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
        for v in vals:
            out_tx.append(tx)
            out_value.append(v)
            out_addr.append(rng.randrange(n_addr) if rng.random() > 0.05 else -1)
            unspent.append(len(out_value) - 1)
    return UtxoGraph.build(n_tx, in_tx=in_tx, in_value=in_value, in_prev=in_prev, in_addr=in_addr, out_tx=out_tx,
                           out_value=out_value, out_addr=out_addr, is_coinbase=cb)
