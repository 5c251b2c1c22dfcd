"""CoinJoin detectors on constructed transactions of each type, and on look-alikes that are not CoinJoins."""

from __future__ import annotations

import numpy as np
import pytest

from chainsleuth.algorithms.patterns.coinjoin import (
    COINJOIN_TYPES,
    WASABI1_BASE_DENOMINATION_SAT,
    WASABI2_FIRST_BLOCK,
    WHIRLPOOL_POOLS_SAT,
    detect_coinjoins,
    wasabi2_denominations,
)
from chainsleuth.algorithms.txarrays import TxArrays

SEQ = 0xFFFFFFFF


def _tx(ins: list[tuple[int, int, str]], outs: list[tuple[int, int, str]], *, height: int = 800_000,
        coinbase: bool = False) -> TxArrays:
    """One transaction: inputs (address, value, script type), outputs (address, value, script type)."""
    return TxArrays.from_rows(
        txs=[(0, height, 2, 0, coinbase)],
        inputs=[(0, a, v, SEQ, st) for a, v, st in ins],
        outputs=[(0, n, a, v, st, -1) for n, (a, v, st) in enumerate(outs)])


def _kind(t: TxArrays, chain: str = "btc") -> str | None:
    return detect_coinjoins(t, chain=chain).type_of(0)


def test_clust_whirlpool() -> None:
    for pool in WHIRLPOOL_POOLS_SAT:
        t = _tx([(i, pool + 5_000, "p2wpkh") for i in range(5)], [(10 + i, pool, "p2wpkh") for i in range(5)])
        assert _kind(t) == "whirlpool"
    # same shape, not a pool denomination
    t = _tx([(i, 3_005_000, "p2wpkh") for i in range(5)], [(10 + i, 3_000_000, "p2wpkh") for i in range(5)])
    assert _kind(t) != "whirlpool"


def test_clust_wasabi1() -> None:
    d = WASABI1_BASE_DENOMINATION_SAT + 123_456
    ins = [(i, d + 2_000_000 + i, "p2wpkh") for i in range(40)]
    outs = [(100 + i, d, "p2wpkh") for i in range(30)] + [(200 + i, 1_000_000 + i, "p2wpkh") for i in range(25)]
    assert _kind(_tx(ins, outs)) == "wasabi1"
    # an exchange paying 30 customers 0.1 BTC from 2 of its own addresses is not a CoinJoin
    payout = _tx([(1, 5 * 10**8, "p2wpkh"), (2, 5 * 10**8, "p2wpkh")], outs)
    assert _kind(payout) != "wasabi1"


def _wasabi2(n_in: int = 60) -> tuple[list, list]:
    den = wasabi2_denominations()
    den = den[(den > 100_000) & (den < 50_000_000)]
    rng = np.random.default_rng(0)
    in_vals = sorted(rng.integers(200_000, 80_000_000, n_in).tolist(), reverse=True)
    out_vals = sorted([*rng.choice(den, 70).tolist(), 123457], reverse=True)
    ins = [(i, v, "p2wpkh" if i % 3 else "p2tr") for i, v in enumerate(in_vals)]
    outs = [(500 + i, v, "p2wpkh") for i, v in enumerate(out_vals)]
    return ins, outs


def test_clust_wasabi2() -> None:
    ins, outs = _wasabi2()
    assert _kind(_tx(ins, outs)) == "wasabi2"
    assert _kind(_tx(ins, outs, height=WASABI2_FIRST_BLOCK - 1), chain="btc-regtest") == "wasabi2"
    # small round (20 inputs, some legacy): caught by the relaxed rule
    small_ins = [(i, v, "p2pkh" if i % 4 == 0 else "p2wpkh") for i, v, _ in ins[:20]]
    assert _kind(_tx(small_ins, outs)) == "wasabi2"
    # unsorted outputs, a legacy output, too few outputs, or one input address: not Wasabi 2.0
    assert _kind(_tx(ins, outs[::-1])) != "wasabi2"
    assert _kind(_tx(ins, [(1, outs[0][1], "p2pkh"), *outs[1:]])) != "wasabi2"
    assert _kind(_tx(small_ins, outs[:9])) != "wasabi2"
    assert _kind(_tx([(7, v, "p2wpkh") for _, v, _ in ins[:20]], outs)) != "wasabi2"


def test_clust_joinmarket() -> None:
    eq = 12_345_678
    ins = [(i, eq + 1_000_000 * (i + 1), "p2wpkh") for i in range(4)]
    outs = [(10 + i, eq, "p2wpkh") for i in range(4)] + [(20 + i, 999_000 * (i + 1), "p2wpkh") for i in range(3)]
    assert _kind(_tx(ins, outs)) == "joinmarket"
    # two equal outputs from one wallet's two inputs (a Tx0 or split): not a 3-party CoinJoin
    t = _tx([(1, 5_000_000, "p2wpkh"), (2, 5_000_000, "p2wpkh")],
            [(3, 4_000_000, "p2wpkh"), (4, 4_000_000, "p2wpkh"), (5, 1_990_000, "p2wpkh")])
    assert _kind(t) is None
    # dust outputs of 546 sat are not a CoinJoin denomination
    t = _tx([(i, 10_000, "p2pkh") for i in range(3)], [(10 + i, 546, "p2pkh") for i in range(3)]
            + [(20 + i, 9_000, "p2pkh") for i in range(2)])
    assert _kind(t) is None


def test_clust_generic_equal_output() -> None:
    eq = 3_000_000
    ins = [(i, eq + 900_000, "p2wpkh") for i in range(3)]
    outs = ([(10 + i, eq, "p2wpkh") for i in range(3)] + [(20 + i, 990_000 - i, "p2wpkh") for i in range(3)]
            + [(30, 5_000, "p2wpkh")])
    # 3 equal + 4 others: not JoinMarket's 2n-1/2n shape
    t = detect_coinjoins(_tx(ins, outs), chain="btc", types=("generic",))
    assert t.type_of(0) is None  # Dumplings: as many equal outputs as other outputs
    outs = [(10 + i, eq, "p2wpkh") for i in range(3)] + [(20 + i, 990_000 - i, "p2wpkh") for i in range(3)]
    t = detect_coinjoins(_tx(ins, outs), chain="btc", types=("generic",))
    assert t.type_of(0) == "generic"


@pytest.mark.parametrize("n_out", [1, 2])
def test_clust_ordinary_payments_are_not_coinjoins(n_out: int) -> None:
    t = _tx([(1, 10_000_000, "p2wpkh"), (2, 3_000_000, "p2wpkh")],
            [(3 + i, 4_000_000, "p2wpkh") for i in range(n_out)])
    assert _kind(t) is None


def test_clust_coinbase_is_never_a_coinjoin() -> None:
    t = _tx([], [(i, 1_000_000, "p2wpkh") for i in range(5)], coinbase=True)
    assert _kind(t) is None


def test_clust_coinjoin_evidence_and_bad_type() -> None:
    t = _tx([(i, 1_005_000, "p2wpkh") for i in range(5)], [(10 + i, 1_000_000, "p2wpkh") for i in range(5)])
    cj = detect_coinjoins(t)
    ev = cj.evidence(0)
    assert ev is not None and ev.heuristic == "coinjoin:whirlpool" and "Dumplings" in ev.source
    assert ev.details["equal_count"] == 5 and 0 < ev.confidence <= 1
    assert set(cj.counts()) == set(COINJOIN_TYPES)
    with pytest.raises(ValueError, match="unknown CoinJoin type"):
        detect_coinjoins(t, types=("wasabi3",))
