"""Ingest: chain data from outside formats into the store, one job per source kind.

Sources come from the sources registry (:data:`~chainsleuth.sources.registry.SOURCES`): ``btc-blocks`` and
``etl`` by name, EVM nodes by their URI's scheme (``evm-rpc`` for http(s), ``evm-replay`` for ``replay:DIR``).
Every kind runs through the same pipeline pieces (``_jobs``) and the same run bookkeeping (``_run``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainsleuth.config import Settings
from chainsleuth.core.chains import Chain, Model, get_chain
from chainsleuth.core.models import AccountIngestSummary, BtcNodeIngestSummary, IngestSummary
from chainsleuth.core.progress import Progress
from chainsleuth.errors import InvalidInput, NotFound
from chainsleuth.sources.registry import SOURCES, SourceKind, open_evm_source
from chainsleuth.store import Store
from chainsleuth.store.runs import POW_UNCHECKED_NOTE
from chainsleuth.workspace.ingest._btc_node import BtcNodeJob
from chainsleuth.workspace.ingest._jobs import AccountWriter, NodeJob, UtxoWriter, copy_batches
from chainsleuth.workspace.ingest._run import RunRecorder

if TYPE_CHECKING:
    from chainsleuth.sources.btc.files import BlockFileSource
    from chainsleuth.sources.etl.ethereum import EthereumEtlSource
    from chainsleuth.sources.evm import EvmRpcSource

__all__ = ["POW_UNCHECKED_NOTE", "IngestService"]


_MODEL_WORDS = {Model.UTXO: "a UTXO chain", Model.ACCOUNT: "an account (EVM) chain"}


def _chain_for(kind: SourceKind, chain: str) -> Chain:
    """The chain ``chain`` when its ledger model is the one ``kind`` holds; InvalidInput otherwise."""
    c = get_chain(chain)
    if c.model is not kind.model:
        raise InvalidInput(f"chain {chain!r} is not {_MODEL_WORDS[kind.model]}", field="--chain", value=chain)
    return c


class IngestService:
    """Ingest jobs: Bitcoin block files, EVM nodes (live or replayed), ethereum-etl exports.

    Parameters
    ----------
    store : callable returning Store
        The workspace's store, opened on first use.
    settings : Settings
        RPC timeout and retries.
    progress : Progress
        Where long jobs report.

    Every job is idempotent (blocks already stored are skipped) and writes each batch in one store
    transaction; each run leaves a provenance row (source kind, endpoint, block range, software version,
    content hash).
    """

    def __init__(self, store: Callable[[], Store], settings: Settings, progress: Progress) -> None:
        self._store = store
        self._settings = settings
        self._progress = progress

    def btc_blocks(self, paths: Sequence[str | Path], *, chain: str | None = None,
                   skip_bad: bool = False, allow_invalid_pow: bool = False) -> IngestSummary:
        """Ingest blk*.dat files (with or without xor.dat), raw or hex blocks, or directories of them.

        Each batch is one store transaction; blocks already stored are skipped, so a re-run changes nothing.
        Every block is validated (proof of work against its own bits, merkle root, weight, amounts): one that
        fails stops the ingest (its batch is not written), or with ``skip_bad`` is skipped and listed.
        ``allow_invalid_pow`` accepts blocks without proof of work (synthetic, generated chains); the run
        records it (:data:`POW_UNCHECKED_NOTE`) and ``stats`` says so.
        """
        kind = SOURCES.get("btc-blocks")
        if chain is not None:
            _chain_for(kind, chain)
        src: BlockFileSource = kind.open([Path(p) for p in paths], chain=chain, skip_bad=skip_bad,
                                         allow_invalid_pow=allow_invalid_pow, batch_txs=self._settings.batch_txs)
        if src.total_bytes == 0:   # an empty file, or folders without blk*.dat / .raw / .hex / .blk files
            names = ", ".join(str(p) for p in paths)
            raise InvalidInput(f"no block data in {names}: give blk*.dat files, raw or hex block files "
                               "(.dat, .raw, .blk, .hex) or directories holding them", file=names)
        store = self._store()
        run = RunRecorder(store.runs, self._progress, chain=src.chain, source_kind=kind.name,
                          endpoint=";".join(str(p) for p in paths))
        marks = [POW_UNCHECKED_NOTE] if allow_invalid_pow else []
        with run.running(f"ingest {src.chain} blocks", total=src.total_bytes, unit="B",
                         content_hash=src.content_hash, notes=lambda: [*marks, *src.skipped],
                         skipped=lambda: len(src.skipped)) as run_id:
            copy_batches(src.iter_batches(), UtxoWriter(store), run, run_id, position=lambda: src.bytes_done)
        run.announce(src.skipped)
        return run.utxo_summary(skipped=src.skipped, proof_of_work="not checked" if allow_invalid_pow else "checked")

    def evm_rpc(self, url: str, *, chain: str, from_: int | None = None, to: int | None = None,
                traces: str = "auto", confirmations: int = 0, blocks_per_batch: int = 20, max_batch: int = 100,
                rate_limit: float | None = None, transport: Any = None) -> AccountIngestSummary:
        """Ingest blocks ``from_..to`` of an EVM chain from a JSON-RPC endpoint (``replay:DIR`` serves recordings).

        Resumes after the checkpoint when ``from_`` is None; stops ``confirmations`` blocks below the head
        when ``to`` is None. Reorg-safe: each batch's first parent hash is checked against the store, and on
        a mismatch the orphaned blocks are rolled back (one transaction) back to the fork point before
        going on. A failed batch leaves the store as it was. ``traces='none'`` marks blocks as lacking
        internal transfers. ``transport`` (an httpx transport) stands in for the network, as in tests.
        """
        c = _chain_for(SOURCES.get("evm-rpc"), chain)
        if confirmations < 0:
            raise InvalidInput("--confirmations must be 0 or more", field="--confirmations", value=confirmations)
        for flag, v in (("--from", from_), ("--to", to)):
            if v is not None and v < 0:
                raise InvalidInput(f"{flag} must be a block number, 0 or more", field=flag, value=v)
        if max_batch < 1:
            raise InvalidInput("--max-batch must be 1 or more", field="--max-batch", value=max_batch)
        if rate_limit is not None and rate_limit <= 0:
            raise InvalidInput("--rate-limit must be above 0 requests per second (leave it out for no limit)",
                               field="--rate-limit", value=rate_limit)
        if from_ is not None and to is not None and from_ > to:
            raise InvalidInput(f"--from {from_} is above --to {to}: nothing to ingest", field="--from", value=from_)
        store = self._store()
        src: EvmRpcSource = open_evm_source(url, c.name, traces=traces, timeout=self._settings.rpc_timeout,
                                            retries=self._settings.rpc_retries, transport=transport,
                                            max_wait=self._settings.rpc_max_wait, notify=self._progress.note,
                                            max_batch=max_batch, rate_limit=rate_limit,
                                            blocks_per_batch=blocks_per_batch,
                                            known_tokens=store.account.known_tokens(c.name))
        run = RunRecorder(store.runs, self._progress, chain=c.name, source_kind=src.kind, endpoint=src.endpoint)
        job = NodeJob(src, store.account, AccountWriter(store, src.endpoint), run)
        try:
            chain_id = src.chain_id()
            if c.evm_chain_id is not None and chain_id is not None and chain_id != c.evm_chain_id:
                raise InvalidInput(f"the node at {src.endpoint} serves chain id {chain_id}, but chain {c.name!r} has "
                                   f"chain id {c.evm_chain_id}", field="--chain", value=c.name, url=src.endpoint)
            head = src.head()
            cp, reorged = job.resume()   # the stored tip left the node's chain: rolled back to the fork
            start = from_ if from_ is not None else (cp[0] + 1 if cp else 0)
            if reorged and cp is not None:
                start = min(start, cp[0] + 1)   # refill what the rollback removed
            if to is not None and to > head:
                raise NotFound(f"block {to} is beyond the head ({head}) of the node at {src.endpoint}",
                               url=src.endpoint, method="eth_blockNumber", block=to)
            end = min(to if to is not None else head, head - confirmations)
            notes: list[str] = []
            if to is not None and end < to:
                notes.append(f"stopped at block {end}: blocks above it have fewer than {confirmations} confirmations")
            if traces == "none":
                notes.append("ingested without traces: internal and self-destruct transfers are missing")
            if start > end:
                return run.account_summary(chain_id=chain_id, traces=traces, reorged=reorged, head=head,
                                           notes=[*notes, "nothing to ingest"])
            src.check_traces(start)
            reorged += job.copy(start, end, run_notes=lambda: [f"chain_id={chain_id}", f"traces={src.traces}",
                                                               *notes])
            run.announce(notes)
            return run.account_summary(chain_id=chain_id, traces=src.traces, reorged=reorged, head=head, notes=notes)
        finally:
            src.close()

    def btc_rpc(self, url: str, *, chain: str = "btc", from_: int | None = None, to: int | None = None,
                confirmations: int = 0, follow: bool = False, poll: float = 10.0, rpc_user: str | None = None,
                rpc_cookie: str | Path | None = None, block_format: str = "auto", blocks_per_batch: int = 50,
                workers: int = 4, transport: Any = None,
                stop: Callable[[], bool] | None = None) -> BtcNodeIngestSummary:
        """Ingest blocks ``from_..to`` of a Bitcoin network from a Bitcoin Core JSON-RPC node (``replay:DIR``:
        bitcoin-etl's recorded responses).

        Resumes after the stored best tip when ``from_`` is None (a tip the node no longer has is a reorg: the
        node's branch is read from the fork up); stops ``confirmations`` blocks below the node's tip. With
        ``follow`` it then polls every ``poll`` seconds and ingests new blocks until interrupted (or until
        ``stop()`` is true), reorgs included; the workspace is released between polls. The node's network must
        be the chain's, and a pruned node must still have the blocks asked for. Credentials: a cookie file,
        ``user:password@`` in the URL, or ``rpc_user`` with the password from the settings
        (``CHAINSLEUTH_RPC_PASSWORD``); they are never printed or stored (the endpoint recorded is the URL
        without them). ``transport`` (an httpx transport) stands in for the network, as in tests.
        """
        kind = SOURCES.get("btc-replay" if url.lower().startswith("replay:") else "btc-rpc")
        c = _chain_for(kind, chain)
        for flag, v in (("--from", from_), ("--to", to), ("--confirmations", confirmations)):
            if v is not None and v < 0:
                raise InvalidInput(f"{flag} must be 0 or more", field=flag, value=v)
        if from_ is not None and to is not None and from_ > to:
            raise InvalidInput(f"--from {from_} is above --to {to}: nothing to ingest", field="--from", value=from_)
        if poll <= 0:
            raise InvalidInput("--poll must be above 0 seconds", field="--poll", value=poll)
        t0 = time.perf_counter()
        options: dict[str, Any] = dict(timeout=self._settings.rpc_timeout, retries=self._settings.rpc_retries,
                                       max_wait=self._settings.rpc_max_wait, notify=self._progress.note,
                                       block_format=block_format, blocks_per_batch=blocks_per_batch,
                                       workers=workers, transport=transport)
        if kind.name == "btc-rpc":
            options.update(rpc_user=rpc_user, rpc_cookie=rpc_cookie,   # the password goes with --rpc-user only
                           rpc_password=self._settings.rpc_password if rpc_user is not None else None)
        src = kind.open(url, c.name, **options)
        try:
            info = src.info()
            src.check_network(info)
            store = self._store()
            job = BtcNodeJob(src, store, self._progress, confirmations=confirmations)
            try:
                job.run(from_=from_, to=to, follow=follow, poll=poll, stop=stop)
            finally:
                summary_of = job.totals
            tip = store.utxo.best_tip(c.name)
            t = summary_of
            return BtcNodeIngestSummary(
                chain=c.name, run_ids=t.run_ids, source=kind.name, endpoint=src.endpoint, network=info.network,
                block_format=src.block_format, blocks_seen=t.blocks_seen, blocks_new=t.blocks_new, txs_new=t.txs_new,
                outputs_new=t.outputs_new, inputs_new=t.inputs_new, inputs_resolved=t.inputs_resolved,
                stale_blocks=t.stale_blocks, reorgs=t.reorgs, first_height=t.first_height, last_height=t.last_height,
                head=job.head, tip=tip[1] if tip else None, notes=t.notes,
                seconds=round(time.perf_counter() - t0, 3))
        finally:
            src.close()

    def esplora(self, url: str, refs: Sequence[str], *, hops: int = 0, chain: str | None = None,
                rate_limit: float | None = None, parallel: int = 8, transport: Any = None) -> IngestSummary:
        """Fetch addresses (their whole history) and transactions from an Esplora API, and with ``hops`` their
        neighbourhood backward and forward (:class:`~.esplora.EsploraFetcher`). Idempotent: what is stored
        is not asked for again."""
        from chainsleuth.workspace.ingest.esplora import fetch_refs

        return fetch_refs(self._store, self._settings, self._progress, url, refs, hops=hops, chain=chain,
                          rate_limit=rate_limit, parallel=parallel, transport=transport)

    def etl(self, path: str | Path, *, chain: str = "eth") -> AccountIngestSummary:
        """Ingest an ethereum-etl export (a directory or files: blocks, transactions, receipts, logs,
        token_transfers, traces as CSV or JSON lines). Idempotent like every ingest."""
        kind = SOURCES.get("etl")
        c = _chain_for(kind, chain)
        src: EthereumEtlSource = kind.open(Path(path), c.name)
        for part, files in src.files.items():   # the same rows twice would be stored twice (balances doubled)
            if {f.suffix for f in files} >= {".csv", ".json"}:
                raise InvalidInput(f"{path} holds {part} both as CSV and as JSON ({', '.join(f.name for f in files)}); "
                                   "ingest one format: move the other files out", file=str(path), field=part)
        store = self._store()
        run = RunRecorder(store.runs, self._progress, chain=c.name, source_kind=src.kind, endpoint=src.endpoint)
        with run.running(f"ingest {c.name} ethereum-etl export", total=len(src.partitions), unit="parts",
                         content_hash=src.content_hash) as run_id:   # one transaction per block range
            copy_batches(src.iter_batches(), AccountWriter(store, src.endpoint), run, run_id,
                         notes_of=lambda batch: batch.notes)
        run.announce(run.notes)
        return run.account_summary(chain_id=None, traces=src.traces, reorged=0, head=None, notes=run.notes)
