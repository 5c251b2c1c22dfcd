"""CoinJoin rounds of the background economy look like the real protocols' rounds.

- Wasabi 1.x (WalletWasabi ``CoinJoin/Coordinator/MixingLevels``): mixed outputs are the base denomination
  times 2^level, and a participant takes at most one mixed output per level (plus change).
- WabiSabi / Wasabi 2.0 (WalletWasabi ``WabiSabi/Models/Decomposition/BaseDenomGenerator.cs``): every output
  is a standard denomination: 2^n, 3^n, 2 x 3^n or 1/2/5 x 10^n satoshi, at least 5,000 sat.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


def _standard(v: int) -> bool:
    def power_of(x: int, b: int) -> bool:
        while x % b == 0 and x > 1:
            x //= b
        return x == 1

    return v >= 5_000 and (power_of(v, 2) or power_of(v, 3) or (v % 2 == 0 and power_of(v // 2, 3))
                           or any(v % m == 0 and power_of(v // m, 10) for m in (1, 2, 5)))


def test_standard_denomination_rule() -> None:
    assert all(_standard(v) for v in (8192, 6561, 13122, 10_000, 20_000, 50_000, 2**30, 2 * 3**15))
    assert not any(_standard(v) for v in (6144, 3 * 2**20, 7_000, 4_000, 4 * 3**10))


def _rounds(written_worlds: dict[str, Any], kind: str) -> list[tuple[Any, int]]:
    return [(w.btc, t) for w, _k, _d in written_worlds.values() for t, k in enumerate(w.btc.tx_kind) if k == kind]


def test_wasabi1_one_output_per_participant_per_level(written_worlds: dict[str, Any]) -> None:
    rounds = _rounds(written_worlds, "coinjoin-wasabi")
    assert len(rounds) >= 5
    levels_seen: set[int] = set()
    for btc, t in rounds:
        vals = Counter(btc.out_value[o] for o in btc.tx_outputs[t])
        base = min(v for v, n in vals.items() if n >= 2)            # the level-0 denomination
        mixed = {base << lv for lv in range(8)}
        per_wallet: Counter[tuple[int, int]] = Counter()
        for o in btc.tx_outputs[t]:
            v = btc.out_value[o]
            if v in mixed:
                per_wallet[(btc.addr_wallet[btc.out_addr[o]], v)] += 1
                levels_seen.add(v // base)
        assert max(per_wallet.values()) == 1, (t, per_wallet.most_common(2))
        # a level is formed by at least two participants
        assert all(n >= 2 for v, n in Counter(v for _w, v in per_wallet).items()), t
    assert 1 in levels_seen and len(levels_seen) >= 2, levels_seen


def test_wasabi2_outputs_are_standard_denominations(written_worlds: dict[str, Any]) -> None:
    rounds = _rounds(written_worlds, "coinjoin-wasabi2")
    assert len(rounds) >= 5
    for btc, t in rounds:
        bad = [btc.out_value[o] for o in btc.tx_outputs[t] if not _standard(btc.out_value[o])]
        assert not bad, (t, bad[:5])
