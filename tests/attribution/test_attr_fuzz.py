"""The short form of bench/fuzz_tagpacks.py: 300 mutated real TagPacks (seeded) through the parser; only
the project's own errors, no case over 2 s, peak memory under 1 GB."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.shared_data


def _fuzz_module():  # type: ignore[no-untyped-def]
    path = Path(__file__).resolve().parents[2] / "bench" / "fuzz_tagpacks.py"
    spec = importlib.util.spec_from_file_location("fuzz_tagpacks", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_fuzz_short_form(packs_dir: Path) -> None:
    r = _fuzz_module().run(300, seed=20261202, directory=packs_dir)
    assert r["cases"] == 300
    assert r["findings"] == [], r["findings"]
    assert r["slowest"]["seconds"] < 2.0 and r["peak_rss_mb"] < 1024
    assert not [c for c in r["classes"] if c.startswith("UNEXPECTED")]
    # the mutations reach the checks they are meant for, not only YAML syntax errors
    seen = " ".join(r["classes"])
    for what in ("accepted", "duplicate key", "YAML syntax error", "mandatory"):
        assert what in seen, what
