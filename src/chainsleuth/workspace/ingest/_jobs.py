"""Ingest jobs in the ethereum-etl manner: a source (which maps its outside format to core batches) feeds
a writer (one store transaction per batch), and a :class:`~._run.RunRecorder` keeps the books. Every
collaborator is passed in.

- :func:`copy_batches`: a finite source read once (Bitcoin block files, ethereum-etl exports).
- :class:`NodeJob`: a block range read from an EVM node, ahead by one batch, with reorg checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Protocol, TypeVar

from chainsleuth.core.account import AccountBatch
from chainsleuth.core.records import UtxoBatch
from chainsleuth.errors import InvalidInput, SourceError
from chainsleuth.store import Store
from chainsleuth.store.account import AccountStore, AccountWriteResult
from chainsleuth.store.utxo import WriteResult
from chainsleuth.workspace.ingest._run import RunRecorder

__all__ = ["AccountWriter", "NodeJob", "NodeSource", "UtxoWriter", "copy_batches"]



class Batch(Protocol):
    @property
    def n_blocks(self) -> int: ...


B = TypeVar("B", bound=Batch)
B_contra = TypeVar("B_contra", contravariant=True)

#: how deep below a changed block the fork point is searched for, in stored blocks
MAX_REORG_DEPTH = 10_000
#: how often a batch may come back inconsistent (its blocks not chained) before the node is given up on
MAX_REREADS = 5


class BatchWriter(Protocol[B_contra]):
    """Writes one batch in one store transaction; ``session`` brackets a whole run."""

    def session(self) -> AbstractContextManager[object]: ...

    def write(self, batch: B_contra, run_id: int) -> WriteResult | AccountWriteResult: ...


class UtxoWriter:
    """UTXO batches into ``store.utxo``; checkpoints are deferred to the end of the run (bulk load)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def session(self) -> AbstractContextManager[object]:
        return self._store.bulk_load()

    def write(self, batch: UtxoBatch, run_id: int) -> WriteResult:
        res = self._store.utxo.write_batch(batch, run_id)
        self._store.yield_to_readers()   # readers in other processes wait at most about one batch
        return res


class AccountWriter:
    """Account-chain batches into ``store.account``, each block's provenance naming ``endpoint``."""

    def __init__(self, store: Store, endpoint: str) -> None:
        self._store = store
        self._endpoint = endpoint

    def session(self) -> AbstractContextManager[object]:
        return self._store.bulk_load()

    def write(self, batch: AccountBatch, run_id: int) -> AccountWriteResult:
        res = self._store.account.write_batch(batch, run_id, endpoint=self._endpoint)
        self._store.yield_to_readers()   # readers in other processes wait at most about one batch
        return res


def copy_batches(batches: Iterable[B], writer: BatchWriter[B], run: RunRecorder, run_id: int, *,
                 position: Callable[[], float] | None = None,
                 notes_of: Callable[[B], Sequence[str]] = lambda batch: ()) -> None:
    """Write every batch of a finite source, each in its own transaction, counting it into run ``run_id``.

    ``position`` is where the source is after a batch, in the run's progress unit (bytes read); without it a
    batch is one unit. ``notes_of`` gives the notes a batch carries (kept once each on the run).
    """
    done = 0.0
    with writer.session():
        for batch in batches:
            res = writer.write(batch, run_id)
            now = position() if position is not None else done + 1
            run.count(res, blocks_seen=batch.n_blocks, advance=now - done, first=res.first_height,
                      last=res.last_height, batch_notes=notes_of(batch))
            done = now


def _unlinked(endpoint: str, block: int, parent: str, want: str, what: str, reads: int) -> SourceError:
    return SourceError(f"eth_getBlockByNumber block {block}: field 'parentHash' is {parent}, not the hash of "
                       f"{what} ({want}); read {reads} times, the blocks do not link: the node keeps reorganising "
                       f"them or answers wrongly (the node at {endpoint})", url=endpoint,
                       method="eth_getBlockByNumber", block=block, field="parentHash", value=parent)


class NodeSource(Protocol):
    """What a node job needs from an account-chain node (:class:`~chainsleuth.sources.evm.EvmRpcSource`)."""

    chain: str
    kind: str
    endpoint: str
    traces: str
    blocks_per_batch: int

    def headers(self, numbers: Sequence[int], *, allow_missing: bool = False) -> dict[int, tuple[str, str]]: ...

    def fetch(self, numbers: list[int]) -> AccountBatch: ...


class NodeJob:
    """Blocks of one account chain from a node into the store, resumable and reorg-safe.

    Parameters
    ----------
    source : NodeSource
        The node (live or replayed).
    ledger : AccountStore
        The stored blocks: checkpoint, hashes, rollback.
    writer : AccountWriter
        One transaction per batch.
    run : RunRecorder
        The run's books.

    Each batch's first parent hash and its blocks' hashes are checked against the store before it is
    written; on a mismatch the orphaned blocks are rolled back (one transaction) to the fork point and
    reading goes on from there. A failed batch leaves the store as it was.
    """

    def __init__(self, source: NodeSource, ledger: AccountStore, writer: AccountWriter, run: RunRecorder) -> None:
        self._src = source
        self._ledger = ledger
        self._writer = writer
        self._run = run

    def resume(self) -> tuple[tuple[int, str] | None, int]:
        """The checkpoint to resume after, and how many blocks were rolled back because the stored tip is
        no longer on the node's chain."""
        src, chain = self._src, self._src.chain
        cp = self._ledger.checkpoint(chain)
        if cp is None or src.headers([cp[0]], allow_missing=True).get(cp[0], ("",))[0] == cp[1]:
            return cp, 0
        fork = self.find_fork(cp[0])
        reorged = self._ledger.rollback_above(chain, fork)
        self._run.note(f"reorg: stored block {cp[0]} is no longer on the node's chain; rolled back {reorged} "
                       f"blocks above {fork}")
        return self._ledger.checkpoint(chain), reorged

    def copy(self, start: int, end: int, *, run_notes: Callable[[], Sequence[str]]) -> int:
        """Ingest blocks ``start..end`` in one run (the next batch is read while this one is written);
        returns how many stored blocks were rolled back on the way."""
        src, chain, run = self._src, self._src.chain, self._run
        digest = hashlib.sha256()
        reorged = rereads = 0
        n = start
        pending: dict[int, Future[AccountBatch]] = {}
        with run.running(f"ingest {chain} blocks {start}..{end}", total=end - start + 1, unit="blocks",
                         content_hash=digest.hexdigest, notes=run_notes) as run_id:
            # read the next batch from the node while this one is mapped and written (one reader thread)
            ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evm-prefetch")
            try:
                while n <= end:
                    numbers = list(range(n, min(end, n + src.blocks_per_batch - 1) + 1))
                    fut = pending.pop(n, None)
                    if fut is not None and len(fut.result().blocks) != len(numbers):
                        fut = None
                    batch = fut.result() if fut is not None else src.fetch(numbers)
                    for stale in pending.values():
                        stale.cancel()
                    pending.clear()
                    nxt = numbers[-1] + 1
                    if nxt <= end:
                        pending[nxt] = ahead.submit(src.fetch,
                                                    list(range(nxt, min(end, nxt + src.blocks_per_batch - 1) + 1)))
                    hashes = batch.blocks["hash"].to_pylist()
                    parents = batch.blocks["parent_hash"].to_pylist()
                    unlinked = [i for i in range(1, len(hashes)) if parents[i] != hashes[i - 1]]
                    if unlinked:
                        i = unlinked[0]
                        rereads += 1
                        if rereads > MAX_REREADS:
                            raise _unlinked(src.endpoint, numbers[i], parents[i], hashes[i - 1], "the block before it",
                                            rereads)
                        run.note(f"the node reorganised while blocks {numbers[0]}..{numbers[-1]} were read; "
                                 "reading them again")
                        continue
                    stored = self._ledger.block_hashes(chain, n - 1, numbers[-1])
                    bad = [k for k, h in zip(numbers, hashes, strict=True) if stored.get(k, h) != h]
                    if stored.get(n - 1, parents[0]) != parents[0]:
                        bad.append(n - 1)
                    if bad:
                        fork = self.find_fork(max(bad))
                        if fork >= min(bad):
                            # the node's own headers confirm the stored block its full answer contradicts:
                            # not a reorg (nothing to roll back) but answers that disagree; read again, then fail
                            rereads += 1
                            if rereads > MAX_REREADS:
                                k = min(bad)
                                if k == n - 1:
                                    raise _unlinked(src.endpoint, n, parents[0], stored[n - 1],
                                                    f"the stored block {n - 1}, which the node's header confirms",
                                                    rereads)
                                raise SourceError(
                                    f"eth_getBlockByNumber block {k}: field 'hash' is {hashes[k - n]}, not the "
                                    f"stored {stored[k]}, which the node's own header of block {k} confirms; "
                                    f"read {rereads} times (the node at {src.endpoint})", url=src.endpoint,
                                    method="eth_getBlockByNumber", block=k, field="hash", value=hashes[k - n])
                            run.note(f"the node's blocks {numbers[0]}..{numbers[-1]} disagree with its headers of "
                                     "the stored blocks; reading them again")
                            continue
                        removed = self._ledger.rollback_above(chain, fork)
                        reorged += removed
                        run.note(f"reorg: block {max(bad)} changed; rolled back {removed} blocks above {fork}")
                        n = fork + 1
                        continue
                    res = self._writer.write(batch, run_id)
                    for h in hashes:
                        digest.update(h.encode())
                    run.count(res, blocks_seen=batch.n_blocks, advance=len(numbers), first=numbers[0],
                              last=numbers[-1], show=("txs", "transfers"))
                    n = numbers[-1] + 1
            finally:
                for f in pending.values():
                    f.cancel()
                ahead.shutdown(wait=True)
        return reorged

    def find_fork(self, height: int) -> int:
        """The highest stored block at or below ``height`` still on the node's chain (-1: none is)."""
        src, h, checked = self._src, height, 0
        while checked < MAX_REORG_DEPTH:
            stored = self._ledger.hashes_at_or_below(src.chain, h, 32)
            if not stored:
                return -1
            node = src.headers([k for k, _ in stored], allow_missing=True)
            for k, hsh in stored:
                if k in node and node[k][0] == hsh:
                    return k
            checked += len(stored)
            h = stored[-1][0] - 1
        raise InvalidInput(f"reorg deeper than {MAX_REORG_DEPTH} stored blocks below {height} on {src.chain}",
                           block=height)
