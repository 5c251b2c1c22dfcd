"""Ingest is a set operation: any combination of real blocks, in any order, with any overlap or repetition,
in one run or in many, with any batch boundaries, stores exactly what each block ingested once stores.

The blocks are the real ones of ../shared/data (mainnet blocks 0-438, btcd's side chain off genesis and its
fork 3A-5A, single blocks from later years). Each case writes random "files" (random multisets of those
blocks in random order, so children often come before their parents and a block comes several times) and
compares every UTXO table, translated to natural keys (``_canon.canonical_tables``), with a clean ingest.
``CHAINSLEUTH_PROPERTY_SEEDS`` sets how many seeds run (default 12).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from chainsleuth.sources.btc.parser import BlockParser
from chainsleuth.store import Store

from ._canon import canonical_tables, read_blocks

FILES = [
    "btc-blocks-bitcoinj/first-100k-blocks.dat",        # mainnet 0-438
    "btc-blocks-btcd/blocks1-256",                      # mainnet 1-255 again
    "btc-blocks-btcd/blk_0_to_4.dat",                   # genesis + a private side chain 1-4
    "btc-blocks-btcd/blk_3A.dat", "btc-blocks-btcd/blk_4A.dat", "btc-blocks-btcd/blk_5A.dat",   # fork off its 2
    "btc-blocks-btcd/277647.dat",
    "btc-blocks-bitcoinj/block227835.dat", "btc-blocks-bitcoinj/block227836.dat",
    "btc-blocks-bitcoinj/block169482.dat",
    "btc-blocks-rust-bitcoin/block_13b8a.hex",
]
SEEDS = int(os.environ.get("CHAINSLEUTH_PROPERTY_SEEDS", "12"))


@pytest.fixture(scope="module")
def pool(shared_data: Path) -> list[bytes]:
    """Every distinct real block, in file order (the chain order for the genesis file)."""
    seen: set[bytes] = set()
    out = []
    for f in FILES:
        for raw in read_blocks(shared_data / f):
            if raw[:80] not in seen:
                seen.add(raw[:80])
                out.append(raw)
    return out


def _write(store: Store, blocks: list[bytes], rng: random.Random | None, run: int) -> None:
    """Parse ``blocks`` in order and write them in batches (random sizes when ``rng``) under run ``run``."""
    parser = BlockParser("btc", check_pow=False)
    size = rng.randint(1, 120) if rng else len(blocks) + 1
    for i, raw in enumerate(blocks):
        parser.parse_block(raw, 0, len(raw), source_file=f"file{run}", source_offset=i)
        if parser.n_blocks >= size:
            store.utxo.write_batch(parser.flush(), run)
            size = rng.randint(1, 120) if rng else size
    if parser.n_blocks:
        store.utxo.write_batch(parser.flush(), run)


def _run(store: Store) -> int:
    return store.runs.start(chain="btc", source_kind="test", endpoint="mem", software_version="t")


class _store:
    def __init__(self, path: Path) -> None:
        self.s = Store(path)

    def __enter__(self) -> Store:
        return self.s

    def __exit__(self, *exc: object) -> None:
        self.s.close()


def _clean(tmp: Path, blocks: list[bytes]) -> dict:
    """Each block once, in chain order, one batch."""
    with _store(tmp / "clean.duckdb") as s:
        _write(s, blocks, None, _run(s))
        return canonical_tables(s)


@pytest.mark.parametrize("seed", range(SEEDS))
def test_random_overlapping_files_in_one_run_and_in_many(pool: list[bytes], tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    files = []
    for _ in range(rng.randint(1, 4)):
        k = rng.randint(1, len(pool))
        blocks = [rng.choice(pool) for _ in range(k)] if rng.random() < 0.5 else rng.sample(pool, k)
        if rng.random() < 0.3:
            blocks = sorted(blocks, key=pool.index)           # sometimes in chain order
        files.append(blocks)
    union = [b for b in pool if any(b in f for f in files)]
    expected = _clean(tmp_path, union)
    with _store(tmp_path / "one.duckdb") as s:                # every file in one run
        _write(s, [b for f in files for b in f], rng, _run(s))
        assert canonical_tables(s) == expected
    with _store(tmp_path / "many.duckdb") as s:               # a run per file, some twice
        for f in files + [f for f in files if rng.random() < 0.3]:
            _write(s, f, rng, _run(s))
        assert canonical_tables(s) == expected
