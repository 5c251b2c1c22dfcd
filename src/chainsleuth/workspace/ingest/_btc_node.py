"""Blocks of a Bitcoin network from a node into the UTXO store: ranges, resume, confirmations, follow mode and
reorgs.

The UTXO store keeps every block it was given as a tree and marks the best chain by cumulative work
(:mod:`chainsleuth.store.blocktree`); a batch that makes another branch the heavier one flips the ``best``
flags of blocks, transactions, outputs and inputs in that batch's own transaction. So a reorg needs no
rollback here: the job finds the fork point (the highest stored best-chain block the node still has at its
height), reads the node's branch from just above it, and the batch that gives that branch more work than
the stored one switches every reader to it at once. Stale blocks stay stored (``best = false``) and no reader
counts them: balances, clusters and traces see exactly the node's chain.

Each batch is checked before it is written: its blocks link to one another, and its first block links to the
block the node had below it (the last one written, or the stored best block at that height). A batch that
does not link is a reorg under way: the fork is looked for again and reading goes on from there. Every batch
is one store transaction, so a crash at any point loses at most the batch being written and a resume
(which starts after the stored best tip, checking it is still on the node's chain) gives the same store.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from chainsleuth.core.progress import Progress
from chainsleuth.core.records import UtxoBatch
from chainsleuth.errors import InvalidInput, SourceError
from chainsleuth.sources.btc.rpc import BtcRpcSource
from chainsleuth.store import Store
from chainsleuth.store.utxo import WriteResult
from chainsleuth.workspace.ingest._run import RunRecorder

__all__ = ["BtcNodeJob", "FollowTotals"]

#: how deep below the stored tip the fork point is looked for, in blocks
MAX_REORG_DEPTH = 10_000
#: how often a batch may come back unlinked before the node is given up on
MAX_REREADS = 5


@dataclass
class FollowTotals:
    """Counts over every round of one ingest (a ``--follow`` run has one round per poll that found blocks)."""

    run_ids: list[int] = field(default_factory=list)
    blocks_seen: int = 0
    blocks_new: int = 0
    txs_new: int = 0
    outputs_new: int = 0
    inputs_new: int = 0
    inputs_resolved: int = 0
    stale_blocks: int = 0
    reorgs: int = 0
    first_height: int | None = None
    last_height: int | None = None
    notes: list[str] = field(default_factory=list)

    def add(self, run: RunRecorder) -> None:
        t = run.tally
        if run.run_id is not None:
            self.run_ids.append(run.run_id)
        for k in ("blocks_seen", "blocks_new", "txs_new", "outputs_new", "inputs_new", "inputs_resolved"):
            setattr(self, k, getattr(self, k) + getattr(t, k))
        if t.first_height is not None:
            self.first_height = t.first_height if self.first_height is None else min(self.first_height,
                                                                                     t.first_height)
        if t.last_height is not None:
            self.last_height = t.last_height if self.last_height is None else max(self.last_height, t.last_height)


class BtcNodeJob:
    """One ingest from a Bitcoin node: :meth:`run` catches up to ``head - confirmations`` and, with
    ``follow``, keeps up until interrupted (or until ``stop()`` says so), sleeping ``poll`` seconds between
    polls with the workspace released to other processes (``Store.idle``)."""

    def __init__(self, src: BtcRpcSource, store: Store, progress: Progress, *, confirmations: int = 0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.src = src
        self.store = store
        self.progress = progress
        self.confirmations = confirmations
        self.totals = FollowTotals()
        self._sleep = sleep
        self.head: int | None = None

    # -- the stored chain against the node's --------------------------------------------------------------
    def fork_point(self, height: int) -> int:
        """The highest height at or below ``height`` whose stored best-chain block is the node's block there
        (-1 when none is: nothing stored on the node's chain)."""
        chain, hi, checked, step = self.src.chain, height, 0, 16
        while hi >= 0 and checked < MAX_REORG_DEPTH:
            lo = max(0, hi - step + 1)
            stored = self.store.utxo.best_hashes(chain, lo, hi)
            if stored:
                node = self.src.hashes(sorted(stored), allow_missing=True)
                for h in sorted(stored, reverse=True):
                    if node.get(h) == stored[h]:
                        return h
            checked += hi - lo + 1
            hi, step = lo - 1, min(step * 2, 1024)
        if hi < 0:
            return -1
        raise InvalidInput(f"reorg deeper than {MAX_REORG_DEPTH} blocks below {height} on {chain}", block=height)

    def resume_height(self) -> int:
        """Where to go on after the stored best tip; a tip the node no longer has is a reorg: after the fork."""
        tip = self.store.utxo.best_tip(self.src.chain)
        if tip is None:
            return 0
        h, hsh = tip
        if self.src.hashes([h], allow_missing=True).get(h) == hsh:
            return h + 1
        fork = self.fork_point(h)
        self.note(f"reorg: the stored block {h} ({hsh}) is not on the node's chain; the fork is at {fork}, "
                  f"reading the node's branch from {fork + 1}")
        self.totals.reorgs += 1
        return fork + 1

    def note(self, message: str) -> None:
        self.progress.note(message)
        if message not in self.totals.notes:
            self.totals.notes.append(message)

    # -- one round ----------------------------------------------------------------------------------------
    def copy(self, start: int, end: int) -> None:
        """Blocks ``start..end`` of the node's chain, one store transaction per batch, the next batch read
        while one is written; a reorg met on the way is followed (the fork found again, reading goes on
        above it)."""
        src, chain = self.src, self.src.chain
        run = RunRecorder(self.store.runs, self.progress, chain=chain, source_kind=src.kind, endpoint=src.endpoint)
        digest = hashlib.sha256()
        expected: tuple[int, str] | None = None   # (height, hash) the next batch's first block must build on
        rereads = 0
        try:
            with run.running(f"ingest {chain} blocks {start}..{end} from {src.endpoint}", total=end - start + 1,
                             unit="blocks", content_hash=digest.hexdigest,
                             notes=lambda: [f"block_format={src.block_format}", *self.totals.notes]) as run_id, \
                    self.store.bulk_load(), _prefetcher() as ahead:
                n = start
                pending: dict[int, Future[UtxoBatch]] = {}
                while n <= end:
                    heights = list(range(n, min(end, n + src.blocks_per_batch - 1) + 1))
                    fut = pending.pop(n, None)
                    batch = fut.result() if fut is not None and fut.result().n_blocks == len(heights) else \
                        src.fetch(heights)
                    for stale in pending.values():
                        stale.cancel()
                    pending.clear()
                    nxt = heights[-1] + 1
                    if nxt <= end:
                        pending[nxt] = ahead.submit(src.fetch, list(range(nxt, min(end, nxt + src.blocks_per_batch - 1)
                                                                          + 1)))
                    hashes = batch.blocks["hash"].to_pylist()
                    prevs = batch.blocks["prev_hash"].to_pylist()
                    parent = expected[1] if expected is not None and expected[0] == n - 1 else \
                        (self.store.utxo.best_hashes(chain, n - 1, n - 1).get(n - 1) if n > 0 else None)
                    unlinked = [i for i in range(1, len(hashes)) if prevs[i] != hashes[i - 1]]
                    if unlinked or (parent is not None and prevs[0] != parent):
                        rereads += 1
                        if rereads > MAX_REREADS:
                            k = heights[unlinked[0]] if unlinked else n
                            raise SourceError(f"getblock block {k}: field 'previousblockhash' does not link to the "
                                              f"block below it after {rereads} reads: the node keeps reorganising or "
                                              f"answers wrongly (the node at {src.endpoint})", url=src.endpoint,
                                              method="getblock", block=k, field="previousblockhash")
                        for f in pending.values():
                            f.cancel()
                        pending.clear()
                        if unlinked:
                            self.note(f"the node reorganised while blocks {heights[0]}..{heights[-1]} were read; "
                                      "reading them again")
                            continue
                        fork = self.fork_point(n - 1)
                        self.totals.reorgs += 1
                        self.note(f"reorg: block {n} no longer builds on the stored block {n - 1}; the fork is at "
                                  f"{fork}, reading the node's branch from {fork + 1}")
                        expected = None
                        n = fork + 1
                        continue
                    res: WriteResult = self.store.utxo.write_batch(batch, run_id)
                    self.store.yield_to_readers()   # readers in other processes wait at most about one batch
                    for h in hashes:
                        digest.update(h.encode())
                    run.count(res, blocks_seen=batch.n_blocks, advance=len(heights), first=heights[0],
                              last=heights[-1])
                    self.totals.stale_blocks += res.reorganised if res.reorganised else 0
                    expected = (heights[-1], hashes[-1])
                    n = heights[-1] + 1
        finally:
            if run.run_id is not None:
                self.totals.add(run)

    # -- the whole job ------------------------------------------------------------------------------------
    def run(self, *, from_: int | None, to: int | None, follow: bool, poll: float,
            stop: Callable[[], bool] | None = None) -> None:
        src = self.src
        start = from_ if from_ is not None else self.resume_height()
        while True:
            self.head = head = src.head()
            end = head - self.confirmations if to is None else min(to, head - self.confirmations)
            if to is not None and to > head and not follow:
                self.note(f"stopped at block {end}: the node's tip is {head}")
            elif to is not None and end < to and not follow:
                self.note(f"stopped at block {end}: blocks above it have fewer than {self.confirmations} "
                          "confirmations")
            if start <= end:
                src.check_available(start)
                self.copy(start, end)
                self._check_tip(end)
            if not follow or (to is not None and end >= to) or (stop is not None and stop()):
                return
            with self.store.idle():   # other processes may read the workspace while this one sleeps
                self._sleep(poll)
            start = self.resume_height()

    def _check_tip(self, end: int) -> None:
        """After a round the stored best chain must be the node's up to ``end``; it is not when the node
        switched to a branch of no more work than the stored one (``invalidateblock``): the store keeps the
        heavier (or, at equal work, the longer, then smaller-hash) branch, and says so."""
        tip = self.store.utxo.best_tip(self.src.chain)
        if tip is None:
            return
        h = min(tip[0], end)
        ours = self.store.utxo.best_hashes(self.src.chain, h, h).get(h)
        node = self.src.hashes([h], allow_missing=True).get(h)
        if node is not None and ours != node:
            self.note(f"the node's block {h} is {node}, the stored best chain has {ours}: the node's branch does "
                      "not have more work than the stored one, so the store keeps the heavier branch until the "
                      "node's grows past it")


@contextmanager
def _prefetcher() -> Iterator[ThreadPoolExecutor]:
    ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="btc-prefetch")
    try:
        yield ahead
    finally:
        ahead.shutdown(wait=True, cancel_futures=True)
