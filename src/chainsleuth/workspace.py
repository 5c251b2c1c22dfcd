"""L3: the application facade. The only place that joins store, sources, algorithms, attribution and
workflows. The CLI and the API call a :class:`Workspace` and nothing below it.

Each capability has its section below; a method is parse-free (it takes typed values), returns core
models or plain JSON-ready dicts, and reports long work to the injected progress.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from chainsleuth import __version__
from chainsleuth.config import Settings, load_settings
from chainsleuth.core.account import is_address, normalize_address, to_checksum_address
from chainsleuth.core.chains import CHAINS, Model, get_chain
from chainsleuth.core.models import (
    AccountIngestSummary,
    AccountTxInfo,
    AddressInfo,
    BlockInfo,
    IngestSummary,
    StoreStats,
    UtxoTxInfo,
)
from chainsleuth.core.progress import NullProgress, Progress
from chainsleuth.errors import (
    ChainsleuthError,
    Conflict,
    InternalError,
    InvalidInput,
    NotFound,
    SourceError,
    Unsupported,
)
from chainsleuth.store import DB_FILENAME, Store

__all__ = ["Workspace"]


class Workspace:
    """A workspace directory: the DuckDB file and case files.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     ws = Workspace(d)
    ...     ws.stats().chains
    {}
    """

    def __init__(self, path: str | Path | None = None, *, settings: Settings | None = None,
                 progress: Progress | None = None, read_only: bool = False) -> None:
        self.settings = settings or load_settings(path)
        self.path = Path(path) if path is not None else self.settings.workspace
        self.progress: Progress = progress or NullProgress()
        self.read_only = read_only
        self._store: Store | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        if self._store is None:
            if not self.read_only:
                self.path.mkdir(parents=True, exist_ok=True)
            self._store = Store(self.path / DB_FILENAME, read_only=self.read_only, threads=self.settings.threads,
                                memory_limit=self.settings.memory_limit)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        t0 = time.perf_counter()
        store = self.store
        run_id = store.runs.start(chain=src.chain, source_kind="btc-blocks",
                                  endpoint=";".join(str(p) for p in paths), software_version=__version__)
        seen = new_b = new_t = new_o = new_i = resolved = 0
        first: int | None = None
        last: int | None = None
        self.progress.start(f"ingest {src.chain} blocks", total=src.total_bytes, unit="B")
        bytes_before = 0
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

    # -- queries ------------------------------------------------------------------------------------
    def _utxo_chain_for(self, finder: Any, key: str, chain: str | None, what: str) -> str:
        if chain is not None:
            return get_chain(chain).name
        chains = finder(key)
        if not chains:
            raise NotFound(f"{what} {key} is not in this workspace", value=key)
        if len(chains) > 1:
            raise InvalidInput(f"{what} {key} exists on several chains ({', '.join(chains)}); pass --chain",
                               value=key)
        return str(chains[0])

    def show_block(self, ref: str, *, chain: str | None = None) -> BlockInfo:
        """A block by hash (64 hex) or height."""
        chains = [chain] if chain else (self.store.utxo.chains() + self.store.account.chains() or ["btc"])
        for c in chains:
            if get_chain(c).model is Model.ACCOUNT:
                h = ref.lower().removeprefix("0x")
                row = self.store.account.block(c, height=int(ref)) if ref.isdigit() else \
                    self.store.account.block(c, hash="0x" + h) if len(h) == 64 else None
                if row is not None:
                    return BlockInfo(**row)
                continue
            if ref.lower().startswith("0x") and chains != [c]:
                continue   # an EVM-style hash: look on the account chains
            if ref.isdigit():
                row = self.store.utxo.block(c, height=int(ref))
            else:
                if len(ref) != 64 or any(ch not in "0123456789abcdefABCDEF" for ch in ref):
                    raise InvalidInput(f"{ref!r} is neither a block height nor a 64-hex block hash", value=ref)
                row = self.store.utxo.block(c, hash=ref.lower())
            if row is not None:
                return BlockInfo(**row)
        raise NotFound(f"block {ref} is not in this workspace", value=ref)

    def show_tx(self, txid: str, *, chain: str | None = None) -> UtxoTxInfo | AccountTxInfo:
        t = txid.lower().removeprefix("0x")
        if len(t) != 64 or any(ch not in "0123456789abcdef" for ch in t):
            raise InvalidInput(f"{txid!r} is not a transaction id (64 hex digits)", value=txid)
        if (get_chain(chain).model is Model.ACCOUNT) if chain else bool(self.store.account.find_tx_chains("0x" + t)):
            return self._show_account_tx("0x" + t, chain)
        c = self._utxo_chain_for(self.store.utxo.find_tx_chains, t, chain, "transaction")
        row = self.store.utxo.tx(c, t)
        if row is None:
            raise NotFound(f"transaction {t} is not in this workspace on {c}", value=t)
        return UtxoTxInfo(**row)

    def show_address(self, address: str, *, chain: str | None = None) -> AddressInfo:
        if (get_chain(chain).model is Model.ACCOUNT) if chain else is_address(address):
            return self._show_account_address(address, chain)
        c = self._utxo_chain_for(self.store.utxo.find_address_chains, address, chain, "address")
        s = self.store.utxo.address_summary(c, address)
        if s is None:
            raise NotFound(f"address {address} is not in this workspace on {c}", value=address)
        return AddressInfo(address=address, chain=c, cluster=self._cluster_ref(c, s["address_id"]), tags=self._address_tags(c, address),
                           received=s["received"], sent=s["sent"],
                           balance=s["balance"], tx_count=s["tx_count"], first_seen=s["first_seen"],
                           last_seen=s["last_seen"])

    def stats(self) -> StoreStats:
        return StoreStats(schema_version=self.store.schema_version(),
                          chains=self.store.utxo.stats() | self.store.account.stats())

    @staticmethod
    def known_chains() -> list[str]:
        return sorted(CHAINS)

    # -- training ---------------------------------------------------------------------------------------
    def train_generate(self, typology: str, difficulty: int, seed: int, out: str | Path, *, size: int | None = None,
                       lang: str = "en", ingest: bool = False) -> dict[str, Any]:
        """Generate a training world into ``out`` (trainee/ + answer_key.json); optionally ingest it here."""
        from chainsleuth.training.session import generate
        from chainsleuth.training.typologies import DEFAULT_SIZE

        res = generate(typology, difficulty, seed, Path(out), size=size or DEFAULT_SIZE, lang=lang)
        if ingest:
            res["ingest"] = self.train_ingest(out)
        return res

    def train_ingest(self, case: str | Path) -> dict[str, Any]:
        """Ingest a generated world through the real adapters: blk files, ethereum-etl exports, TagPack."""
        t = Path(case) / "trainee" if (Path(case) / "trainee").is_dir() else Path(case)
        out: dict[str, Any] = {"btc": self.ingest_btc_blocks([t / "btc"]).model_dump()}
        import importlib.util

        if importlib.util.find_spec("chainsleuth.sources.etl.ethereum") is not None:
            out["eth"] = self.ingest_etl(t / "eth", chain="eth").model_dump()
        else:
            out["eth"] = {"skipped": "this build has no ethereum-etl reader"}
        if hasattr(self, "import_tags"):
            out["tags"] = _jsonable(self.import_tags([t / "tags"]))
        return out

    def train_class_new(self, class_seed: int, trainees: list[str], out: str | Path, *, typology: str,
                        difficulty: int, size: int | None = None, lang: str = "en") -> dict[str, Any]:
        from chainsleuth.training.session import class_new
        from chainsleuth.training.typologies import DEFAULT_SIZE

        return class_new(class_seed, trainees, Path(out), typology=typology, difficulty=difficulty,
                         size=size or DEFAULT_SIZE, lang=lang)

    @staticmethod
    def train_read_trainees(path: str | Path | None, count: int | None) -> list[str]:
        from chainsleuth.training.session import read_trainees

        return read_trainees(Path(path) if path else None, count)

    def train_brief(self, case: str | Path, *, lang: str | None = None) -> dict[str, Any]:
        from chainsleuth.training.session import brief

        return brief(Path(case), lang=lang)

    def train_answer(self, case: str | Path, question: str, values: list[str], *, hint: bool = False) -> dict[str, Any]:
        from chainsleuth.training.session import answer

        return answer(Path(case), question, values, hint=hint)

    def train_grade(self, case: str | Path, *, key: str | Path | None = None, answers: str | Path | None = None,
                    lang: str | None = None) -> dict[str, Any]:
        from chainsleuth.training.session import grade_folder

        return grade_folder(Path(case), key=Path(key) if key else None, answers=Path(answers) if answers else None,
                            lang=lang)

    def train_debrief(self, case: str | Path, *, key: str | Path | None = None, answers: str | Path | None = None,
                      lang: str | None = None) -> dict[str, Any]:
        from chainsleuth.training.session import debrief

        return debrief(Path(case), key=Path(key) if key else None, answers=Path(answers) if answers else None,
                       lang=lang)

    # -- clustering ---------------------------------------------------------------------------------
    def _cluster_chain(self, chain: str | None) -> str:
        if chain is not None:
            return get_chain(chain).name
        chains = self.store.utxo.chains()
        if not chains:
            hint = (f"; for {', '.join(self.store.account.chains())} pass --chain and --heuristics deposit-address"
                    if self.store.account.chains() else "")
            raise Conflict(f"nothing to cluster: the workspace {self.path} holds no UTXO blocks; ingest some "
                           f"first (chainsleuth ingest btc-blocks PATH){hint}", file=str(self.path))
        if len(chains) > 1:
            raise InvalidInput(f"the workspace holds several UTXO chains ({', '.join(chains)}); pass --chain",
                               field="--chain")
        return str(chains[0])

    def cluster(self, chain: str | None = None, *, heuristics: Sequence[str] | None = None,
                incremental: bool = True, include_coinjoins: bool = False,
                alert_size: int | None = None) -> dict[str, Any]:
        """Cluster a UTXO chain's addresses into a cluster set named after its heuristics.

        With ``incremental`` and an existing set of the same heuristics, only transactions newer than the
        set (and those whose inputs were unresolved) are read; sets using change heuristics are rebuilt.
        Raises before changing anything on an unknown heuristic, an empty workspace or unresolved prevouts.
        """
        from chainsleuth.algorithms.clustering import (
            DEFAULT_HEURISTICS,
            Clustering,
            cluster_utxo,
            resolve_heuristics,
            supports_incremental,
        )
        from chainsleuth.algorithms.clustering.cospend import Links
        from chainsleuth.algorithms.patterns.coinjoin import COINJOIN_TYPES
        from chainsleuth.algorithms.txarrays import TxArrays

        t0 = time.perf_counter()
        names = resolve_heuristics(list(heuristics) if heuristics else list(DEFAULT_HEURISTICS))
        alert = self.settings.cluster_alert_size if alert_size is None else int(alert_size)
        if alert < 1:
            raise InvalidInput("the alert size must be at least 1", field="--alert-size", value=alert)
        c = self._cluster_chain(chain)
        if get_chain(c).model is Model.ACCOUNT:
            return self._cluster_account(c, names, alert, t0)
        cs = self.store.clusters
        st = cs.input_status(c)
        if st["txs"] == 0:
            raise Conflict(f"nothing to cluster: no {c} transactions in the workspace {self.path}", value=c)
        if st["inputs"] and not st["inputs_resolved"]:
            raise Conflict(f"no input of {c} has its spent output in the workspace ({st['inputs']} unresolved "
                           "inputs), so no input address is known: ingest the chain from genesis (or the "
                           "blocks holding the spent outputs) first", value=c)
        name = "+".join(names) + ("+coinjoins" if include_coinjoins else "")
        existing = cs.get_set(c, name)
        mode = "incremental" if incremental and existing is not None and supports_incremental(names) else "batch"
        prior = None
        after = -1
        if mode == "incremental":
            assert existing is not None
            prior = Clustering(cs.labels(c, int(existing["set_id"])), Links(*([np.empty(0, np.int64)] * 7), ()))
            after = int(existing["last_tx_id"])
        cols, script_types = cs.tx_arrays(c, after_tx_id=after,
                                          set_id=int(existing["set_id"]) if mode == "incremental" else None)
        arrays = TxArrays.from_columns(cols, script_types)
        self.progress.start(f"cluster {c} ({name})", total=None)
        run = cluster_utxo(arrays, st["addresses"], names, include_coinjoins=include_coinjoins, chain=c, prior=prior)
        self.progress.finish()
        links = run.clustering.links
        cj_rows = np.flatnonzero(run.coinjoins.mask)
        big = np.flatnonzero(np.minimum(links.size_a, links.size_b) >= alert)
        set_id = cs.write_set(
            c, name=name, heuristics=names, parameters={"include_coinjoins": include_coinjoins},
            labels=run.clustering.labels,
            links={"address_a": links.a, "address_b": links.b, "tx_id": links.tx_id,
                   "heuristic": links.heuristic_names(), "confidence": links.confidence,
                   "size_a": links.size_a, "size_b": links.size_b},
            coinjoins={"tx_id": run.coinjoins.tx_id[cj_rows],
                       "kind": [COINJOIN_TYPES[k - 1] for k in run.coinjoins.kind[cj_rows].tolist()],
                       "equal_value": run.coinjoins.equal_value[cj_rows],
                       "equal_count": run.coinjoins.equal_count[cj_rows]},
            pending=cs.unresolved_tx_ids(c), last_tx_id=st["max_tx_id"], provenance=cs.provenance(c),
            software_version=__version__, incremental_of=int(existing["set_id"]) if mode == "incremental" else None)
        info = cs.get_set(c, set_id)
        assert info is not None
        alerts = []
        for i in big.tolist()[:100]:
            alerts.append({"txid": cs.txids(c, [int(links.tx_id[i])]).get(int(links.tx_id[i])),
                           "tx_id": int(links.tx_id[i]), "heuristic": links.names[int(links.heuristic[i])],
                           "address_a": self._address_text(c, int(links.a[i])), "size_a": int(links.size_a[i]),
                           "address_b": self._address_text(c, int(links.b[i])), "size_b": int(links.size_b[i]),
                           "message": f"merge of two large clusters ({int(links.size_a[i])} and "
                                      f"{int(links.size_b[i])} addresses); check the transaction"})
        for a in alerts:
            self.progress.note(f"alert: {a['message']} (tx_id {a['tx_id']})")
        return {
            "chain": c, "set_id": set_id, "name": name, "heuristics": names, "mode": mode,
            "include_coinjoins": include_coinjoins, "txs_processed": arrays.n_tx, "links_added": len(links),
            "addresses": info["n_addresses"], "clusters": info["n_clusters"], "links": info["n_links"],
            "largest": [{"id": i, "size": s} for i, s in cs.largest(c, set_id, 5)],
            "coinjoins": run.coinjoins.counts(),
            "unresolved_inputs": st["inputs"] - st["inputs_resolved"],
            "alert_size": alert, "alerts": alerts, "provenance": {k: info[k] for k in ("first_height", "last_height",
                                                                                         "run_ids")},
            "seconds": round(time.perf_counter() - t0, 3),
        }

    def _cluster_account(self, c: str, names: list[str], alert: int, t0: float) -> dict[str, Any]:
        """Deposit-address clustering of an account chain's native transfers; exchange wallets from the tags."""
        from chainsleuth.algorithms.clustering import cluster_edges, deposit_clusters

        if names != ["deposit-address"]:
            raise InvalidInput(f"on account chains such as {c} the only clustering heuristic is deposit-address",
                               field="--heuristics", value=",".join(names))
        g = self.store.graph
        arr = g.account_arrays(c, -1)
        if len(arr["from"]) == 0:
            raise Conflict(f"nothing to cluster: no {c} transfers in the workspace {self.path}", value=c)
        att = g.address_attributions(c)
        exchanges = np.unique(att["address_id"][att["category"] == "exchange"])
        if len(exchanges) == 0:
            raise Conflict(f"deposit-address clustering needs known exchange wallets on {c}: import tags with "
                           "category 'exchange' first (chainsleuth tags import PATH)", value=c)
        ok = ~arr["fee"] & (arr["from"] >= 0) & (arr["to"] >= 0)
        vals = np.array(arr["value"], dtype=object)
        dep = deposit_clusters(arr["from"][ok], arr["to"][ok], vals[ok], arr["height"][ok], exchanges,
                               tx_id=arr["tx"][ok])
        run = cluster_edges(g.n_addresses(c), dep.edges)
        links = run.links
        cs = self.store.clusters
        set_id = cs.write_set(
            c, name="deposit-address", heuristics=names, parameters={"caveats": list(dep.caveats)},
            labels=run.labels,
            links={"address_a": links.a, "address_b": links.b, "tx_id": links.tx_id,
                   "heuristic": links.heuristic_names(), "confidence": links.confidence,
                   "size_a": links.size_a, "size_b": links.size_b},
            coinjoins={"tx_id": [], "kind": [], "equal_value": [], "equal_count": []},
            pending=np.empty(0, dtype=np.int64), last_tx_id=int(arr["tx"].max(initial=-1)),
            provenance={"run_ids": [r.run_id for r in self.store.runs.list(c)],
                        "first_height": int(arr["height"].min()), "last_height": int(arr["height"].max())},
            software_version=__version__)
        info = cs.get_set(c, set_id)
        assert info is not None
        big = np.flatnonzero(np.minimum(links.size_a, links.size_b) >= alert)
        return {"chain": c, "set_id": set_id, "name": "deposit-address", "heuristics": names, "mode": "batch",
                "include_coinjoins": False, "txs_processed": len(np.unique(arr["tx"])),
                "links_added": len(links), "addresses": info["n_addresses"], "clusters": info["n_clusters"],
                "links": info["n_links"], "largest": [{"id": i, "size": s_} for i, s_ in cs.largest(c, set_id, 5)],
                "coinjoins": {}, "deposit_addresses": len(dep.deposit_addresses), "exchange_wallets": len(exchanges),
                "caveats": list(dep.caveats), "unresolved_inputs": 0, "alert_size": alert,
                "alerts": [{"tx_id": int(links.tx_id[i]), "size_a": int(links.size_a[i]),
                            "size_b": int(links.size_b[i])} for i in big.tolist()[:100]],
                "provenance": {k: info[k] for k in ("first_height", "last_height", "run_ids")},
                "seconds": round(time.perf_counter() - t0, 3)}

    def _address_text(self, chain: str, address_id: int) -> str | None:
        rows = self.store.clusters.addresses_text(chain, [address_id])
        return rows.get(address_id)

    def _cluster_ref(self, chain: str, address_id: int) -> dict[str, int] | None:
        cid = self.store.clusters.cluster_of(chain, address_id)
        return None if cid is None else {"id": cid, "size": self.store.clusters.size(chain, cid)}

    def show_cluster(self, ref: str, *, chain: str | None = None, why: tuple[str, str] | None = None,
                     cluster_set: str | None = None, limit: int = 100, offset: int = 0) -> dict[str, Any]:
        """The Cluster JSON of DESIGN.md for a cluster id or any member address; ``why=(A, B)`` adds the chain
        of links (transactions and heuristics) that joined the two addresses."""
        if ref.lower().startswith("0x"):
            ref = ref.lower()
        c = (self._cluster_chain(chain) if chain or ref.isdigit()
             else self._utxo_chain_for(self.store.utxo.find_address_chains, ref, None, "address"))
        cs = self.store.clusters
        s = cs.get_set(c, cluster_set)
        if s is None:
            raise NotFound(f"no cluster set {cluster_set!r} on {c}" if cluster_set else
                           f"{c} is not clustered yet; run 'chainsleuth cluster' first", value=cluster_set or c)
        sid = int(s["set_id"])
        if ref.isdigit():
            cid = int(ref)
        else:
            aid = self.store.utxo.address_id(c, ref)
            if aid is None:
                raise NotFound(f"address {ref} is not in this workspace on {c}", value=ref)
            found = cs.cluster_of(c, aid, sid)
            if found is None:
                raise NotFound(f"address {ref} is newer than cluster set {s['name']}; run 'chainsleuth cluster' "
                               "again", value=ref)
            cid = found
        size = cs.size(c, cid, sid)
        if size == 0:
            raise NotFound(f"no cluster {cid} in set {s['name']} on {c}", value=cid)
        tags: list[Any] = []
        tagger = getattr(self, "cluster_tags", None)
        if callable(tagger):
            tags = list(tagger(c, cid))
        out: dict[str, Any] = {
            "id": cid, "chain": c, "size": size, "set": s["name"],
            "addresses": [a for _, a in cs.members(c, cid, sid, limit=limit, offset=offset)],
            "tags": tags,
            "links": [{"txid": r["txid"], "heuristic": r["heuristic"], "confidence": r["confidence"],
                       "from": r["address_a"], "to": r["address_b"]}
                      for r in cs.links(c, cid, sid, limit=limit, offset=offset)],
            "page": {"limit": limit, "offset": offset},
        }
        if why is not None:
            out["why"] = self._why(c, sid, cid, why)
        return out

    def _why(self, chain: str, set_id: int, cluster_id: int, pair: tuple[str, str]) -> dict[str, Any]:
        from chainsleuth.algorithms.clustering import link_path

        ids = []
        for a in pair:
            aid = self.store.utxo.address_id(chain, a.lower() if a.lower().startswith("0x") else a)
            if aid is None:
                raise NotFound(f"address {a} is not in this workspace on {chain}", value=a)
            if self.store.clusters.cluster_of(chain, aid, set_id) != cluster_id:
                raise InvalidInput(f"address {a} is not in cluster {cluster_id}", field="--why", value=a)
            ids.append(aid)
        la = self.store.clusters.link_arrays(chain, cluster_id, set_id)
        path = link_path(la["address_a"], la["address_b"], ids[0], ids[1])
        if path is None:  # cannot happen for two members of one cluster: its links form a spanning tree
            raise InternalError("cluster links do not connect two of its members", value=cluster_id)
        seqs = [int(la["seq"][i]) for i in path]
        by_seq = self.store.clusters.links_by_seq(chain, seqs, set_id)
        steps = []
        cur = ids[0]
        for q in seqs:
            r = by_seq[q]
            fwd = r["address_a_id"] == cur
            steps.append({"from": r["address_a"] if fwd else r["address_b"],
                          "to": r["address_b"] if fwd else r["address_a"], "txid": r["txid"],
                          "heuristic": r["heuristic"], "confidence": r["confidence"]})
            cur = r["address_b_id"] if fwd else r["address_a_id"]
        conf = float(np.prod([s["confidence"] for s in steps])) if steps else 1.0
        return {"from": pair[0], "to": pair[1], "steps": steps, "confidence": conf}

    def compare_clusterings(self, set1: str, set2: str, *, chain: str | None = None,
                            limit: int = 100) -> dict[str, Any]:
        """Which clusters of ``set1`` split in ``set2`` and which of ``set2`` merge clusters of ``set1``."""
        from chainsleuth.algorithms.clustering import compare_labels, pairwise_scores

        c = self._cluster_chain(chain)
        sets = []
        for ref in (set1, set2):
            s = self.store.clusters.get_set(c, ref)
            if s is None:
                known = ", ".join(f"{x['set_id']}:{x['name']}" for x in self.store.clusters.sets(c)) or "none"
                raise NotFound(f"no cluster set {ref!r} on {c}; sets: {known}", value=ref)
            sets.append(s)
        la = self.store.clusters.labels(c, int(sets[0]["set_id"]))
        lb = self.store.clusters.labels(c, int(sets[1]["set_id"]))
        r = compare_labels(la, lb, limit=limit)
        n = max(len(la), len(lb))
        pa_, pb_ = np.arange(n), np.arange(n)
        pa_[: len(la)], pb_[: len(lb)] = la, lb
        agree = pairwise_scores(pb_, pa_)
        return {"chain": c, "set1": sets[0]["name"], "set2": sets[1]["name"], **r,
                "pairs_in_set1": agree["true_pairs"], "pairs_in_set2": agree["predicted_pairs"],
                "pairs_in_both": agree["correct_pairs"]}

    def explain_tx(self, txid: str, *, chain: str | None = None) -> dict[str, Any]:
        """Per transaction: is it a CoinJoin (and which), and which output each change heuristic (and their
        consensus) takes for change, with the evidence. Reads the tx, the txs spending its outputs and the
        first appearance of its output addresses."""
        from chainsleuth.algorithms.clustering import CHANGE_HEURISTICS, change_consensus, detect_change
        from chainsleuth.algorithms.patterns.coinjoin import detect_coinjoins
        from chainsleuth.algorithms.txarrays import TxArrays

        t = txid.lower().removeprefix("0x")
        if len(t) != 64 or any(ch not in "0123456789abcdef" for ch in t):
            raise InvalidInput(f"{txid!r} is not a transaction id (64 hex digits)", value=txid)
        c = self._utxo_chain_for(self.store.utxo.find_tx_chains, t, chain, "transaction")
        ctx = self.store.clusters.tx_context(c, t)
        if ctx is None:
            raise NotFound(f"transaction {t} is not in this workspace on {c}", value=t)
        cols, names = self.store.clusters.tx_arrays(c, tx_ids=[ctx["tx_id"], *ctx["spenders"]])
        arrays = TxArrays.from_columns(cols, names)
        row = arrays.row_of(ctx["tx_id"])
        cj = detect_coinjoins(arrays, chain=c)
        guesses = detect_change(arrays, CHANGE_HEURISTICS, exclude_rows=np.flatnonzero(cj.mask),
                                first_seen=ctx["first_seen"])
        guesses["consensus"] = change_consensus(dict(guesses), arrays.n_tx)
        texts = self.store.clusters.addresses_text(c, [int(a) for a in arrays.out_address if a >= 0])
        change: dict[str, Any] = {}
        for h, g in guesses.items():
            hit = np.flatnonzero(g.tx_row == row)
            if len(hit) == 0:
                change[h] = None
                continue
            ev = g.evidence(int(hit[0]), arrays).to_dict()
            ev["details"]["address"] = texts.get(ev["details"]["address_id"])
            change[h] = ev
        ev_cj = cj.evidence(row)
        return {"txid": t, "chain": c, "coinjoin": None if ev_cj is None else ev_cj.to_dict(), "change": change,
                "inputs_known": bool(arrays.n_in[row] > 0 and (arrays.in_address[arrays.in_tx == ctx["tx_id"]] >= 0).all())}

    #: ledger transaction kinds of the training worlds -> CoinJoin detector types
    _TRAINING_COINJOIN_KINDS: ClassVar[dict[str, str]] = {"coinjoin-wasabi": "wasabi1", "coinjoin-wasabi2": "wasabi2",
                                                          "coinjoin-whirlpool": "whirlpool",
                                                          "coinjoin-joinmarket": "joinmarket"}

    def eval_clustering(self, *, seeds: Sequence[int] = (1, 2, 3), typology: str | None = None,
                        difficulty: int = 1, size: int | None = None,
                        cards_dir: str | Path | None = None) -> dict[str, Any]:
        """Measure the clustering heuristics on generated training worlds (ground truth: the answer key)
        and, with ``cards_dir``, write the heuristic cards there. Each world is written as blk files,
        ingested through the real parser into a scratch workspace, and clustered from the store's arrays."""
        import tempfile

        from chainsleuth.algorithms.clustering.evaluation import combine, evaluate_world, render_cards
        from chainsleuth.algorithms.patterns.coinjoin import COINJOIN_TYPES
        from chainsleuth.algorithms.txarrays import TxArrays
        from chainsleuth.sources.btc.writer import write_blk_files
        from chainsleuth.training.typologies import DEFAULT_SIZE, TYPOLOGIES, generate_world

        typ = typology or TYPOLOGIES.names()[0]
        typs = TYPOLOGIES.names() if typ == "all" else [typ]
        for x in typs:
            TYPOLOGIES.get(x)
        if not seeds:
            raise InvalidInput("give at least one seed", field="--seeds")
        results, worlds = [], []
        for x, seed in ((x, s_) for x in typs for s_ in seeds):
            world, key = generate_world(x, difficulty, int(seed), size=size or DEFAULT_SIZE)
            kinds = {txid: self._TRAINING_COINJOIN_KINDS.get(k)
                     for txid, k in zip(world.btc_txids, world.btc.tx_kind, strict=False)}
            with tempfile.TemporaryDirectory(prefix="chainsleuth-eval-") as d:
                net = get_chain("btc").btc_network
                assert net is not None
                write_blk_files(world.btc_blocks, Path(d) / "btc", net)
                with Workspace(Path(d) / "ws", settings=self.settings) as sub:
                    sub.ingest_btc_blocks([Path(d) / "btc"], chain="btc")
                    cs = sub.store.clusters
                    cols, names = cs.tx_arrays("btc")
                    t = TxArrays.from_columns(cols, names)
                    n = cs.input_status("btc")["addresses"]
                    texts = cs.addresses_text("btc", list(range(n)))
                    ent: dict[str, int] = {}
                    owner = np.array([ent.setdefault(key.owners[f"btc:{texts[i]}"], len(ent))
                                      if f"btc:{texts.get(i)}" in key.owners else -1 for i in range(n)],
                                     dtype=np.int64)
                    txids = cs.txids("btc", t.tx_id.tolist())
                    truth = [kinds.get(txids[i]) for i in t.tx_id.tolist()]
                    truth = [k if k in COINJOIN_TYPES else None for k in truth]
                    results.append(evaluate_world(t, n, owner, truth, chain="btc"))
            worlds.append({"typology": x, "seed": int(seed), **results[-1]["counts"]})
        pooled = combine(results)
        prov = (f"{len(worlds)} training world(s) (typology {', '.join(typs)}, difficulty {difficulty}, size "
                f"{size or DEFAULT_SIZE}, seeds {', '.join(str(s) for s in seeds)}), chainsleuth {__version__}")
        written: list[str] = []
        if cards_dir is not None:
            out = Path(cards_dir)
            out.mkdir(parents=True, exist_ok=True)
            for name, text in render_cards(pooled, provenance=prov).items():
                (out / name).write_text(text, encoding="utf-8")
                written.append(str(out / name))
        return {"provenance": prov, "worlds": worlds, "results": pooled, "cards": written}

    # -- attribution --------------------------------------------------------------------------------
    def import_tags(self, paths: Sequence[str | Path], *, tlp: str | None = None,
                    max_bytes: int | None = None, workers: int | None = None) -> dict[str, Any]:
        """Import tag files or directories (TagPack .yaml[.gz], ActorPacks, OFAC lists, Etherscan labels,
        tag CSV). Each pack is one transaction; a pack already stored (same name and content) is skipped
        unparsed; a bad pack raises before anything of it is written (packs before it stay imported).
        With ``workers > 1`` packs are parsed ahead in that many spawned processes while earlier ones are
        stored (the calling program must then be safe to import, as for any multiprocessing use)."""
        import os

        from chainsleuth.attribution import TLP_LEVELS, detect_importer, discover_files
        from chainsleuth.attribution.importers import parse_files
        from chainsleuth.attribution.safety import MAX_PACK_BYTES, read_limited

        if tlp is not None and tlp not in TLP_LEVELS:
            raise InvalidInput(f"unknown TLP level {tlp!r}; allowed: {', '.join(TLP_LEVELS)}", field="--tlp",
                               value=tlp)
        t0 = time.perf_counter()
        files = discover_files([Path(p) for p in paths])
        limit = max_bytes or MAX_PACK_BYTES
        store = self.store
        counts = {"new": 0, "unchanged": 0, "replaced": 0}
        packs: list[dict[str, Any]] = []
        warnings: list[dict[str, Any]] = []
        jobs: list[tuple[Path, str]] = []
        for f in files:
            kind = detect_importer(f)
            same = store.tags.pack_with_hash(read_limited(f, limit)[1])
            if same is not None:  # same name and content already stored: nothing to parse or write
                counts["unchanged"] += 1
                packs.append({"uri": str(f), "kind": kind, "status": "unchanged", "same_as": same})
            else:
                jobs.append((f, kind))
        workers = 1 if workers is None else max(1, min(int(workers), os.cpu_count() or 1))
        run_id = store.tags.start_run(";".join(str(p) for p in paths), __version__)
        self.progress.start("import tags", total=len(jobs), unit="files")
        with store.tags.deferred_checkpoint():
            tags_new = self._store_packs(parse_files(jobs, max_bytes=limit, tlp=tlp, workers=workers), run_id,
                                         counts, packs, warnings)
        self.progress.finish()
        store.tags.finish_run(run_id, new=counts["new"], unchanged=counts["unchanged"], replaced=counts["replaced"],
                              tags=tags_new)
        return {"run_id": run_id, "files": len(files), "packs_new": counts["new"],
                "packs_unchanged": counts["unchanged"], "packs_replaced": counts["replaced"], "tags_new": tags_new,
                "tags_total": store.tags.count(), "packs": packs, "warnings": warnings,
                "seconds": round(time.perf_counter() - t0, 3)}

    def _store_packs(self, parsed_packs: Any, run_id: int, counts: dict[str, int], packs: list[dict[str, Any]],
                     warnings: list[dict[str, Any]]) -> int:
        from chainsleuth.attribution import ParsedActorPack

        store = self.store
        tags_new = 0
        for f, parsed in parsed_packs:
            if isinstance(parsed, ParsedActorPack):
                status = store.tags.import_actors(parsed.actors, pack_uri=str(f), content_hash=parsed.content_hash)
                counts[status] += 1
                packs.append({"uri": str(f), "kind": "actorpack", "status": status, "tags": 0,
                              "actors": parsed.actors.num_rows, "warnings": len(parsed.issues)})
            else:
                r = store.tags.import_pack(parsed.tags, uri=parsed.uri, content_hash=parsed.content_hash,
                                           kind=parsed.kind, title=parsed.title, creator=parsed.creator,
                                           description=parsed.description, is_public=parsed.is_public,
                                           run_id=run_id, duplicates_merged=parsed.duplicates_merged,
                                           warnings=len(parsed.issues))
                counts[r.status] += 1
                tags_new += r.tags if r.status != "unchanged" else 0
                packs.append({"uri": parsed.uri, "kind": parsed.kind, "status": r.status, "tags": r.tags,
                              "duplicates_merged": parsed.duplicates_merged, "warnings": len(parsed.issues),
                              "same_as": r.same_as})
            warnings += [i.to_dict() for i in parsed.issues]
            self.progress.advance(1, tags=tags_new)
        return tags_new

    @staticmethod
    def _tag_dict(t: dict[str, Any], inherited_via: str | None = None) -> dict[str, Any]:
        return {"label": t["label"], "category": t.get("category") or t.get("abuse"), "abuse": t.get("abuse"),
                "concepts": list(t.get("concepts") or []), "actor": t.get("actor"),
                "actor_label": t.get("actor_label"), "source": t["source"], "creator": t["creator"],
                "confidence": t.get("confidence"), "confidence_level": t.get("confidence_level"),
                "lastmod": t.get("lastmod"), "pack_uri": t.get("pack_uri"), "tlp": t.get("tlp"),
                "is_cluster_definer": bool(t.get("is_cluster_definer")), "origin": t.get("origin"),
                "chain": t.get("chain"), "context": t.get("context"), "inherited_via": inherited_via}

    @staticmethod
    def _tag_identifier(address: str) -> str:
        from chainsleuth.attribution.addresses import normalise_address

        a = address.strip()
        if len(a.removeprefix("0x")) == 64 and all(c in "0123456789abcdefABCDEF" for c in a.removeprefix("0x")):
            return a.lower()  # a transaction hash
        return normalise_address("", a)

    def list_tags(self, address: str, *, chain: str | None = None) -> list[dict[str, Any]]:
        """Every tag of an address (or tx hash), strongest first, with provenance; plus the tags its cluster
        inherits from other members when the address is clustered."""
        ident = self._tag_identifier(address)
        c = get_chain(chain).name if chain and chain in CHAINS else chain
        tags = [self._tag_dict(t) for t in self.store.tags.tags_for(ident, c)]
        for ch in ([c] if c else self.store.utxo.find_address_chains(ident)):  # inherited via a cluster
            tags += self._cluster_tags_of_address(ch, ident)
        return tags

    def _address_tags(self, chain: str, address: str) -> list[dict[str, Any]]:
        """Tags for show_address: the address's own tags and those its cluster inherits."""
        ident = self._tag_identifier(address)
        return [self._tag_dict(t) for t in self.store.tags.tags_for(ident, chain)] + \
            self._cluster_tags_of_address(chain, ident)

    def _cluster_tags_of_address(self, chain: str, ident: str) -> list[dict[str, Any]]:
        clusters = getattr(self.store, "clusters", None)
        if clusters is None or chain not in CHAINS:  # any clustered chain (co-spend or deposit-address)
            return []
        aid = self.store.utxo.address_id(chain, ident)
        cid = None if aid is None else clusters.cluster_of(chain, aid)
        if cid is None:
            return []
        return [t for t in self.cluster_tags(chain, cid) if t["inherited_via"] != ident]

    def cluster_tags(self, chain: str, cluster_id: int, set_id: int | None = None) -> list[dict[str, Any]]:
        """Tags a cluster inherits from its members (cluster definers of strong confidence), each marked
        ``inherited_via`` the member; conflicting entities add a ``warnings`` entry to each tag."""
        from chainsleuth.attribution import STRONG_CONFIDENCE, entity_of, propagate_cluster_tags

        cset = self.store.clusters.get_set(chain, set_id)  # default: the chain's active cluster set
        if cset is None:
            return []
        table = self.store.tags.cluster_member_tags(chain, int(cset["set_id"]), cluster_id,
                                                    min_level=STRONG_CONFIDENCE)
        if table.num_rows == 0:
            return []
        rows = table.to_pylist()
        r = propagate_cluster_tags(
            member=np.array([t["address_id"] for t in rows], dtype=np.int64),
            is_cluster_definer=np.array([bool(t["is_cluster_definer"]) for t in rows]),
            confidence_level=np.array([-1 if t["confidence_level"] is None else t["confidence_level"] for t in rows]),
            entity=[entity_of(t["actor"], t["label"]) for t in rows])
        notes = [e.summary for e in r.conflicts]
        for n in notes:
            self.progress.note(f"cluster {cluster_id} on {chain}: {n}")
        out = []
        for i in r.selected.tolist():
            d = self._tag_dict(rows[i], inherited_via=rows[i]["identifier"])
            if notes:
                d["warnings"] = notes
            out.append(d)
        return out

    def add_tag(self, address: str, *, label: str, source: str, confidence: str, creator: str,
                chain: str | None = None, category: str | None = None, abuse: str | None = None,
                actor: str | None = None, concepts: Sequence[str] = (), tlp: str = "amber",
                is_cluster_definer: bool = False, context: str | None = None, lastmod: int | None = None,
                tx: bool = False) -> dict[str, Any]:
        """An investigator's tag, validated against the taxonomy like an imported one. A tag with the same
        chain, address, label and source from the same creator is replaced, not doubled."""
        from chainsleuth.attribution import TLP_LEVELS, Taxonomy
        from chainsleuth.attribution.addresses import CHAIN_CURRENCY, chain_for
        from chainsleuth.attribution.tagpack import build_pack

        if tlp not in TLP_LEVELS:
            raise InvalidInput(f"unknown TLP level {tlp!r}; allowed: {', '.join(TLP_LEVELS)}", field="--tlp",
                               value=tlp)
        if chain is None:
            guess = chain_for(None, None, address.strip())
            if guess == "unknown":
                raise InvalidInput(f"cannot tell the chain of {address!r}; pass --chain", field="--chain",
                                   value=address)
            chain = guess
        currency = CHAIN_CURRENCY.get(chain, chain.upper())
        fields: dict[str, Any] = {("tx_hash" if tx else "address"): address, "label": label, "source": source,
                                  "confidence": confidence, "currency": currency, "network": currency,
                                  "is_cluster_definer": is_cluster_definer}
        for k, v in (("category", category), ("abuse", abuse), ("actor", actor), ("context", context)):
            if v:
                fields[k] = v
        if concepts:
            fields["concepts"] = list(concepts)
        when = int(time.time()) if lastmod is None else lastmod
        import datetime as _dt

        fields["lastmod"] = _dt.datetime.fromtimestamp(when, _dt.UTC).replace(tzinfo=None)
        pk = build_pack({"title": "investigator tag", "creator": creator}, [(1, fields)], kind="investigator",
                        file="tags add", uri=f"investigator:{creator}", content_hash="", taxonomy=Taxonomy.packaged(),
                        tlp=tlp)
        if pk.tags["chain"][0].as_py() != chain:  # an explicit chain wins over the currency mapping
            import dataclasses as _dc

            import pyarrow as _pa

            pk = _dc.replace(pk, tags=pk.tags.set_column(0, "chain", _pa.array([chain], type=_pa.string())))
        ids = self.store.tags.add_investigator_tags(pk.tags, creator=creator)
        tags = [t for t in self.store.tags.tags_for(pk.tags["identifier"][0].as_py(), chain)
                if t["tag_id"] in ids]
        return {"tag_id": ids[0] if ids else None, "tag": self._tag_dict(tags[0]) if tags else None,
                "warnings": [i.to_dict() for i in pk.issues if i.field != "actor"]}

    def export_tags(self, out: str | Path | None = None, *, all_tags: bool = False, pack: str | None = None,
                    max_tlp: str = "amber", title: str | None = None, creator: str | None = None) -> str:
        """Investigator tags (or all, or one pack's) as TagPack YAML; written to ``out`` when given. Tags
        above ``max_tlp`` (default amber: red tags stay in the workspace) are left out."""
        from chainsleuth.attribution import tagpack_yaml

        table = self.store.tags.export_table(origin=None if (all_tags or pack) else "investigator", pack_uri=pack)
        rows = table.to_pylist()
        creators = sorted({r["creator"] for r in rows})
        text = tagpack_yaml(rows, title=title or ("chainsleuth tags" + (f" of {pack}" if pack else "")),
                            creator=creator or (", ".join(creators) if creators else "chainsleuth"),
                            description=f"Exported from workspace {self.path.name}", max_tlp=max_tlp)
        if out is not None:
            Path(out).write_text(text, encoding="utf-8")
        return text

    def screen(self, source: str | Path | Sequence[str]) -> dict[str, Any]:
        """Screen a list of addresses (a file: one address a line, optionally 'chain,address' or a CSV with an
        'address' column; or a list): hits (tags on the address itself) and direct exposure (value exchanged
        with tagged counterparties, by category) from the workspace's chain data."""
        from chainsleuth.attribution import direct_exposure, hit_record

        entries = self._screen_entries(source)
        idents = sorted({self._tag_identifier(a) for _, a in entries})
        hits_table = self.store.tags.tags_table(idents) if idents else None
        by_ident: dict[str, list[dict[str, Any]]] = {}
        for t in (hits_table.to_pylist() if hits_table is not None else []):
            by_ident.setdefault(t["identifier"], []).append(t)
        exposure: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for chain in self.store.utxo.chains() + self.store.account.chains():
            model = get_chain(chain).model if chain in CHAINS else Model.UTXO
            ids = self.store.tags.address_ids(chain, idents)
            if not ids:
                continue
            flows = (self.store.tags.utxo_counterparties(chain, list(ids.values())) if model is Model.UTXO
                     else self.store.tags.account_counterparties(chain, list(ids.values())))
            cps = sorted(set(flows["counterparty"].to_pylist())) if flows.num_rows else []
            cp_tags: dict[str, list[dict[str, Any]]] = {}
            if cps:
                for t in self.store.tags.tags_table(cps, chain).to_pylist():
                    cp_tags.setdefault(t["identifier"], []).append(t)
            exp = direct_exposure(flows, cp_tags)
            back = {v: k for k, v in ids.items()}
            for aid, entries_ in exp.items():
                exposure[(chain, back[aid])] = entries_
            for ident in ids:
                exposure.setdefault((chain, ident), [])
        results = []
        n_hit = 0
        for chain, raw in entries:
            ident = self._tag_identifier(raw)
            hits = [hit_record(t) for t in by_ident.get(ident, []) if chain is None or t["chain"] == chain]
            n_hit += bool(hits)
            exp_entries = [dict(e, chain=ch) for (ch, a), es in exposure.items() if a == ident
                           and (chain is None or ch == chain) for e in es]
            in_ws = [ch for (ch, a) in exposure if a == ident and (chain is None or ch == chain)]
            results.append({"address": raw, "chain": chain, "hits": hits, "exposure": exp_entries,
                            "in_workspace": in_ws})
        return {"screened": len(entries), "with_hits": n_hit,
                "with_exposure": sum(1 for r in results if r["exposure"]), "results": results}

    @staticmethod
    def _screen_entries(source: str | Path | Sequence[str]) -> list[tuple[str | None, str]]:
        import csv as _csv
        import io as _io

        if isinstance(source, (str, Path)):
            p = Path(source)
            if not p.is_file():
                raise NotFound(f"{p}: no such file", file=str(p))
            text = p.read_text(encoding="utf-8-sig")
            lines = text.splitlines()
            first = lines[0].lower() if lines else ""
            if "address" in [c.strip() for c in first.split(",")]:
                rows = list(_csv.DictReader(_io.StringIO(text)))
                return [((r.get("chain") or "").strip() or None, r["address"].strip()) for r in rows
                        if (r.get("address") or "").strip()]
        else:
            lines = list(source)
        out: list[tuple[str | None, str]] = []
        for i, ln in enumerate(lines, start=1):
            s = ln.strip()
            if not s or s.startswith("#"):
                continue
            parts = [x for x in s.replace(",", " ").split() if x]
            if len(parts) == 1:
                out.append((None, parts[0]))
            elif len(parts) == 2:
                out.append((parts[0].lower(), parts[1]))
            else:
                raise InvalidInput(f"line {i}: expected 'ADDRESS' or 'CHAIN,ADDRESS', got {s!r}", line=i, value=s)
        return out

    # -- tracing ------------------------------------------------------------------------------------
    # Trace JSON, compare table, Sankey, exposure, path and peel chains (docs/tracing.md). The engine works
    # on arrays exported once per chain (store.graph) and cached here until the chain's data changes.
    _TX_RE = r"(?:0x)?([0-9a-fA-F]{64})(?::(\d+))?"

    def _trace_graph(self, chain: str, asset_id: int | None = None) -> Any:
        from chainsleuth.algorithms.tracing import AccountGraph, UtxoGraph

        cache: dict[Any, Any] = self.__dict__.setdefault("_trace_cache", {})
        utxo = get_chain(chain).model is Model.UTXO
        version = self.store.graph.utxo_version(chain) if utxo else self.store.graph.account_version(chain)
        key = (chain, asset_id)
        if key in cache and cache[key][0] == version:
            return cache[key][1]
        if utxo:
            a = self.store.graph.utxo_arrays(chain)
            g = UtxoGraph.build(int(a["n_tx"]), in_tx=a["in_tx"], in_value=a["in_value"], in_prev=a["in_prev"],
                                in_addr=a["in_addr"], out_tx=a["out_tx"], out_value=a["out_value"],
                                out_addr=a["out_addr"], is_coinbase=a["is_coinbase"])
            g.extra.update(out_n=a["out_n"], time=a["tx_time"], height=a["tx_height"])
        else:
            a = self.store.graph.account_arrays(chain, -1 if asset_id is None else asset_id)
            zero = self.store.graph.address_ids(chain, ["0x" + "0" * 40]).get("0x" + "0" * 40)
            if zero is not None:        # token mints come from, and burns go to, the zero address: nobody
                a["from"][a["from"] == zero] = -1
                a["to"][a["to"] == zero] = -1
            g = AccountGraph.build(self.store.graph.n_addresses(chain), ev_from=a["from"], ev_to=a["to"],
                                   ev_value=a["value"], ev_tx=a["tx"], ev_fee=a["fee"])
            g_extra = {"time": a["time"], "height": a["height"], "index": a["index"], "asset": a["asset"]}
            g.__dict__["extra"] = g_extra
        cache[key] = (version, g)
        return g

    def _trace_source(self, source: str, chain: str | None, asset: str | None, direction: str
                      ) -> tuple[str, Any, list[Any], str, int | None]:
        """(chain, graph, seeds, asset label, asset id) for a source ``txid:vout``, ``txid`` or address;
        several sources separated by commas are traced together (they must be on one chain)."""
        parts = [p.strip() for p in source.split(",") if p.strip()]
        if not parts:
            raise InvalidInput("empty trace source: give TXID:VOUT, TXID or an address", field="source", value=source)
        if len(parts) > 1:
            got = [self._trace_source(p, chain, asset, direction) for p in parts]
            if len({x[0] for x in got}) > 1:
                raise InvalidInput(f"trace sources are on different chains ({', '.join(sorted({x[0] for x in got}))})",
                                   field="source", value=source)
            return got[0][0], got[0][1], [s for x in got for s in x[2]], got[0][3], got[0][4]
        source = parts[0]
        if source.startswith("cluster:"):          # every output paid to the cluster's members (UTXO chains)
            c = chain or self._cluster_chain(None)
            members = self._path_endpoints(source, c)
            g = self._trace_graph(c)
            if get_chain(c).model is not Model.UTXO:
                raise Unsupported("cluster sources are for UTXO chains", value=source)
            return c, g, np.flatnonzero(np.isin(g.out_addr, members)).tolist(), get_chain(c).native_asset, None
        m = re.fullmatch(self._TX_RE, source.strip())
        if m:
            txid, n = m.group(1).lower(), m.group(2)
            finders = [self.store.utxo.find_tx_chains, lambda t: self.store.account.find_tx_chains("0x" + t)]
            c = self._utxo_chain_for(lambda t: sorted({x for f in finders for x in f(t)}), txid, chain, "transaction")
        else:
            addr = source.strip()
            low = normalize_address(addr) if is_address(addr) else addr
            c = self._utxo_chain_for(lambda a: sorted(set(self.store.utxo.find_address_chains(a) +
                                                          self.store.account.find_address_chains(low))),
                                     addr, chain, "address")
        if get_chain(c).model is Model.UTXO:
            if asset not in (None, "native", get_chain(c).native_asset):
                raise InvalidInput(f"{c} has one asset ({get_chain(c).native_asset}); got --asset {asset}",
                                   field="--asset", value=asset)
            g = self._trace_graph(c)
            if m:
                ids = self.store.graph.tx_ids(c, txid)
                if not ids:
                    raise NotFound(f"transaction {txid} is not in this workspace on {c}", value=txid)
                lo, hi = int(g.tx_out_ptr[ids[0]]), int(g.tx_out_ptr[ids[0] + 1])
                if n is not None:
                    if int(n) >= hi - lo:
                        raise InvalidInput(f"output index {n} is out of range: transaction {txid} has {hi - lo} "
                                           f"output(s), 0..{hi - lo - 1}", field="vout", value=source)
                    rows = [lo + int(n)]
                else:
                    rows = list(range(lo, hi))
            else:
                aid = self.store.utxo.address_id(c, addr)
                if aid is None:
                    raise NotFound(f"address {addr} is not in this workspace on {c}", value=addr)
                rows = np.flatnonzero(g.out_addr == aid).tolist()
            return c, g, rows, get_chain(c).native_asset, None
        asset_id = None
        label = get_chain(c).native_asset
        if asset not in (None, "native", label):
            if is_address(str(asset)):
                ids_ = list(self.store.graph.address_ids(c, [normalize_address(str(asset))]).values())
            else:
                ids_ = self.store.graph.token_ids(c, str(asset))
            if len(ids_) != 1:
                raise (NotFound if not ids_ else InvalidInput)(
                    f"asset {asset} is {'not a token in this workspace' if not ids_ else 'ambiguous'} on {c}; "
                    "give the token contract address", field="--asset", value=asset)
            asset_id = ids_[0]
            label = to_checksum_address(self.store.graph.addresses(c, [asset_id])[asset_id])
        g = self._trace_graph(c, asset_id)
        if m:
            tx_ids = self.store.graph.account_tx_ids(c, "0x" + txid)
            if not tx_ids:
                raise NotFound(f"transaction 0x{txid} is not in this workspace on {c}", value=source)
            sel = np.flatnonzero((g.ev_tx == tx_ids[0]) & ~g.ev_fee)
            if n is not None:
                sel = sel[g.extra["index"][sel] == int(n)]
            if not sel.size:
                raise InvalidInput(f"transaction 0x{txid} moved no {label}" + (f" at transfer index {n}" if n else ""),
                                   field="source", value=source)
            rows = sel.tolist()
        else:
            aid = self.store.graph.address_ids(c, [low]).get(low)
            if aid is None:
                raise NotFound(f"address {addr} is not in this workspace on {c}", value=addr)
            held = self.store.graph.account_assets(c, aid)
            if (-1 if asset_id is None else asset_id) not in held:
                raise InvalidInput(f"address {addr} never held {label} on {c}", field="--asset", value=label)
            rows = np.flatnonzero((g.ev_to == aid) & (g.ev_from != aid) & ~g.ev_fee).tolist()
        return c, g, [(r, g.ev_value[r]) for r in rows], label, asset_id

    def _attributions(self, chain: str) -> tuple[dict[int, tuple[str | None, str | None]], Any, int | None]:
        """Best tag (entity, category) per address id, cluster labels (or None) and the cluster set id."""
        att = self.store.graph.address_attributions(chain)
        best: dict[int, tuple[str | None, str | None]] = {}
        for a, ent, cat in zip(att["address_id"].tolist(), att["entity"].tolist(), att["category"].tolist(),
                               strict=True):
            if a not in best or (best[a][1] is None and cat):
                best[a] = (ent, cat or None)
        labels, set_id = None, None
        if get_chain(chain).model is Model.UTXO:
            s = self.store.clusters.get_set(chain)
            if s is not None:
                set_id = int(s["set_id"])
                labels = self.store.clusters.labels(chain, set_id)
                # tags of cluster-defining addresses describe their whole cluster
                by_cluster = {int(labels[a]): best[a] for a, d in zip(att["address_id"].tolist(),
                              att["cluster_definer"].tolist(), strict=True) if d and a < labels.size and a in best}
                if by_cluster:
                    for a in np.flatnonzero(np.isin(labels, list(by_cluster))).tolist():
                        best.setdefault(a, by_cluster[int(labels[a])])
        return best, labels, set_id

    def _stop_mask(self, chain: str, n_addr: int, best: dict[int, tuple[str | None, str | None]],
                   stop: tuple[str, ...]) -> np.ndarray:
        from chainsleuth.attribution.taxonomy import Taxonomy

        tax = Taxonomy.packaged()
        unknown = [s for s in stop if s not in tax.concepts]
        if unknown:
            raise InvalidInput(f"unknown --stop-at categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
                               "use GraphSense taxonomy concepts such as exchange, mixing_service, defi_bridge, "
                               "gambling, defi (or mixer, bridge)", field="--stop-at", value=",".join(unknown))
        cats = {c for _, c in best.values() if c}
        stopping = {c for c in cats if any(tax.is_a(c, s) for s in stop)}
        mask = np.zeros(max(n_addr, 1), dtype=bool)
        for a, (_, c) in best.items():
            if c in stopping and a < mask.size:
                mask[a] = True
        return mask

    def _trace_run(self, source: str, *, direction: str, policy: str, max_hops: int, min_amount: int,
                   stop_at: str | Sequence[str] | None, chain: str | None, asset: str | None, max_degree: int,
                   max_edges: int) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """The Trace JSON and, per address text in it, its attribution (entity, category, cluster)."""
        from chainsleuth.algorithms.tracing import (
            TraceLimits,
            get_policy,
            normalise_stop_at,
            trace_account,
            trace_utxo,
        )
        from chainsleuth.algorithms.tracing.report import Attribution, IdView, trace_document

        if direction not in ("forward", "backward"):
            raise InvalidInput(f"direction must be forward or backward, not {direction!r}", field="direction",
                               value=direction)
        pol = get_policy(policy)
        if max_hops < 0 or min_amount < 0 or max_degree < 1 or max_edges < 1:
            raise InvalidInput("--max-hops and --min-amount must be >= 0, --max-degree and --max-edges >= 1",
                               value=f"{max_hops}/{min_amount}/{max_degree}/{max_edges}")
        stop = normalise_stop_at(stop_at)
        c, g, seeds, asset_label, _ = self._trace_source(source, chain, asset, direction)
        utxo = get_chain(c).model is Model.UTXO
        best, labels, _ = self._attributions(c)
        n_addr = self.store.graph.n_addresses(c)
        mask = self._stop_mask(c, n_addr, best, stop)
        lim = TraceLimits(max_hops=max_hops, min_amount=min_amount, max_degree=max_degree, max_edges=max_edges)
        if utxo:
            r = trace_utxo(g, seeds, direction=direction, policy=pol, limits=lim, stop_mask=mask)
            view = IdView(g.in_addr[r.e_from] if r.e_from.size else r.e_from, g.out_addr[r.e_to],
                          g.extra["time"][r.e_tx], g.extra["height"][r.e_tx],
                          np.where(r.ep_item >= 0, g.out_addr[np.maximum(r.ep_item, 0)], -1))
            txids = self.store.graph.txids(c, [*r.e_tx.tolist(), *r.ep_tx.tolist()])
        else:
            # an address as source: every transfer it received (forward: where that went; backward: where the
            # payers' money came from), like every output paid to it on UTXO chains
            r = trace_account(g, seeds, direction=direction, policy=pol, limits=lim, stop_mask=mask)
            view = IdView(r.e_from, r.e_to, g.extra["time"][r.e_row], g.extra["height"][r.e_row], r.ep_item)
            txids = self.store.graph.account_tx_hashes(c, [*r.e_tx.tolist(), *r.ep_tx.tolist()])
        ids = {int(x) for x in (*view.e_from_addr.tolist(), *view.e_to_addr.tolist(), *view.ep_addr.tolist())} - {-1}
        names = self.store.graph.addresses(c, list(ids))
        if not utxo:
            names = {k: to_checksum_address(v) for k, v in names.items()}
        attrib = {a: Attribution(cluster=(int(labels[a]) if labels is not None and a < labels.size else None),
                                 entity=best.get(a, (None, None))[0], category=best.get(a, (None, None))[1])
                  for a in ids}
        cset = self.store.clusters.get_set(c) if utxo else None
        prov = {"software_version": __version__, "chain": c, **self.store.graph.ingest_provenance(c),
                "parameters": {"policy": pol.name, "direction": direction, "max_hops": max_hops,
                               "min_amount": min_amount, "stop_at": list(stop), "max_degree": max_degree,
                               "max_edges": max_edges, "asset": asset_label},
                "tag_sources": self.store.graph.tag_sources(c),
                "cluster_set": None if cset is None else {"set_id": cset["set_id"], "name": cset["name"],
                                                          "heuristics": cset["heuristics"]}}
        doc = trace_document(r, view, source=source, max_hops=max_hops, asset=asset_label, txid=txids,
                             address=names, attribution=attrib, provenance=prov)
        return doc, {names[a]: {"entity": at.entity, "category": at.category, "cluster": at.cluster}
                     for a, at in attrib.items() if a in names}

    def trace(self, source: str, direction: str = "forward", policy: str = "haircut", max_hops: int = 10,
              min_amount: int = 0, stop_at: str | Sequence[str] | None = None, chain: str | None = None, *,
              asset: str | None = None, max_degree: int = 5000, max_edges: int = 1_000_000) -> dict[str, Any]:
        """Trace value from ``source`` (``txid:vout``, ``txid`` or address; on account chains ``txhash:index``
        picks one transfer) forward or backward under ``policy``; the Trace JSON of DESIGN.md.

        Unknown txid/address -> NotFound; output index out of range, unknown policy or stop category, an asset
        the address never held -> InvalidInput. Limits that were hit are listed in ``provenance.limits_hit``.
        """
        return self._trace_run(source, direction=direction, policy=policy, max_hops=max_hops, min_amount=min_amount,
                               stop_at=stop_at, chain=chain, asset=asset, max_degree=max_degree,
                               max_edges=max_edges)[0]

    def trace_compare_policies(self, source: str, direction: str = "forward", *, policies: Sequence[str] | None = None,
                               **kw: Any) -> dict[str, Any]:
        """Every endpoint's amount under every policy, one table (``rows[].amounts[policy]``)."""
        from chainsleuth.algorithms.tracing import POLICIES
        from chainsleuth.algorithms.tracing.report import compare_table

        docs: dict[str, dict[str, Any] | None] = {}
        for p in policies or POLICIES.names():
            try:
                docs[p] = self.trace(source, direction, p, **kw)
            except Unsupported:
                docs[p] = None
        out = compare_table(docs)
        first = next((d for d in docs.values() if d is not None), None)
        return {"source": source, "direction": direction, **out,
                "provenance": {k: v for k, v in (first or {}).get("provenance", {}).items()
                               if k not in ("totals", "endpoint_reasons", "limits_hit", "conserved")}}

    def trace_sankey(self, source: str, direction: str = "forward", policy: str = "haircut", **kw: Any) -> dict[str, Any]:
        """A trace aggregated for a Sankey diagram (nodes per hop and entity/cluster/address, summed links)."""
        from chainsleuth.algorithms.tracing.report import sankey

        kw.setdefault("max_hops", 10)
        kw.setdefault("min_amount", 0)
        kw = {"stop_at": None, "chain": None, "asset": None, "max_degree": 5000, "max_edges": 1_000_000, **kw}
        doc, att = self._trace_run(source, direction=direction, policy=policy, **kw)
        # intermediate addresses are grouped by entity, else cluster: a peel chain of one owner is one node
        return {"source": source, "direction": direction, "policy": doc["policy"], **sankey(doc, att)}

    def exposure(self, source: str, direction: str = "forward", policy: str = "haircut", *, max_hops: int = 6,
                 **kw: Any) -> dict[str, Any]:
        """Direct and indirect exposure by category and entity: destination of funds (forward) or source of
        funds (backward), stopping at every attributed service category by default."""
        from chainsleuth.algorithms.tracing.report import exposure_table

        return exposure_table(self.trace(source, direction, policy, max_hops, **kw))

    def _path_endpoints(self, ref: str, chain: str) -> np.ndarray:
        s = ref.strip()
        if s.startswith("cluster:"):
            sid = self.store.clusters.get_set(chain)
            if sid is None:
                raise NotFound(f"{chain} has no cluster set; run 'chainsleuth cluster' first", value=ref)
            labels = self.store.clusters.labels(chain, int(sid["set_id"]))
            members = np.flatnonzero(labels == int(s.split(":", 1)[1]))
            if not members.size:
                raise NotFound(f"cluster {s.split(':', 1)[1]} is not in the active cluster set of {chain}", value=ref)
            return members
        low = normalize_address(s) if is_address(s) else s
        aid = self.store.graph.address_ids(chain, [low]).get(low)
        if aid is None:
            raise NotFound(f"address {s} is not in this workspace on {chain}", value=s)
        return np.asarray([aid], dtype=np.int64)

    def find_path(self, src: str, dst: str, *, max_depth: int = 6, max_degree: int = 1000,
             chain: str | None = None) -> dict[str, Any]:
        """Shortest money-flow path from ``src`` to ``dst`` (addresses or ``cluster:ID``), with its transactions.

        Raises LimitExceeded when the search stopped at ``max_depth`` or skipped hubs before finding one, and
        NotFound when no path exists in the data.
        """
        from chainsleuth.algorithms.tracing.path import account_path, utxo_path
        from chainsleuth.errors import LimitExceeded

        probe = dst if src.startswith("cluster:") else src
        c = chain or self._utxo_chain_for(
            lambda a: sorted(set(self.store.utxo.find_address_chains(a) +
                                 self.store.account.find_address_chains(normalize_address(a) if is_address(a) else a))),
            probe, None, "address") if not (src.startswith("cluster:") and dst.startswith("cluster:")) else (
            chain or self._cluster_chain(None))
        a, b = self._path_endpoints(src, c), self._path_endpoints(dst, c)
        utxo = get_chain(c).model is Model.UTXO
        g = self._trace_graph(c, None if utxo else -2)     # EVM: a path may move any fungible asset
        if utxo:
            r = utxo_path(g, a, b, n_addr=self.store.graph.n_addresses(c), max_depth=max_depth, max_degree=max_degree)
        else:
            r = account_path(g, a, b, max_depth=max_depth, max_degree=max_degree)
        if not r.found:
            stuck = r.depth_searched >= max_depth or r.skipped_hubs
            msg = (f"no path from {src} to {dst} within {r.depth_searched} step(s) (visited {r.visited} addresses, "
                   f"skipped {r.skipped_hubs} hub(s) over --max-degree {max_degree})")
            if stuck:
                raise LimitExceeded(msg + f"; raise --max-depth (now {max_depth}) or --max-degree",
                                    limit="max_depth" if r.depth_searched >= max_depth else "max_degree")
            raise NotFound(msg, value=f"{src} -> {dst}")
        names = self.store.graph.addresses(c, [x for s in r.steps for x in s[1:3]])
        if utxo:
            txids = self.store.graph.txids(c, [s[0] for s in r.steps])
            vals = [int(g.out_value[s[3]]) for s in r.steps]
            times = [(int(g.extra["height"][s[0]]), int(g.extra["time"][s[0]])) for s in r.steps]
        else:
            names = {k: to_checksum_address(v) for k, v in names.items()}
            txids = self.store.graph.account_tx_hashes(c, [s[0] for s in r.steps])
            vals = [int(g.ev_value[s[3]]) for s in r.steps]
            times = [(int(g.extra["height"][s[3]]), int(g.extra["time"][s[3]])) for s in r.steps]
            tok = self.store.graph.addresses(c, [int(g.extra["asset"][s[3]]) for s in r.steps])
            assets = [to_checksum_address(tok[i]) if (i := int(g.extra["asset"][s[3]])) in tok
                      else get_chain(c).native_asset for s in r.steps]
        if utxo:
            assets = [get_chain(c).native_asset] * len(r.steps)
        steps = [{"hop": i + 1, "txid": txids.get(s[0]), "from": names.get(s[1]), "to": names.get(s[2]),
                  "amount": v, "asset": asset, "height": h, "time": t}
                 for i, (s, v, asset, (h, t)) in enumerate(zip(r.steps, vals, assets, times, strict=True))]
        return {"from": src, "to": dst, "chain": c, "found": True, "hops": len(steps), "steps": steps,
                "searched": {"depth": r.depth_searched, "visited": r.visited, "skipped_hubs": r.skipped_hubs,
                             "max_depth": max_depth, "max_degree": max_degree}}

    def peel_chain(self, source: str, *, max_hops: int = 100, chain: str | None = None) -> dict[str, Any]:
        """Follow a peel chain from ``txid:vout``, keeping to the change output; every step with its evidence."""
        from chainsleuth.algorithms.tracing.peel import follow_peel_chain

        c, g, rows, _, _ = self._trace_source(source, chain, None, "forward")
        if get_chain(c).model is not Model.UTXO or len(rows) != 1:
            raise InvalidInput("a peel chain starts at one Bitcoin output: give TXID:VOUT", value=source)
        steps, why = follow_peel_chain(g, rows[0], max_hops=max_hops)
        txids = self.store.graph.txids(c, [s.tx for s in steps])
        names = self.store.graph.addresses(c, [int(g.out_addr[r]) for s in steps for r in (s.change_row, s.peeled_row)])

        def out(row: int) -> dict[str, Any]:
            return {"n": int(g.extra["out_n"][row]), "address": names.get(int(g.out_addr[row])),
                    "value": int(g.out_value[row])}

        return {"source": source, "chain": c, "ended": why, "hops": len(steps),
                "steps": [{"hop": s.hop, "txid": txids.get(s.tx), "change": out(s.change_row),
                           "peeled": out(s.peeled_row), "evidence": s.evidence.to_dict()} for s in steps]}

    # -- demo -----------------------------------------------------------------------------------------
    @staticmethod
    def _case_starts(facts: dict[str, Any]) -> list[dict[str, Any]]:
        """Where a training case's trace starts, from the facts its brief gives the trainee."""
        starts = [{"chain": "eth" if str(v["txid"]).startswith("0x") else "btc", "txid": v["txid"],
                   "address": v["address"], "asset": v.get("asset")} for v in facts.get("victims", [])]
        if isinstance(facts.get("theft"), dict):
            t = facts["theft"]
            starts.append({"chain": "eth" if str(t["txid"]).startswith("0x") else "btc", "txid": t["txid"],
                           "address": t["address"], "asset": t.get("asset")})
        if facts.get("sanctioned_address"):
            a = str(facts["sanctioned_address"])
            starts.append({"chain": "eth" if a.startswith("0x") else "btc", "txid": None, "address": a, "asset": None})
        return starts

    def _start_source(self, st: dict[str, Any]) -> str:
        """``txid:vout`` of the output paying the start address (Bitcoin), the tx hash (EVM), or the address."""
        if st["txid"] is None:
            return str(st["address"])
        if st["chain"] != "btc":
            return str(st["txid"])
        tx = self.show_tx(str(st["txid"]), chain="btc")
        outs = [o.n for o in tx.outputs if o.address == st["address"]]
        return f"{st['txid']}:{outs[0]}" if outs else str(st["txid"])

    def demo(self, *, typology: str = "ransomware", difficulty: int = 1, seed: int = 7, size: int = 2000,
             policies: Sequence[str] = ("haircut", "fifo"), max_hops: int = 12) -> dict[str, Any]:
        """The main job on a generated case: generate a training world, ingest it through the real adapters
        (blk files, ethereum-etl CSV), import its tags, cluster, trace from the case's starting point under
        two policies, and report where the proceeds went and the exposure. Returns one JSON-ready dict."""
        from chainsleuth.training import TYPOLOGIES, generate_world

        if typology not in TYPOLOGIES:
            TYPOLOGIES.get(typology)        # raises InvalidInput listing the typologies
        p = self.progress
        steps = iter(["generate the world", "ingest Bitcoin blocks", "ingest Ethereum export", "import tags",
                      "cluster", "trace the proceeds"])

        def step() -> None:
            p.finish()
            p.start(f"demo: {next(steps)}", total=None)

        step()
        world, key = generate_world(typology, difficulty=difficulty, seed=seed, size=size)
        out_dir = self.path / "demo" / f"{typology}-d{difficulty}-s{seed}"
        paths = world.write(out_dir)
        step()
        ing_btc = self.ingest_btc_blocks([paths["btc"]]) if paths.get("btc") else None
        step()
        ing_eth = self.ingest_etl(paths["eth"], chain="eth") if paths.get("eth") else None
        step()
        tags = self.import_tags([Path(paths["tags"]).parent]) if paths.get("tags") else {"tags_new": 0}   # + actors
        step()
        try:
            cl: dict[str, Any] | None = self.cluster("btc")
        except ChainsleuthError as e:        # clustering unavailable on this data: say so, keep going
            cl = None
            p.note(f"clustering skipped: {e}")
        step()
        starts = self._case_starts(key.facts)
        by_chain: dict[tuple[str, str | None], list[str]] = {}
        for st in starts:
            by_chain.setdefault((st["chain"], st["asset"]), []).append(self._start_source(st))
        traces: dict[str, Any] = {}
        for (chain, asset), sources in by_chain.items():
            src = ",".join(sources)
            asset_arg = None if asset in (None, "BTC", "ETH") else asset
            if asset_arg and chain != "btc" and not self.store.graph.token_ids(chain, asset_arg):
                moved = self.store.graph.tx_assets(chain, sources[0])   # no token metadata: the start tx's token
                asset_arg = moved[0] if len(moved) == 1 else asset_arg
            for pol in policies:
                doc = self.trace(src, "forward", pol, max_hops, 0, None, chain, asset=asset_arg)
                traces.setdefault(f"{chain}:{asset or 'native'}", {"source": src, "chain": chain,
                                                                     "docs": {}})["docs"][pol] = doc
                p.advance(1, policy=pol)
        p.finish()
        proceeds: dict[tuple[str, str, Any, Any], dict[str, Any]] = {}
        exposure: dict[str, Any] = {}
        from chainsleuth.algorithms.tracing.report import exposure_table

        for name, tr in traces.items():
            for pol, doc in tr["docs"].items():
                for ep in doc["endpoints"]:
                    k = (name, ep["entity"] or ep["address"] or "(unknown)", ep["category"], None)
                    row = proceeds.setdefault(k, {"chain": name, "entity": k[1], "category": k[2], "hops": ep["hops"],
                                                  "amounts": {q: 0 for q in policies}})
                    row["amounts"][pol] += ep["amount"]
                    row["hops"] = min(row["hops"], ep["hops"])
            exposure[name] = exposure_table(tr["docs"][policies[0]])
        key_check = [{"entity": c.entity_name, "chain": c.chain, "asset": c.asset, "amount": c.amount}
                     for c in key.cashouts]
        return {
            "world": {"typology": typology, "difficulty": difficulty, "seed": seed, "dir": str(out_dir),
                      "btc_transactions": world.btc.n_txs, "eth_transactions": world.evm.n_txs},
            "ingest": {"btc": ing_btc.model_dump() if ing_btc else None,
                       "eth": ing_eth.model_dump() if ing_eth else None},
            "tags_new": tags.get("tags_new", 0),
            "clusters": None if cl is None else {k: cl.get(k) for k in ("set_id", "name", "clusters", "addresses")},
            "starts": starts, "policies": list(policies),
            "proceeds": sorted(proceeds.values(), key=lambda r: -max(r["amounts"].values())),
            "exposure": exposure,
            "traces": {k: {"source": v["source"], "chain": v["chain"],
                           "totals": {p_: d["provenance"]["totals"] for p_, d in v["docs"].items()},
                           "limits_hit": {p_: d["provenance"]["limits_hit"] for p_, d in v["docs"].items()}}
                       for k, v in traces.items()},
            "answer_key_cashouts": key_check,
            "serve": "not implemented yet: the web workbench does not exist; this is the terminal form",
        }


def _jsonable(v: Any) -> Any:
    return v.model_dump() if hasattr(v, "model_dump") else v
