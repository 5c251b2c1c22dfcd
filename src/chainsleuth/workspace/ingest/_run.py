"""The bookkeeping every ingest run shares, whatever its source: the provenance row of the run (started,
finished with its block range, counts, content hash and notes), the counters, the progress task, the notes
and the summary returned to the caller."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from chainsleuth import __version__
from chainsleuth.core.models import AccountIngestSummary, IngestSummary
from chainsleuth.core.progress import Progress
from chainsleuth.store.account import AccountWriteResult
from chainsleuth.store.runs import RunStore
from chainsleuth.store.utxo import WriteResult

__all__ = ["RunRecorder", "Tally"]


@dataclass
class Tally:
    """What a run wrote so far: blocks read and the rows each store table gained, and the block range."""

    blocks_seen: int = 0
    blocks_new: int = 0
    txs_new: int = 0
    outputs_new: int = 0
    inputs_new: int = 0
    inputs_resolved: int = 0
    transfers_new: int = 0
    tokens_new: int = 0
    first_height: int | None = None
    last_height: int | None = None

    def add(self, result: WriteResult | AccountWriteResult, *, blocks_seen: int, first: int | None,
            last: int | None) -> None:
        self.blocks_seen += blocks_seen
        self.blocks_new += result.blocks_new
        self.txs_new += result.txs_new
        if isinstance(result, WriteResult):
            self.outputs_new += result.outputs_new
            self.inputs_new += result.inputs_new
            self.inputs_resolved += result.inputs_resolved
        else:
            self.transfers_new += result.transfers_new
            self.tokens_new += result.tokens_new
        if first is not None:
            self.first_height = first if self.first_height is None else min(self.first_height, first)
        if last is not None:
            self.last_height = last if self.last_height is None else max(self.last_height, last)


class RunRecorder:
    """One ingest run's bookkeeping.

    Parameters
    ----------
    runs : RunStore
        Where the run's provenance row goes.
    progress : Progress
        The injected progress: the run's task, its advance per batch and its notes.
    chain, source_kind, endpoint : str
        What the provenance row says was read (an endpoint never carries credentials).

    The clock starts when the recorder is made; :meth:`running` brackets the batches. A summary can be
    asked for without a run (an EVM range with nothing to ingest): its ``run_id`` is then None.
    """

    def __init__(self, runs: RunStore, progress: Progress, *, chain: str, source_kind: str, endpoint: str) -> None:
        self._runs = runs
        self._progress = progress
        self._t0 = time.perf_counter()
        self.chain = chain
        self.source_kind = source_kind
        self.endpoint = endpoint
        self.run_id: int | None = None
        self.tally = Tally()
        #: notes the batches carried (each once, in order), recorded on the run unless ``running`` is given others
        self.notes: list[str] = []

    @contextmanager
    def running(self, task: str, *, total: float, unit: str, content_hash: Callable[[], str],
                notes: Callable[[], Sequence[str]] | None = None,
                skipped: Callable[[], int] = lambda: 0) -> Iterator[int]:
        """Start the provenance row and the progress task, yield the run id; on leaving, also through an
        error (the batches written before it stay committed), finish both: the row records the counts, the
        source's content hash, the notes (default: the batches' notes) and the records skipped, as they are
        then."""
        self.run_id = self._runs.start(chain=self.chain, source_kind=self.source_kind, endpoint=self.endpoint,
                                       software_version=__version__)
        self._progress.start(task, total=total, unit=unit)
        stop: list[str] = []
        try:
            yield self.run_id
        except BaseException as e:
            # a signal arrives as SystemExit/KeyboardInterrupt, or inside a query as the database's interrupt
            if isinstance(e, (KeyboardInterrupt, SystemExit)) or type(e).__name__ == "InterruptException":
                stop.append("interrupted: stopped by a signal; the batches before it are stored")
            else:
                stop.append(f"stopped by an error: {e}")
            raise
        finally:
            self._progress.finish()
            t = self.tally
            self._runs.finish(self.run_id, first_height=t.first_height, last_height=t.last_height,
                              blocks=t.blocks_new, txs=t.txs_new, skipped=skipped(), content_hash=content_hash(),
                              notes="; ".join([*(self.notes if notes is None else notes()), *stop]))

    def count(self, result: WriteResult | AccountWriteResult, *, blocks_seen: int, advance: float,
              first: int | None, last: int | None, batch_notes: Sequence[str] = (),
              show: Sequence[str] = ("txs",)) -> None:
        """Add one written batch: its counts and block range, the notes it carried, and ``advance`` units of
        progress showing the running totals named in ``show`` (``txs``, ``transfers``)."""
        self.tally.add(result, blocks_seen=blocks_seen, first=first, last=last)
        self.notes += [n for n in batch_notes if n not in self.notes]
        self._progress.advance(advance, **{k: getattr(self.tally, f"{k}_new") for k in show})

    def note(self, message: str) -> None:
        """A note shown now (a reorg, a batch read again)."""
        self._progress.note(message)

    def announce(self, notes: Sequence[str]) -> None:
        """Show the run's closing notes (after a successful run)."""
        for n in notes:
            self._progress.note(n)

    def _seconds(self) -> float:
        return round(time.perf_counter() - self._t0, 3)

    def utxo_summary(self, *, skipped: Sequence[str], proof_of_work: str = "checked") -> IngestSummary:
        assert self.run_id is not None, "a UTXO summary follows a run"
        t = self.tally
        return IngestSummary(chain=self.chain, run_id=self.run_id, blocks_seen=t.blocks_seen, blocks_new=t.blocks_new,
                             txs_new=t.txs_new, outputs_new=t.outputs_new, inputs_new=t.inputs_new,
                             inputs_resolved=t.inputs_resolved, skipped=list(skipped), first_height=t.first_height,
                             last_height=t.last_height, seconds=self._seconds(), proof_of_work=proof_of_work)

    def account_summary(self, *, chain_id: int | None, traces: str, reorged: int, head: int | None,
                        notes: Sequence[str]) -> AccountIngestSummary:
        t = self.tally
        return AccountIngestSummary(chain=self.chain, run_id=self.run_id, source=self.source_kind,
                                    endpoint=self.endpoint, chain_id=chain_id, traces=traces,
                                    blocks_seen=t.blocks_seen, blocks_new=t.blocks_new, txs_new=t.txs_new,
                                    transfers_new=t.transfers_new, tokens_new=t.tokens_new, reorged_blocks=reorged,
                                    first_height=t.first_height, last_height=t.last_height, head=head,
                                    notes=list(notes), seconds=self._seconds())
