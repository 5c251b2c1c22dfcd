"""Seeded sweeps: value conservation, and agreement of the compiled trace with the plain reference."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from chainsleuth.algorithms.tracing import ENDPOINT_KINDS, TraceLimits, trace_account, trace_utxo
from chainsleuth.algorithms.tracing.reference import reference_trace_utxo

_spec = importlib.util.spec_from_file_location("_tracing_gen", Path(__file__).with_name("_tracing_gen.py"))
assert _spec is not None and _spec.loader is not None
_gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_gen)
random_account_graph, random_utxo_graph = _gen.random_account_graph, _gen.random_utxo_graph
simulate_account_forward = _gen.simulate_account_forward
assert_matches_reference = _gen.assert_matches_reference

POLICIES = ("poison", "haircut", "fifo", "lifo", "tiho")


@pytest.mark.parametrize("seed", range(40))
def test_utxo_trace_agrees_with_reference(seed: int):
    g = random_utxo_graph(seed, n_tx=50 + seed)
    rng = np.random.default_rng(seed)
    seeds = rng.choice(g.out_value.size, size=int(rng.integers(1, 4)), replace=False)
    amounts = rng.integers(0, 3_000, seeds.size) if seed % 4 == 1 else None
    stop = rng.random(25) < 0.1
    for direction in ("forward", "backward"):
        for policy in POLICIES:
            lim = TraceLimits(max_hops=int(rng.integers(1, 9)), min_amount=int(rng.integers(0, 30)),
                              max_degree=int(rng.integers(3, 10)), max_edges=int(rng.integers(5, 400)))
            r = trace_utxo(g, seeds, direction=direction, policy=policy, limits=lim, stop_mask=stop,
                           seed_amounts=amounts)
            ref = reference_trace_utxo(g, seeds, direction=direction, policy=policy, limits=lim, stop_mask=stop,
                                       seed_amounts=amounts)
            assert_matches_reference(g, r, ref)
            if policy != "poison":
                # endpoints + fees + cut-off == source, exactly, in integers
                assert r.conservation_gap() == 0, (direction, policy)


@pytest.mark.parametrize("seed", range(8))
def test_utxo_conservation_on_larger_graphs_without_limits(seed: int):
    g = random_utxo_graph(1000 + seed, n_tx=3000, n_addr=400, max_in=5, max_out=5)
    seeds = np.random.default_rng(seed).choice(g.out_value.size, size=5, replace=False)
    for policy in ("haircut", "fifo", "lifo", "tiho"):
        for direction in ("forward", "backward"):
            r = trace_utxo(g, seeds, direction=direction, policy=policy, limits=TraceLimits(max_hops=10_000))
            assert r.conservation_gap() == 0
            # no output ever carries more taint than its value
            to = r.e_to if direction == "forward" else r.e_from
            got = np.bincount(to, weights=r.e_amount.astype(float), minlength=max(g.out_value.size, g.in_value.size))
            vals = g.out_value if direction == "forward" else g.in_value
            assert (got[: vals.size] <= vals + 1e-6).all()


@pytest.mark.parametrize("seed", range(30))
def test_account_forward_agrees_with_full_simulation(seed: int):
    g, ev = random_account_graph(seed)
    sources = [i for i, e in enumerate(ev) if e[1] >= 0 and not e[3]]
    row = sources[seed % len(sources)]
    for policy in ("haircut", "fifo", "lifo"):
        r = trace_account(g, [(row, ev[row][2])], policy=policy, limits=TraceLimits(max_hops=10_000))
        want, fees = simulate_account_forward(ev, row, policy, g.n_addr)
        got: dict[int, int] = {}
        for a, k, amt in zip(r.ep_item.tolist(), r.ep_kind.tolist(), r.ep_amount.tolist(), strict=True):
            assert ENDPOINT_KINDS[k] == "unspent"
            got[a] = got.get(a, 0) + amt
        assert got == want, policy
        assert r.fees == fees and r.conservation_gap() == 0


@pytest.mark.parametrize("seed", range(30))
def test_account_conservation_with_limits_both_directions(seed: int):
    g, ev = random_account_graph(100 + seed, n_ev=120)
    rng = np.random.default_rng(seed)
    outs = [i for i, e in enumerate(ev) if e[0] >= 0]
    ins = [i for i, e in enumerate(ev) if e[1] >= 0]
    stop = rng.random(g.n_addr) < 0.15
    for policy in ("haircut", "fifo", "lifo"):
        lim = TraceLimits(max_hops=int(rng.integers(1, 7)), min_amount=int(rng.integers(0, 10**18)),
                          max_degree=int(rng.integers(10, 40)))
        r = trace_account(g, [(ins[seed % len(ins)], 10**30)], policy=policy, limits=lim, stop_mask=stop)
        assert r.conservation_gap() == 0, policy
        r = trace_account(g, [(outs[seed % len(outs)], 10**30)], direction="backward", policy=policy, limits=lim,
                          stop_mask=stop)
        assert r.conservation_gap() == 0, policy
