"""Every ingest run keeps its books in one provenance row, also when it fails part way: what was read, what
it wrote, what it skipped (blocks written by the block builder, ingested by the real adapter)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from chainsleuth.core.btc.builder import BlockBuilder
from chainsleuth.errors import ParseError
from chainsleuth.store.runs import POW_UNCHECKED_NOTE
from chainsleuth.training.output import write_files
from chainsleuth.workspace import Workspace


def test_btc_ingest_runs_record_failures_skips_and_reruns(tmp_path: Path) -> None:
    bb = BlockBuilder("btc-regtest", seed=2)
    bb.add_block([])
    bb.add_block([])
    blk = bb.blk_files()["blk00000.dat"]
    write_files(tmp_path / "good", {"blk00000.dat": blk})
    write_files(tmp_path / "cut", {"blk00000.dat": blk[:-20]})     # the last block's record is cut short
    with Workspace(tmp_path / "ws") as ws:
        with pytest.raises(ParseError):
            ws.ingest.btc_blocks([tmp_path / "cut"], allow_invalid_pow=True)
        [failed] = ws.store.runs.list()
        assert failed.source_kind == "btc-blocks" and failed.finished_at is not None
        assert (failed.blocks, failed.txs, failed.first_height) == (0, 0, None)
        assert ws.queries.stats().chains == {}                      # the failed batch left nothing
        s = ws.ingest.btc_blocks([tmp_path / "cut"], skip_bad=True, allow_invalid_pow=True)
        run = ws.store.runs.list()[-1]
        assert run.run_id == s.run_id and s.blocks_new == run.blocks == 2 and s.blocks_seen == 2
        assert (run.first_height, run.last_height) == (s.first_height, s.last_height) == (0, 1)
        assert run.skipped == len(s.skipped) == 1 and run.notes == f"{POW_UNCHECKED_NOTE}; {s.skipped[0]}" and "cut" in run.notes
        again = ws.ingest.btc_blocks([tmp_path / "good"], allow_invalid_pow=True)
        assert (again.blocks_seen, again.blocks_new, again.skipped) == (3, 1, [])
        assert ws.store.runs.list()[-1].content_hash == hashlib.sha256(blk).hexdigest()
