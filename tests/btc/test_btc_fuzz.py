"""Short form of the block reader's fuzz run (bench/fuzz_blocks.py; the long form is 1,000,000 cases)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "fuzz_blocks.py"


def _fuzz_module():
    spec = importlib.util.spec_from_file_location("fuzz_blocks", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_blocks"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.shared_data
@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_real_blocks_give_only_our_errors(shared_data: Path, seed: int) -> None:
    fz = _fuzz_module()
    blocks = fz.load_blocks(shared_data)
    assert len(blocks) >= 440          # the 439 framed mainnet blocks and the single blocks beside them
    r = fz.fuzz(blocks, 1500, seed)
    assert r["findings"] == [], r["findings"][:5]
    assert r["slowest_s"] < fz.LIMIT_S
    kinds = r["outcomes"]
    assert kinds.get("ok", 0) > 0                                  # some mutations leave a valid block
    assert any("merkle" in k for k in kinds), kinds                # the checks are reached, not one early exit
    assert any(k.startswith("ParseError") and "merkle" not in k for k in kinds), kinds
    python_words = ("index out of range", "unpack", "cannot fit", "buffer", "invalid literal", "Error:")
    assert not [k for k in kinds if any(w in k.split(": ", 1)[-1] for w in python_words)], kinds


@pytest.mark.shared_data
def test_mutation_kinds_reach_the_amount_check(shared_data: Path) -> None:
    """A value field set to 21M BTC + 1 sat, with the merkle root recomputed, ends in the amount check."""
    fz = _fuzz_module()
    chain, raw = fz.load_blocks(shared_data)[170]    # block 170: Satoshi pays Hal Finney 10 BTC
    from bitcoin.core import CBlock

    blk = CBlock.deserialize(raw)
    tx = blk.vtx[1]
    pos = raw.index(tx.vout[0].nValue.to_bytes(8, "little"), 80)
    bad = raw[:pos] + (21_000_000 * 10**8 + 1).to_bytes(8, "little") + raw[pos + 8:]
    bad = fz.fix_merkle(bad)
    with pytest.raises(Exception) as e:
        fz.run_case(chain, bad, False, False, Path("."))
    assert "21,000,000 BTC" in str(e.value) or "2,100,000,000,000,000" in str(e.value), str(e.value)
