"""Ingest EVM chains (JSON-RPC nodes, replayed recordings, ethereum-etl exports) into the account store; account-chain lookups.

Part of the :class:`~chainsleuth.workspace.Workspace` facade (see ``workspace/__init__.py``).
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from chainsleuth import __version__
from chainsleuth.core.account import normalize_address, to_checksum_address
from chainsleuth.core.chains import Model, get_chain
from chainsleuth.core.models import (
    AccountIngestSummary,
    AccountTxInfo,
    AddressInfo,
)
from chainsleuth.errors import (
    InvalidInput,
    NotFound,
    SourceError,
)
from chainsleuth.workspace._base import WorkspaceBase

__all__ = ["IngestEvm"]


class IngestEvm(WorkspaceBase):
    # -- ingest: EVM --------------------------------------------------------------------------------
    def ingest_evm_rpc(self, url: str, *, chain: str, from_: int | None = None, to: int | None = None,
                       traces: str = "auto", confirmations: int = 0, blocks_per_batch: int = 20,
                       max_batch: int = 100, rate_limit: float | None = None,
                       transport: Any = None) -> AccountIngestSummary:
        """Ingest blocks ``from_..to`` of an EVM chain from a JSON-RPC endpoint (``replay:DIR`` serves recordings).

        Resumes after the checkpoint when ``from_`` is None; stops ``confirmations`` blocks below the head
        when ``to`` is None. Reorg-safe: each batch's first parent hash is checked against the store, and on
        a mismatch the orphaned blocks are rolled back (one transaction) back to the fork point before
        going on. A failed batch leaves the store as it was. ``traces='none'`` marks blocks as lacking
        internal transfers.
        """
        from chainsleuth.sources.evm import open_evm_source

        c = get_chain(chain)
        if c.model is not Model.ACCOUNT:
            raise InvalidInput(f"chain {chain!r} is not an account (EVM) chain", field="--chain", value=chain)
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
        store = self.store
        src = open_evm_source(url, c.name, traces=traces, timeout=self.settings.rpc_timeout,
                              retries=self.settings.rpc_retries, transport=transport, max_batch=max_batch,
                              rate_limit=rate_limit, blocks_per_batch=blocks_per_batch,
                              known_tokens=store.account.known_tokens(c.name))
        t0 = time.perf_counter()
        try:
            chain_id = src.chain_id()
            if c.evm_chain_id is not None and chain_id is not None and chain_id != c.evm_chain_id:
                raise InvalidInput(f"the node at {src.endpoint} serves chain id {chain_id}, but chain {c.name!r} has "
                                   f"chain id {c.evm_chain_id}", field="--chain", value=c.name, url=src.endpoint)
            head = src.head()
            cp = store.account.checkpoint(c.name)
            reorged = 0
            if cp is not None and src.headers([cp[0]], allow_missing=True).get(cp[0], ("",))[0] != cp[1]:
                fork = self._find_fork(src, cp[0])   # the stored tip left the node's chain: roll back to the fork
                reorged = store.account.rollback_above(c.name, fork)
                self.progress.note(f"reorg: stored block {cp[0]} is no longer on the node's chain; rolled back "
                                   f"{reorged} blocks above {fork}")
                cp = store.account.checkpoint(c.name)
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
                return AccountIngestSummary(chain=c.name, run_id=None, source=src.kind, endpoint=src.endpoint,
                                            chain_id=chain_id, traces=traces, blocks_seen=0, blocks_new=0, txs_new=0,
                                            transfers_new=0, tokens_new=0, reorged_blocks=reorged, first_height=None,
                                            last_height=None, head=head, notes=[*notes, "nothing to ingest"],
                                            seconds=round(time.perf_counter() - t0, 3))
            src.check_traces(start)
            return self._ingest_account_blocks(src, start, end, head=head, chain_id=chain_id, notes=notes, t0=t0,
                                               reorged=reorged)
        finally:
            src.close()

    def _ingest_account_blocks(self, src: Any, start: int, end: int, *, head: int, chain_id: int | None,
                               notes: list[str], t0: float, reorged: int = 0) -> AccountIngestSummary:
        import hashlib

        store, chain = self.store, src.chain
        run_id = store.runs.start(chain=chain, source_kind=src.kind, endpoint=src.endpoint,
                                  software_version=__version__)
        digest = hashlib.sha256()
        seen = new_b = new_t = new_x = new_k = 0
        first: int | None = None
        last: int | None = None
        self.progress.start(f"ingest {chain} blocks {start}..{end}", total=end - start + 1, unit="blocks")
        n = start
        rereads = 0
        # read the next batch from the node while this one is mapped and written (one reader thread)
        ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evm-prefetch")
        pending: dict[int, Future[Any]] = {}
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
                    pending[nxt] = ahead.submit(src.fetch, list(range(nxt, min(end, nxt + src.blocks_per_batch - 1) + 1)))
                hashes = batch.blocks["hash"].to_pylist()
                parents = batch.blocks["parent_hash"].to_pylist()
                if any(parents[i] != hashes[i - 1] for i in range(1, len(hashes))):
                    rereads += 1
                    if rereads > 5:
                        raise SourceError(f"the node at {src.endpoint} keeps reorganising blocks {numbers[0]}.."
                                          f"{numbers[-1]} while they are read", url=src.endpoint, block=numbers[0])
                    self.progress.note(f"the node reorganised while blocks {numbers[0]}..{numbers[-1]} were read; "
                                       "reading them again")
                    continue
                stored = store.account.block_hashes(chain, n - 1, numbers[-1])
                bad = [k for k, h in zip(numbers, hashes, strict=True) if stored.get(k, h) != h]
                if stored.get(n - 1, parents[0]) != parents[0]:
                    bad.append(n - 1)
                if bad:
                    fork = self._find_fork(src, max(bad))
                    removed = store.account.rollback_above(chain, fork)
                    reorged += removed
                    self.progress.note(f"reorg: block {max(bad)} changed; rolled back {removed} blocks above {fork}")
                    n = fork + 1
                    continue
                res = store.account.write_batch(batch, run_id, endpoint=src.endpoint)
                for h in hashes:
                    digest.update(h.encode())
                seen += batch.n_blocks
                new_b += res.blocks_new
                new_t += res.txs_new
                new_x += res.transfers_new
                new_k += res.tokens_new
                first = numbers[0] if first is None else min(first, numbers[0])
                last = numbers[-1] if last is None else max(last, numbers[-1])
                self.progress.advance(len(numbers), txs=new_t, transfers=new_x)
                n = numbers[-1] + 1
        finally:
            for f in pending.values():
                f.cancel()
            ahead.shutdown(wait=True)
            self.progress.finish()
            store.runs.finish(run_id, first_height=first, last_height=last, blocks=new_b, txs=new_t, skipped=0,
                              content_hash=digest.hexdigest(),
                              notes="; ".join([f"chain_id={chain_id}", f"traces={src.traces}", *notes]))
        for note in notes:
            self.progress.note(note)
        return AccountIngestSummary(chain=chain, run_id=run_id, source=src.kind, endpoint=src.endpoint,
                                    chain_id=chain_id, traces=src.traces, blocks_seen=seen, blocks_new=new_b,
                                    txs_new=new_t, transfers_new=new_x, tokens_new=new_k, reorged_blocks=reorged,
                                    first_height=first, last_height=last, head=head, notes=notes,
                                    seconds=round(time.perf_counter() - t0, 3))

    def _find_fork(self, src: Any, height: int, max_depth: int = 10_000) -> int:
        """The highest stored block at or below ``height`` that is still on the node's chain (-1: none is)."""
        h, checked = height, 0
        while checked < max_depth:
            stored = self.store.account.hashes_at_or_below(src.chain, h, 32)
            if not stored:
                return -1
            node = src.headers([k for k, _ in stored], allow_missing=True)
            for k, hsh in stored:
                if k in node and node[k][0] == hsh:
                    return k
            checked += len(stored)
            h = stored[-1][0] - 1
        raise InvalidInput(f"reorg deeper than {max_depth} stored blocks below {height} on {src.chain}",
                           block=height)

    def ingest_etl(self, path: str | Path, *, chain: str = "eth") -> AccountIngestSummary:
        """Ingest an ethereum-etl export (a directory or files: blocks, transactions, receipts, logs,
        token_transfers, traces as CSV or JSON lines). Idempotent like every ingest."""
        from chainsleuth.sources.etl.ethereum import EthereumEtlSource

        c = get_chain(chain)
        if c.model is not Model.ACCOUNT:
            raise InvalidInput(f"chain {chain!r} is not an account (EVM) chain", field="--chain", value=chain)
        src = EthereumEtlSource(Path(path), c.name)
        for kind, files in src.files.items():   # the same rows twice would be stored twice (balances doubled)
            if {f.suffix for f in files} >= {".csv", ".json"}:
                raise InvalidInput(f"{path} holds {kind} both as CSV and as JSON ({', '.join(f.name for f in files)}); "
                                   "ingest one format: move the other files out", file=str(path), field=kind)
        t0 = time.perf_counter()
        run_id = self.store.runs.start(chain=c.name, source_kind=src.kind, endpoint=src.endpoint,
                                       software_version=__version__)
        tot = dict.fromkeys(("seen", "blocks", "txs", "transfers", "tokens"), 0)
        lo: list[int] = []
        notes: list[str] = []
        self.progress.start(f"ingest {c.name} ethereum-etl export", total=len(src.partitions), unit="parts")
        try:
            for batch in src.iter_batches():   # one transaction per block range
                res = self.store.account.write_batch(batch, run_id, endpoint=src.endpoint)
                tot["seen"] += batch.n_blocks
                tot["blocks"] += res.blocks_new
                tot["txs"] += res.txs_new
                tot["transfers"] += res.transfers_new
                tot["tokens"] += res.tokens_new
                lo += [h for h in (res.first_height, res.last_height) if h is not None]
                notes += [n for n in batch.notes if n not in notes]
                self.progress.advance(1, txs=tot["txs"])
        finally:
            self.progress.finish()
            self.store.runs.finish(run_id, first_height=min(lo, default=None), last_height=max(lo, default=None),
                                   blocks=tot["blocks"], txs=tot["txs"], skipped=0, content_hash=src.content_hash(),
                                   notes="; ".join(notes))
        for note in notes:
            self.progress.note(note)
        return AccountIngestSummary(chain=c.name, run_id=run_id, source=src.kind, endpoint=src.endpoint, chain_id=None,
                                    traces=src.traces, blocks_seen=tot["seen"], blocks_new=tot["blocks"],
                                    txs_new=tot["txs"], transfers_new=tot["transfers"], tokens_new=tot["tokens"],
                                    reorged_blocks=0, first_height=min(lo, default=None),
                                    last_height=max(lo, default=None), head=None, notes=notes,
                                    seconds=round(time.perf_counter() - t0, 3))

    def _show_account_tx(self, tx_hash: str, chain: str | None) -> AccountTxInfo:
        c = self._utxo_chain_for(self.store.account.find_tx_chains, tx_hash, chain, "transaction")
        row = self.store.account.tx(c, tx_hash)
        if row is None:
            raise NotFound(f"transaction {tx_hash} is not in this workspace on {c}", value=tx_hash)
        cs = to_checksum_address
        row["from"] = cs(row["from"])
        row["to"] = row["to"] and cs(row["to"])
        row["contract_address"] = row["contract_address"] and cs(row["contract_address"])
        for x in row["transfers"]:
            x["from"] = x["from"] and cs(x["from"])
            x["to"] = x["to"] and cs(x["to"])
            x["asset"] = x["asset"] if x["asset"] == "native" else cs(x["asset"])
        row.pop("tx_index")
        return AccountTxInfo(**row)

    def _show_account_address(self, address: str, chain: str | None) -> AddressInfo:
        low = normalize_address(address, field="ADDRESS")
        c = self._utxo_chain_for(self.store.account.find_address_chains, low, chain, "address")
        s = self.store.account.address_summary(c, low)
        if s is None:
            raise NotFound(f"address {address} is not in this workspace on {c}", value=address)

        def keyed(d: dict[tuple[str, str | None], int]) -> dict[str, int]:
            return {(a if a == "native" else to_checksum_address(a)) + (f":{t}" if t else ""): v for (a, t), v in d.items()}

        aid = self.store.utxo.address_id(c, low)
        return AddressInfo(address=to_checksum_address(low), chain=c,
                           cluster=None if aid is None else self._cluster_ref(c, aid), tags=self._address_tags(c, low),
                           received=keyed(s["received"]), sent=keyed(s["sent"]), balance=keyed(s["balance"]),
                           tx_count=s["tx_count"], first_seen=s["first_seen"], last_seen=s["last_seen"])

