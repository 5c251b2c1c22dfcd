"""The background economy stays within the ranges documented in docs/training.md (section "Background
statistics"), which cite the published figures they imitate."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from chainsleuth.training import generate_world

_spec = importlib.util.spec_from_file_location("_train_stats", Path(__file__).with_name("_train_stats.py"))
assert _spec and _spec.loader
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
background_stats = _mod.background_stats

#: (low, high) of each statistic; the same table is in docs/training.md
RANGES = {
    "mean_inputs": (1.3, 2.5),
    "mean_outputs": (2.0, 3.5),
    "share_1in_2out": (0.40, 0.70),
    "address_reuse": (0.15, 0.50),
    "change_share": (0.70, 0.97),
    "feerate_median": (4.0, 20.0),
    "feerate_p90": (10.0, 60.0),
    "script_p2wpkh": (0.45, 0.75),
    "script_p2tr": (0.05, 0.30),
    "script_p2pkh": (0.05, 0.25),
    "script_p2sh": (0.05, 0.25),
}


@pytest.fixture(scope="module")
def stats() -> list[dict[str, float]]:
    return [background_stats(generate_world(t, 2, s, size=1500)[0])
            for t, s in (("ransomware", 31), ("darknet_market", 32), ("sanctions_evasion", 33))]


@pytest.mark.parametrize("name", sorted(RANGES))
def test_background_statistic_in_documented_range(stats, name: str) -> None:
    lo, hi = RANGES[name]
    for s in stats:
        assert lo <= s[name] <= hi, f"{name} = {s[name]:.3f} outside [{lo}, {hi}]"


def test_ranges_are_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "training.md").read_text(encoding="utf-8")
    for name, (lo, hi) in RANGES.items():
        assert f"| `{name}` | {lo} - {hi} |" in doc, f"{name} range missing from docs/training.md"
