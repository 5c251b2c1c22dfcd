"""Ingest raw Bitcoin blocks (blk*.dat, raw, hex) through sources.btc into the UTXO store.

Part of the :class:`~chainsleuth.workspace.Workspace` facade (see ``workspace/__init__.py``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from chainsleuth import __version__
from chainsleuth.core.chains import Model, get_chain
from chainsleuth.core.models import (
    IngestSummary,
)
from chainsleuth.errors import (
    InvalidInput,
)
from chainsleuth.workspace._base import WorkspaceBase

__all__ = ["IngestBitcoin"]


class IngestBitcoin(WorkspaceBase):
    # -- ingest: Bitcoin ----------------------------------------------------------------------------
    def ingest_btc_blocks(self, paths: Sequence[str | Path], *, chain: str | None = None,
                          skip_bad: bool = False) -> IngestSummary:
        """Ingest blk*.dat files (with or without xor.dat), raw or hex blocks, or directories of them.

        Each batch is one store transaction; blocks already stored are skipped, so a re-run changes nothing.
        """
        from chainsleuth.sources.btc.files import BlockFileSource

        if chain is not None and get_chain(chain).model is not Model.UTXO:
            raise InvalidInput(f"chain {chain!r} is not a UTXO chain", field="--chain", value=chain)
        src = BlockFileSource([Path(p) for p in paths], chain=chain, skip_bad=skip_bad)
        if src.total_bytes == 0:   # an empty file, or folders without blk*.dat / .raw / .hex / .blk files
            names = ", ".join(str(p) for p in paths)
            raise InvalidInput(f"no block data in {names}: give blk*.dat files, raw or hex block files "
                               "(.dat, .raw, .blk, .hex) or directories holding them", file=names)
        t0 = time.perf_counter()
        store = self.store
        run_id = store.runs.start(chain=src.chain, source_kind="btc-blocks",
                                  endpoint=";".join(str(p) for p in paths), software_version=__version__)
        seen = new_b = new_t = new_o = new_i = resolved = 0
        first: int | None = None
        last: int | None = None
        self.progress.start(f"ingest {src.chain} blocks", total=src.total_bytes, unit="B")
        bytes_before = 0
        with store.db.deferred_checkpoint():
            for batch in src.iter_batches():
                res = store.utxo.write_batch(batch, run_id)
                seen += batch.n_blocks
                new_b += res.blocks_new
                new_t += res.txs_new
                new_o += res.outputs_new
                new_i += res.inputs_new
                resolved += res.inputs_resolved
                if res.first_height is not None:
                    first = res.first_height if first is None else min(first, res.first_height)
                if res.last_height is not None:
                    last = res.last_height if last is None else max(last, res.last_height)
                self.progress.advance(src.bytes_done - bytes_before, txs=new_t)
                bytes_before = src.bytes_done
        self.progress.finish()
        for note in src.skipped:
            self.progress.note(note)
        store.runs.finish(run_id, first_height=first, last_height=last, blocks=new_b, txs=new_t,
                          skipped=len(src.skipped), content_hash=src.content_hash(), notes="; ".join(src.skipped))
        return IngestSummary(chain=src.chain, run_id=run_id, blocks_seen=seen, blocks_new=new_b, txs_new=new_t,
                             outputs_new=new_o, inputs_new=new_i, inputs_resolved=resolved,
                             skipped=list(src.skipped), first_height=first, last_height=last,
                             seconds=round(time.perf_counter() - t0, 3))
