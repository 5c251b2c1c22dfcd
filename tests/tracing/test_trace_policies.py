"""Hand-computed traces, one per policy, with the arithmetic in the comments (UTXO and account data)."""

from __future__ import annotations

import numpy as np
import pytest

from chainsleuth.algorithms.tracing import ENDPOINT_KINDS, TraceLimits, trace_account, trace_utxo
from chainsleuth.algorithms.tracing.account import AccountGraph, balance_seed_backward
from chainsleuth.algorithms.tracing.utxo import UtxoGraph
from chainsleuth.errors import InvalidInput, Unsupported

# ---------------------------------------------------------------------------------------------------------
# UTXO world
#   tx0 coinbase -> o0 = 100 to S (addr 0)              (the tainted source)
#   tx1 coinbase -> o1 =  50 to X (addr 1)              (clean money)
#   tx2 spends [o0, o1] (in that order) -> o2 = 60 to P (addr 2), o3 = 80 to Q (addr 3); fee 150 - 140 = 10
#   tx3 spends [o3] -> o4 = 30 to R (addr 4), o5 = 45 to T (addr 5); fee 80 - 75 = 5
# ---------------------------------------------------------------------------------------------------------


def _utxo() -> UtxoGraph:
    return UtxoGraph.build(
        4,
        in_tx=[0, 1, 2, 2, 3], in_value=[0, 0, 100, 50, 80], in_prev=[-1, -1, 0, 1, 3], in_addr=[-1, -1, 0, 1, 3],
        out_tx=[0, 1, 2, 2, 3, 3], out_value=[100, 50, 60, 80, 30, 45], out_addr=[0, 1, 2, 3, 4, 5],
        is_coinbase=[True, True, False, False],
    )


def _taint_of(r, row: int) -> int:
    """Total taint an output row received (forward edges)."""
    return int(r.e_amount[r.e_to == row].sum())


def _ep(r) -> dict[tuple[int, str], int]:
    out: dict[tuple[int, str], int] = {}
    for item, kind, amt in zip(r.ep_item.tolist(), r.ep_kind.tolist(), r.ep_amount.tolist(), strict=True):
        out[(item, ENDPOINT_KINDS[kind])] = out.get((item, ENDPOINT_KINDS[kind]), 0) + int(amt)
    return out


def test_utxo_haircut_largest_remainder():
    r = trace_utxo(_utxo(), [0], policy="haircut")
    # tx2: T = 100 tainted of V = 150.  o2: 100*60/150 = 40 exactly.
    # o3: 100*80/150 = 53.33 -> floor 53, remainder 8000 mod 150 = 50
    # fee: 100*10/150 = 6.67 -> floor 6, remainder 1000 mod 150 = 100
    # floors sum to 99; the 1 left goes to the largest remainder (the fee, 100 > 50): fee 7
    assert _taint_of(r, 2) == 40 and _taint_of(r, 3) == 53
    # tx3: T = 53 of V = 80. o4: 53*30/80 = 19.875 -> 19 r 70; o5: 53*45/80 = 29.8125 -> 29 r 65;
    # fee: 53*5/80 = 3.3125 -> 3 r 25; floors 51, 2 left -> o4 (70) and o5 (65): 20 and 30
    assert _taint_of(r, 4) == 20 and _taint_of(r, 5) == 30
    assert r.fees == 7 + 3
    assert _ep(r) == {(2, "unspent"): 40, (4, "unspent"): 20, (5, "unspent"): 30}
    assert r.conservation_gap() == 0          # 40 + 20 + 30 + 10 fees = 100


def test_utxo_fifo_taint_first_and_fee_tail():
    r = trace_utxo(_utxo(), [0], policy="fifo")
    # tx2 input line: o0 [0,100) tainted, o1 [100,150) clean; outputs o2 [0,60), o3 [60,140), fee [140,150)
    # o2 = 60, o3 = |[60,100)| = 40, fee 0
    assert _taint_of(r, 2) == 60 and _taint_of(r, 3) == 40
    # tx3: o3 (80, 40 tainted, taint first) -> line taint [0,40); o4 [0,30) -> 30, o5 [30,75) -> 10, fee [75,80) 0
    assert _taint_of(r, 4) == 30 and _taint_of(r, 5) == 10
    assert r.fees == 0 and r.conservation_gap() == 0


def test_utxo_lifo_mirrors_fifo():
    r = trace_utxo(_utxo(), [0], policy="lifo")
    # inputs in reverse order: o1 [0,50) clean, o0 [50,150) tainted; o2 [0,60) -> 10, o3 [60,140) -> 80,
    # fee [140,150) -> 10
    assert _taint_of(r, 2) == 10 and _taint_of(r, 3) == 80
    # tx3: one input, o3 fully tainted (80): o4 30, o5 45, fee 5
    assert _taint_of(r, 4) == 30 and _taint_of(r, 5) == 45
    assert r.fees == 10 + 5 and r.conservation_gap() == 0


def test_utxo_tiho_fills_largest_outputs_first():
    r = trace_utxo(_utxo(), [0], policy="tiho")
    # T = 100: largest output o3 (80) first -> 80, then o2 (60) -> 20, fee 0
    assert _taint_of(r, 3) == 80 and _taint_of(r, 2) == 20
    # tx3: T = 80 -> o5 (45) first -> 45, o4 (30) -> 30, fee -> 5
    assert _taint_of(r, 5) == 45 and _taint_of(r, 4) == 30 and r.fees == 5
    assert r.conservation_gap() == 0


def test_utxo_poison_taints_everything_and_does_not_conserve():
    r = trace_utxo(_utxo(), [0], policy="poison")
    # every output downstream of a tainted input is tainted in full: 60 + 30 + 45, fees 10 + 5
    assert _ep(r) == {(2, "unspent"): 60, (4, "unspent"): 30, (5, "unspent"): 45}
    assert r.fees == 15
    assert r.conservation_gap() == 100 - (135 + 15)


def test_utxo_backward_fifo_and_haircut():
    g = _utxo()
    r = trace_utxo(g, [3], direction="backward", policy="fifo")
    # o3 = [60,140) on tx2's line; inputs o0 [0,100) -> 40, o1 [100,150) -> 40; both from coinbases
    assert _ep(r) == {(-1, "coinbase"): 80}
    assert sorted(zip(r.e_from.tolist(), r.e_amount.tolist(), strict=True)) == [(2, 40), (3, 40)]
    r = trace_utxo(g, [3], direction="backward", policy="haircut")
    # U = 80 over inputs 100 and 50 (V = 150): 53.33 -> 53 (r 50), 26.67 -> 26 (r 100): +1 to o1 -> 27
    assert sorted(zip(r.e_from.tolist(), r.e_amount.tolist(), strict=True)) == [(2, 53), (3, 27)]
    assert r.conservation_gap() == 0


def test_utxo_stop_at_hop_limit_min_amount_and_paging():
    g = _utxo()
    stop = np.zeros(6, dtype=bool)
    stop[3] = True                                  # Q is an exchange
    r = trace_utxo(g, [0], policy="fifo", stop_mask=stop)
    assert _ep(r) == {(2, "unspent"): 60, (3, "service"): 40}
    r = trace_utxo(g, [0], policy="fifo", limits=TraceLimits(max_hops=1))
    assert _ep(r) == {(2, "unspent"): 60, (3, "hop_limit"): 40}
    assert r.limits_hit[0]["limit"] == "max_hops"
    r = trace_utxo(g, [0], policy="fifo", limits=TraceLimits(min_amount=15))
    # o5 gets 10 < 15: cut off; o4 30 stays
    assert r.cut_off == 10 and _ep(r) == {(2, "unspent"): 60, (4, "unspent"): 30}
    assert r.conservation_gap() == 0
    r = trace_utxo(g, [0], policy="fifo", limits=TraceLimits(max_degree=2))
    # tx2 has 2 inputs + 2 outputs = 4 > 2: paged, not expanded; the limit is reported
    assert _ep(r) == {(0, "paged"): 100}
    assert r.limits_hit[0]["limit"] == "max_degree" and r.limits_hit[0]["degrees"] == {2: 4}


def test_unknown_policy_lists_the_valid_ones():
    with pytest.raises(InvalidInput, match="choose one of: fifo, haircut, lifo, poison, tiho"):
        trace_utxo(_utxo(), [0], policy="fofi")


# ---------------------------------------------------------------------------------------------------------
# Account world (one asset): A = 0, B = 1, C = 2, X = 3
#   r0: nobody -> A 100   (clean funding before the source)
#   r1: X -> A 50         (the tainted source transfer)
#   r2: A -> B 60
#   r3: A -> C 90
# ---------------------------------------------------------------------------------------------------------
def _acct() -> AccountGraph:
    return AccountGraph.build(4, ev_from=[-1, 3, 0, 0], ev_to=[0, 0, 1, 2], ev_value=[100, 50, 60, 90],
                              ev_tx=[0, 1, 2, 3])


def test_account_forward_per_policy():
    g = _acct()
    # haircut: before r2 A holds 150 of which 50 tainted; r2 carries 60*50/150 = 20 -> A keeps 30 of 90;
    # r3 empties A and carries all 30
    r = trace_account(g, [(1, 50)], policy="haircut")
    assert _ep(r) == {(1, "unspent"): 20, (2, "unspent"): 30} and r.conservation_gap() == 0
    # fifo: lots [100 clean][50 tainted]; r2 spends 60 of the oldest (clean); r3 spends 40 clean + 50 tainted
    r = trace_account(g, [(1, 50)], policy="fifo")
    assert _ep(r) == {(2, "unspent"): 50} and r.conservation_gap() == 0
    # lifo: r2 spends the newest lot first: the 50 tainted, then 10 clean; r3 gets only clean units
    r = trace_account(g, [(1, 50)], policy="lifo")
    assert _ep(r) == {(1, "unspent"): 50} and r.conservation_gap() == 0
    # poison: A is tainted in full from r1 on: r2 carries 60 and r3 90
    r = trace_account(g, [(1, 50)], policy="poison")
    assert _ep(r) == {(1, "unspent"): 60, (2, "unspent"): 90}


def test_account_backward_per_policy():
    g = _acct()
    # explain r3 (A -> C, 90). fifo: r2 took 60 of r0's 100 -> lots r0 40, r1 50 -> r0 40 (coin from nobody,
    # i.e. created) and r1 50, whose sender X has no history: unknown origin
    r = trace_account(g, [(3, 90)], direction="backward", policy="fifo")
    assert _ep(r) == {(-1, "coinbase"): 40, (3, "unknown_origin"): 50} and r.conservation_gap() == 0
    # haircut: r2 took 60/150 of each lot -> r0 60, r1 30; r3 takes 90 of 90: r0 60, r1 30
    r = trace_account(g, [(3, 90)], direction="backward", policy="haircut")
    assert _ep(r) == {(-1, "coinbase"): 60, (3, "unknown_origin"): 30}
    # lifo: r2 took r1's 50 then 10 of r0 -> r0 90 left; r3 = 90 of r0
    r = trace_account(g, [(3, 90)], direction="backward", policy="lifo")
    assert _ep(r) == {(-1, "coinbase"): 90}


def test_account_balance_backward_and_tiho_unsupported():
    g = _acct()
    # B's balance (60) under fifo came from r2 = A's oldest units = r0
    r = balance_seed_backward(g, 1, "fifo")
    assert _ep(r) == {(-1, "coinbase"): 60}
    with pytest.raises(Unsupported, match="UTXO transactions only"):
        trace_account(g, [(1, 50)], policy="tiho")


def test_account_stop_and_paging():
    g = _acct()
    stop = np.array([False, True, False, False])      # B is a mixer
    r = trace_account(g, [(1, 50)], policy="haircut", stop_mask=stop)
    assert _ep(r) == {(1, "service"): 20, (2, "unspent"): 30}
    r = trace_account(g, [(1, 50)], policy="haircut", limits=TraceLimits(max_degree=2))
    # A has 4 transfers > 2: paged where the source lands
    assert _ep(r) == {(0, "paged"): 50} and r.limits_hit[0]["limit"] == "max_degree"
