"""Background statistics of a generated world, computed from the written chain's ledger view."""

from __future__ import annotations

from collections import Counter

import numpy as np

from chainsleuth.training.ledger_btc import VBYTES_IN, VBYTES_OUT, VBYTES_TX


def background_stats(world) -> dict[str, float]:
    btc = world.btc
    kinds = btc.tx_kind
    idx = [t for t in range(btc.n_txs) if kinds[t] not in ("coinbase", "opening", "opening-split")]
    n_in = np.array([len(btc.tx_inputs[t]) for t in idx])
    n_out = np.array([len(btc.tx_outputs[t]) for t in idx])
    seen: set[int] = set()
    reused = created = 0
    for t in range(btc.n_txs):
        for o in btc.tx_outputs[t]:
            a = btc.out_addr[o]
            created += 1
            if a in seen:
                reused += 1
            seen.add(a)
    change = 0
    for t in idx:
        payers = {btc.addr_wallet[btc.out_addr[o]] for o in btc.tx_inputs[t]}
        if len(btc.tx_outputs[t]) >= 2 and any(btc.addr_wallet[btc.out_addr[o]] in payers for o in btc.tx_outputs[t]):
            change += 1
    rates = []
    for t in idx:
        fee = btc.tx_in_value(t) - btc.tx_out_value(t)
        vs = VBYTES_TX + sum(VBYTES_IN[btc.addr_type[btc.out_addr[o]]] for o in btc.tx_inputs[t]) + \
            sum(VBYTES_OUT[btc.addr_type[btc.out_addr[o]]] for o in btc.tx_outputs[t])
        rates.append(fee / vs)
    types = Counter(btc.addr_type[btc.out_addr[o]] for t in idx for o in btc.tx_outputs[t])
    tot = sum(types.values())
    return {
        "txs": len(idx), "mean_inputs": float(n_in.mean()), "mean_outputs": float(n_out.mean()),
        "share_1in_2out": float(np.mean((n_in == 1) & (n_out == 2))),
        "share_1in": float(np.mean(n_in == 1)), "share_2out": float(np.mean(n_out == 2)),
        "address_reuse": reused / created, "change_share": change / len(idx),
        "feerate_median": float(np.median(rates)), "feerate_p90": float(np.percentile(rates, 90)),
        **{f"script_{k}": v / tot for k, v in sorted(types.items())},
    }
