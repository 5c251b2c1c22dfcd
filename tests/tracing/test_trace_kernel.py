"""The compiled kernels against the plain references (the UTXO trace's and the peel follow's): the same
edges, endpoints, totals and limit reports, under random limits, stop masks, partial seeds, wide
transactions and amounts far past 2**53."""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chainsleuth.algorithms.tracing import Policy, TraceLimits, TraceResult, UtxoGraph, trace_utxo
from chainsleuth.algorithms.tracing.peel import PeelChain, follow_peel_chain, follow_peel_chain_reference
from chainsleuth.algorithms.tracing.reference import reference_trace_utxo
from chainsleuth.algorithms.tracing.utxo import _kernel_module
from chainsleuth.errors import InvalidInput, Unsupported

_spec = importlib.util.spec_from_file_location("_tracing_gen_k", Path(__file__).with_name("_tracing_gen.py"))
assert _spec is not None and _spec.loader is not None
_gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_gen)
random_utxo_graph = _gen.random_utxo_graph

POLICIES = ("poison", "haircut", "fifo", "lifo", "tiho")


def _check(g: UtxoGraph, seeds: object, **kw: object) -> TraceResult:
    """Trace with the kernel and with the plain reference; they must agree on everything."""
    r = trace_utxo(g, seeds, **kw)  # type: ignore[arg-type]
    _gen.assert_matches_reference(g, r, reference_trace_utxo(g, seeds, **kw))  # type: ignore[arg-type]
    if kw.get("policy") != "poison":
        assert r.conservation_gap() == 0
    return r


def _sweep_cases(seed: int) -> Iterator[tuple[Any, np.ndarray, dict[str, Any]]]:
    """The random sweep's traces for one seed: a graph, its seed rows, and per direction and policy the
    trace's arguments (random limits including max_edges, stop masks, partial seed amounts)."""
    g = random_utxo_graph(2000 + seed, n_tx=60 + 3 * seed, max_in=3 + seed % 4, max_out=2 + seed % 6)
    rng = np.random.default_rng(seed)
    seeds = rng.choice(g.out_value.size, size=int(rng.integers(1, 5)), replace=False)
    amounts = None if seed % 3 else rng.integers(1, 5_000, seeds.size)
    stop = rng.random(25) < 0.1 if seed % 2 else None
    for direction in ("forward", "backward"):
        for policy in POLICIES:
            lim = TraceLimits(max_hops=int(rng.integers(0, 12)), min_amount=int(rng.integers(0, 40)),
                              max_degree=int(rng.integers(2, 12)), max_edges=int(rng.integers(1, 200)))
            yield g, seeds, {"direction": direction, "policy": policy, "limits": lim, "stop_mask": stop,
                             "seed_amounts": amounts}


@pytest.mark.parametrize("seed", range(30))
def test_trace_kernel_matches_reference_exactly(seed: int) -> None:
    """Same edges and endpoints, same totals, hops and limit reports, under random limits (including
    max_edges), stop masks and partial seed amounts."""
    for g, seeds, kw in _sweep_cases(seed):
        _check(g, seeds, **kw)


def test_the_sweep_reaches_every_limit_report() -> None:
    """The random sweep above is only as strong as what it reaches: each limit report and endpoint kind occurs."""
    kinds: set[int] = set()
    limits: set[str] = set()
    for seed in range(30):
        for g, seeds, kw in _sweep_cases(seed):
            r = trace_utxo(g, seeds, **kw)
            kinds.update(r.ep_kind.tolist())
            limits.update(h["limit"] for h in r.limits_hit)
            assert r.cut_off >= 0
    assert limits == {"max_hops", "max_edges", "max_degree"}
    assert kinds == set(range(7))


@pytest.mark.parametrize("seed", range(6))
def test_trace_kernel_wide_transactions(seed: int) -> None:
    """Batch payouts and consolidations (up to 90 outputs / 60 inputs): the radix-ordered largest-first and
    largest-remainder paths agree with the reference."""
    g = random_utxo_graph(3000 + seed, n_tx=70, max_in=60, max_out=90, n_addr=40)
    seeds = np.random.default_rng(seed).choice(g.out_value.size, size=6, replace=False)
    for direction in ("forward", "backward"):
        for policy in POLICIES:
            _check(g, seeds, direction=direction, policy=policy, limits=TraceLimits(max_hops=20, max_degree=10**6))


def _scaled(g0: UtxoGraph, s: int) -> UtxoGraph:
    return UtxoGraph.build(g0.n_tx, in_tx=g0.in_tx, in_value=g0.in_value * s, in_prev=g0.in_prev,
                           in_addr=g0.in_addr, out_tx=g0.out_tx, out_value=g0.out_value * s, out_addr=g0.out_addr,
                           is_coinbase=g0.is_coinbase)


@pytest.mark.parametrize("scale", [10**8, 10**12, 10**15])
def test_trace_kernel_large_amounts_exact(scale: int) -> None:
    """Haircut products beyond int64 (the float-corrected path) stay exact and conserving."""
    g = _scaled(random_utxo_graph(77, n_tx=120, max_in=4, max_out=5, unresolved=0.0), scale // 10_000)
    seeds = np.arange(0, g.out_value.size, 7)
    for policy in POLICIES:
        for direction in ("forward", "backward"):
            _check(g, seeds, direction=direction, policy=policy, limits=TraceLimits(max_hops=50))


@pytest.mark.parametrize("bits", [56, 58, 62])
def test_trace_kernel_past_2_55_agrees_with_reference(bits: int) -> None:
    """Lines from 2**55 to near 2**63 (the 128-bit multiply-divide): exact, as Python integers are."""
    g0 = random_utxo_graph(78, n_tx=100, max_in=4, max_out=5, unresolved=0.0)
    g = _scaled(g0, 2**bits // int(g0.line.max()))
    assert int(g.line.max()) >= 2**55
    seeds = np.arange(0, g.out_value.size, 14)
    for policy in POLICIES:
        for direction in ("forward", "backward"):
            _check(g, seeds, direction=direction, policy=policy, limits=TraceLimits(max_hops=50))


def test_seeds_whose_total_passes_int64_are_refused() -> None:
    """A trace keeps its totals in int64: seeds carrying more than 2**63 - 1 in all get a clear error instead
    of a source amount that wrapped around (every seventh output of a graph scaled to 2**62 carries 1.1 * 2**63)."""
    g0 = random_utxo_graph(78, n_tx=100, max_in=4, max_out=5, unresolved=0.0)
    g = _scaled(g0, 2**62 // int(g0.line.max()))
    seeds = np.arange(0, g.out_value.size, 7)
    assert sum(g.out_value[seeds].tolist()) > 2**63
    with pytest.raises(InvalidInput, match="64-bit integers") as e:
        trace_utxo(g, seeds)
    assert e.value.exit_code == 2


def test_a_policy_mode_the_kernel_does_not_know_is_refused() -> None:
    g = random_utxo_graph(5, n_tx=20)
    with pytest.raises(Unsupported, match="placement mode 'random'"):
        trace_utxo(g, [0], policy=Policy("dice", "random", "taint lands where a die says"))


def test_muldiv_matches_python_integers() -> None:
    k = _kernel_module()
    rng = random.Random(5)
    for bits in (10, 31, 40, 53, 56, 62, 63):
        for _ in range(300):
            c = rng.randrange(1, 2**bits)
            a, b = rng.randrange(0, c + 1), rng.randrange(0, c + 1)
            assert k._muldiv(a, b, c) == divmod(a * b, c), (a, b, c)


def _top_up_by_sort(rem: list[int], short: int) -> list[int]:
    """The rule written plainly: a unit to each of the first ``short`` positions in descending remainder order,
    ties to the earlier position, if its remainder is positive."""
    got = [0] * len(rem)
    for j in sorted(range(len(rem)), key=lambda j: (-rem[j], j))[:short]:
        if rem[j] > 0:
            got[j] = 1
    return got


@pytest.mark.parametrize("seed", range(12))
def test_top_up_selection_matches_sorting(seed: int) -> None:
    """The wide-transaction top-up selects the threshold remainder instead of sorting; it gives the same units
    to the same positions, also when many remainders tie (few distinct values) and through the sorting fallback
    it keeps for adversarial orders."""
    k = _kernel_module()
    rng = np.random.default_rng(seed)
    for _ in range(40):
        nd = int(rng.integers(9, 3000))
        distinct = int(rng.choice([2, 5, 50, 10**9]))
        rem = rng.integers(0, distinct, nd).astype(np.int64)
        rem[rng.random(nd) < 0.2] = 0
        short = int(rng.integers(1, nd))
        want = _top_up_by_sort(rem.tolist(), short)
        taint = np.zeros(nd, dtype=np.int64)
        k._top_up(rem, nd, short, taint, np.empty(nd, dtype=np.int64), np.empty(nd, dtype=np.int64))
        assert taint.tolist() == want
        x = rem.copy()
        thr, above = k._kth_largest(x, nd, short)
        assert thr == sorted(rem.tolist(), reverse=True)[short - 1]
        assert above == int((rem > thr).sum())


def test_trace_kernel_batch_payout_with_equal_outputs() -> None:
    """A batch payout of 600 equal outputs and a few odd ones, reached by a little taint: the largest-remainder
    top-up has hundreds of units to place among tied remainders. Kernel and the plain reference agree, earliest
    tied outputs first."""
    vals = [10_000] * 600 + [7_777, 123_457, 31]
    total = sum(vals) + 1_000
    g = UtxoGraph.build(2, in_tx=[0, 1, 1], in_value=[0, 1_500, total - 1_500], in_prev=[-1, 0, -1],
                        in_addr=[-1, 5, -1], out_tx=[0] + [1] * len(vals), out_value=[1_500, *vals],
                        out_addr=[5, *range(6, 6 + len(vals))])
    for policy in ("haircut", "poison", "fifo", "tiho"):
        kw = {"policy": policy, "limits": TraceLimits(max_hops=3, max_degree=10**6)}
        a = _check(g, [0], **kw)
        if policy == "haircut":
            # 1,500 of a line of 6,132,265. Floors: 2 on each 10,000 output (2.446), 1 on the 7,777 (1.902), 30
            # on the 123,457 (30.199), 0 on the 31 and on the fee (0.245): 1,231, so 269 units are left. The
            # largest remainder is the 7,777's (.902); then the 600 tied .446 ones, earliest first: 268 of them.
            amounts = dict(zip(a.e_to.tolist(), a.e_amount.tolist(), strict=True))
            assert [amounts.get(r, 0) for r in range(1, 601)] == [3] * 268 + [2] * 332
            assert [amounts[r] for r in (601, 602)] == [2, 30] and 603 not in amounts
            assert a.fees == 0 and a.conservation_gap() == 0


def _peel_graph(seed: int) -> tuple[UtxoGraph, int]:
    """A peel chain with random decoys: reused change addresses, round peels, branches, early ends."""
    rng = random.Random(seed)
    in_tx, in_value, in_prev, in_addr, out_tx, out_value, out_addr, cb = [], [], [], [], [], [], [], []
    in_tx.append(0)
    in_value.append(0)
    in_prev.append(-1)
    in_addr.append(-1)
    out_tx.append(0)
    out_value.append(10**10)
    out_addr.append(1)
    cb.append(True)
    row, addr, tx = 0, 1, 1
    for _ in range(rng.randint(1, 40)):
        v = out_value[row]
        n_in = 1 if rng.random() < 0.9 else 2
        rows_in = [row] + ([0] if n_in == 2 and row != 0 else [])
        for r in rows_in:
            in_tx.append(tx)
            in_value.append(out_value[r])
            in_prev.append(r)
            in_addr.append(out_addr[r])
        pay = rng.choice([rng.randint(1, max(1, v // 3)), (v // 3 // 100_000) * 100_000 or 1])
        change = max(v - pay - rng.randint(0, 500), 1)
        n_out = 2 if rng.random() < 0.93 else 3
        vals = [pay, change] + ([1] if n_out == 3 else [])
        if rng.random() < 0.5:
            vals[0], vals[1] = vals[1], vals[0]
        ch_addr = addr if rng.random() < 0.2 else rng.randint(2, 10**6)
        for v_ in vals:
            out_tx.append(tx)
            out_value.append(v_)
            out_addr.append(ch_addr if v_ == change else rng.randint(2, 10**6))
        cb.append(False)
        row = len(out_value) - n_out + vals.index(change)
        addr = ch_addr
        tx += 1
    g = UtxoGraph.build(tx, in_tx=in_tx, in_value=in_value, in_prev=in_prev, in_addr=in_addr, out_tx=out_tx,
                        out_value=out_value, out_addr=out_addr, is_coinbase=cb)
    return g, 0


@pytest.mark.parametrize("seed", range(40))
def test_peel_kernel_matches_reference(seed: int) -> None:
    g, start = _peel_graph(seed)
    for max_hops in (0, 1, 5, 100):
        for max_inputs in (1, 2):
            steps, why = follow_peel_chain(g, start, max_hops=max_hops, max_inputs=max_inputs)
            ref, ref_why = follow_peel_chain_reference(g, start, max_hops=max_hops, max_inputs=max_inputs)
            assert isinstance(steps, PeelChain)
            assert why == ref_why
            assert steps == ref and len(steps) == len(ref)
            assert [s.evidence.to_dict() for s in steps] == [s.evidence.to_dict() for s in ref]
            if ref:
                assert steps[-1] == ref[-1] and steps[:2] == ref[:2]


@pytest.fixture(scope="module")
def big_graph() -> UtxoGraph:
    return random_utxo_graph(4242, n_tx=40_000, max_in=3, max_out=8, n_addr=400)


@pytest.mark.parametrize("policy", POLICIES)
def test_trace_kernel_large_trace_grows_its_buffers(policy: str, big_graph: UtxoGraph) -> None:
    """Traces reaching thousands of transactions. The poison one writes more edges than the kernel's first edge
    buffer (16,384) and every forward one reaches more transactions than its first slot table holds (2,048 at
    load 1/2), so the per-hop regrowth and the rehash run; results still equal the reference's."""
    g = big_graph
    last = g.out_value.size
    for direction, sd in (("forward", np.arange(300)), ("backward", np.arange(last - 300, last))):
        a = _check(g, sd, direction=direction, policy=policy, limits=TraceLimits(max_hops=200, max_degree=10**6))
        if direction == "forward":
            assert np.unique(a.e_tx).size > 2_048
            if policy == "poison":
                assert a.e_tx.size > 16_384
