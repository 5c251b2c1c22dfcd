"""L3: the application facade. The only place that joins store, sources, algorithms, attribution and
workflows. The CLI and the API call a :class:`Workspace` and nothing below it.

Each capability has its section below; a method is parse-free (it takes typed values), returns core
models or plain JSON-ready dicts, and reports long work to the injected progress.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chainsleuth import __version__
from chainsleuth.config import Settings, load_settings
from chainsleuth.core.chains import CHAINS, Model, get_chain
from chainsleuth.core.models import AddressInfo, BlockInfo, IngestSummary, StoreStats, UtxoTxInfo
from chainsleuth.core.progress import NullProgress, Progress
from chainsleuth.errors import InvalidInput, NotFound
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
        chains = [chain] if chain else (self.store.utxo.chains() or ["btc"])
        for c in chains:
            if ref.isdigit():
                row = self.store.utxo.block(c, height=int(ref))
            else:
                if len(ref) != 64 or any(ch not in "0123456789abcdefABCDEF" for ch in ref):
                    raise InvalidInput(f"{ref!r} is neither a block height nor a 64-hex block hash", value=ref)
                row = self.store.utxo.block(c, hash=ref.lower())
            if row is not None:
                return BlockInfo(**row)
        raise NotFound(f"block {ref} is not in this workspace", value=ref)

    def show_tx(self, txid: str, *, chain: str | None = None) -> UtxoTxInfo:
        t = txid.lower().removeprefix("0x")
        if len(t) != 64 or any(ch not in "0123456789abcdef" for ch in t):
            raise InvalidInput(f"{txid!r} is not a transaction id (64 hex digits)", value=txid)
        c = self._utxo_chain_for(self.store.utxo.find_tx_chains, t, chain, "transaction")
        row = self.store.utxo.tx(c, t)
        if row is None:
            raise NotFound(f"transaction {t} is not in this workspace on {c}", value=t)
        return UtxoTxInfo(**row)

    def show_address(self, address: str, *, chain: str | None = None) -> AddressInfo:
        c = self._utxo_chain_for(self.store.utxo.find_address_chains, address, chain, "address")
        s = self.store.utxo.address_summary(c, address)
        if s is None:
            raise NotFound(f"address {address} is not in this workspace on {c}", value=address)
        return AddressInfo(address=address, chain=c, cluster=None, tags=[], received=s["received"], sent=s["sent"],
                           balance=s["balance"], tx_count=s["tx_count"], first_seen=s["first_seen"],
                           last_seen=s["last_seen"])

    def stats(self) -> StoreStats:
        return StoreStats(schema_version=self.store.schema_version(), chains=self.store.utxo.stats())

    @staticmethod
    def known_chains() -> list[str]:
        return sorted(CHAINS)
