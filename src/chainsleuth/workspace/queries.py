"""Look-ups across chains: show block, tx, address; stats (dispatching on the chain's ledger model)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainsleuth import __version__
from chainsleuth.core.account import is_address, normalize_address, to_checksum_address
from chainsleuth.core.btc.script import parse_address
from chainsleuth.core.chains import CHAINS, Model, get_chain
from chainsleuth.core.models import AccountTxInfo, AddressInfo, BlockInfo, StoreStats, UtxoTxInfo
from chainsleuth.core.units import unit_of
from chainsleuth.errors import InvalidInput, NotFound
from chainsleuth.store import Store
from chainsleuth.workspace.attribution import AttributionService
from chainsleuth.workspace.chains import ChainLocator
from chainsleuth.workspace.clustering import ClusteringService

__all__ = ["QueryService"]


class QueryService:
    """The Block, Tx and Address JSON of DESIGN.md, and what the workspace holds.

    Parameters
    ----------
    store : callable returning Store
        The workspace's store, opened on first use.
    chains : ChainLocator
        Which chain a txid or address is on, when no chain is given.
    clustering : ClusteringService
        An address's cluster (id and size).
    attribution : AttributionService
        An address's tags, its own and those its cluster inherits.
    fetcher : callable returning EsploraFetcher or None, optional
        On-demand lookups (the ``esplora_url`` setting): what ``show tx`` / ``show address`` would read is
        fetched first when the store lacks it.
    """

    def __init__(self, store: Callable[[], Store], *, chains: ChainLocator, clustering: ClusteringService,
                 attribution: AttributionService, fetcher: Callable[[], Any] | None = None) -> None:
        self._store = store
        self._chains = chains
        self._clustering = clustering
        self._attribution = attribution
        self._fetcher = fetcher or (lambda: None)

    def show_block(self, ref: str, *, chain: str | None = None) -> BlockInfo:
        """A block by hash (64 hex) or height."""
        store = self._store()
        h = ref.lower().removeprefix("0x")
        if ref.lower().startswith("0x") and (len(h) != 64 or any(ch not in "0123456789abcdef" for ch in h)):
            raise InvalidInput(f"{ref!r} is neither a block height nor a block hash (0x and 64 hex digits)", value=ref)
        chains = [chain] if chain else (store.utxo.chains() + store.account.chains() or ["btc"])
        found: list[BlockInfo] = []
        for c in chains:
            if get_chain(c).model is Model.ACCOUNT:
                row = store.account.block(c, height=int(ref)) if ref.isdigit() else \
                    store.account.block(c, hash="0x" + h) if len(h) == 64 else None
                if row is not None:
                    found.append(BlockInfo(**row))
                continue
            if ref.lower().startswith("0x") and chains != [c]:
                continue   # an EVM-style hash: look on the account chains
            if ref.isdigit():
                row = store.utxo.block(c, height=int(ref))
            else:
                if len(ref) != 64 or any(ch not in "0123456789abcdefABCDEF" for ch in ref):
                    raise InvalidInput(f"{ref!r} is neither a block height nor a 64-hex block hash", value=ref)
                row = store.utxo.block(c, hash=ref.lower())
            if row is not None:
                found.append(BlockInfo(**row))
        if len(found) > 1:   # a height (or hash) on several chains: say so rather than pick one
            raise InvalidInput(f"block {ref} exists on several chains ({', '.join(b.chain for b in found)}); "
                               "pass --chain", value=ref)
        if not found:
            raise NotFound(f"block {ref} is not in this workspace", value=ref)
        return found[0]

    def show_tx(self, txid: str, *, chain: str | None = None, include_stale: bool = False
                ) -> UtxoTxInfo | AccountTxInfo:
        """A transaction with its inputs (resolved prevouts) and outputs, or an account chain's with its transfers.
        On UTXO chains the best-chain copy; ``include_stale`` also finds one that is only in a stale block."""
        store = self._store()
        t = txid.lower().removeprefix("0x")
        if len(t) != 64 or any(ch not in "0123456789abcdef" for ch in t):
            raise InvalidInput(f"{txid!r} is not a transaction id (64 hex digits)", value=txid)
        if (get_chain(chain).model is Model.ACCOUNT) if chain else bool(store.account.find_tx_chains("0x" + t)):
            return self._account_tx("0x" + t, chain)
        fetcher = self._fetcher()
        if fetcher is not None:      # on demand: the transaction and who spends its outputs
            fetcher.ensure_txs([t], chain)
            fetcher.ensure_outspends([t])
        c = self._chains.tx_chain(t, chain=chain, model=Model.UTXO)
        row = store.utxo.tx(c, t, include_stale=include_stale)
        if row is None:
            if store.utxo.tx(c, t, include_stale=True) is not None:
                raise NotFound(f"transaction {t} is only in a stale block on {c} (a block off the best chain); "
                               "pass --include-stale to see it", value=t)
            raise NotFound(f"transaction {t} is not in this workspace on {c}", value=t)
        u = unit_of(c)
        told = store.fetched.unspent_at_source(c, [(t, o["n"]) for o in row["outputs"]
                                                   if o["status"] == "unknown_beyond_data"])
        for o in row["outputs"]:      # blocks after it are missing, but the explorer API said it was unspent
            if (t, o["n"]) in told and o["status"] == "unknown_beyond_data":
                o["status"] = "unspent_at_source"
        row["inputs"] = [{**i, "asset": u["asset"], "unit": u["unit"]} for i in row["inputs"]]
        row["outputs"] = [{**o, "asset": u["asset"], "unit": u["unit"]} for o in row["outputs"]]
        return UtxoTxInfo(**row, asset=u["asset"], unit=u["unit"])

    def show_address(self, address: str, *, chain: str | None = None, limit: int = 10,
                     offset: int = 0) -> AddressInfo:
        """Received, sent, balance, activity, cluster and tags of an address (per asset on account chains), and
        a page of its transactions, newest first: ``limit`` of them after ``offset``."""
        if limit < 0 or offset < 0:
            raise InvalidInput("--limit and --offset must be 0 or more", field="--limit" if limit < 0 else "--offset",
                               value=limit if limit < 0 else offset)
        if chain is not None and is_address(address) and get_chain(chain).model is not Model.ACCOUNT:
            raise InvalidInput(f"{address} is an EVM address, not a {chain} address: pass an account chain "
                               "(--chain eth, ...) or leave --chain out", field="--chain", value=chain)
        if chain is None and address.lower().startswith("0x") and not is_address(address):
            raise InvalidInput(f"{address!r} is not an EVM address (0x and 40 hex digits; got "
                               f"{len(address) - 2} characters after 0x)", value=address)
        if (get_chain(chain).model is Model.ACCOUNT) if chain else is_address(address):
            try:
                return self._account_address(address, chain, limit, offset)
            except NotFound:
                low = normalize_address(address, field="ADDRESS")
                tagged = self._tags_only(low, chain, [n for n, c in CHAINS.items() if c.model is Model.ACCOUNT])
                if tagged is not None:
                    return tagged.model_copy(update={"address": to_checksum_address(low)})
                raise
        store = self._store()
        fetcher = self._fetcher()
        if fetcher is not None:      # on demand: the address's history, unless fetched to its end before
            fetcher.ensure_address(address, chain)
        try:
            c = self._chains.address_chain(address, chain=chain, model=Model.UTXO)
            s = store.utxo.address_summary(c, address)
            if s is None:
                raise NotFound(f"address {address} is not in this workspace on {c}", value=address)
        except NotFound:
            known = parse_address(address, get_chain(chain).name if chain else None)   # a typo is invalid input
            tagged = self._tags_only(address, chain, [n for n in known.chains if get_chain(n).model is Model.UTXO])
            if tagged is not None:
                return tagged
            raise
        u = unit_of(c)
        return AddressInfo(address=address, chain=c, cluster=self._clustering.cluster_ref(c, s["address_id"]),
                           tags=self._attribution.address_tags(c, address), received=s["received"], sent=s["sent"],
                           balance=s["balance"], tx_count=s["tx_count"], first_seen=s["first_seen"],
                           last_seen=s["last_seen"], asset=u["asset"], unit=u["unit"], script_types=s["script_types"],
                           unspendable=s["unspendable"],
                           provenance=self._provenance(c, s["ingest_runs"], s["first_height"], s["last_height"])
                           | self._history(c, address),
                           transactions=store.utxo.address_txs(c, s["address_id"], limit=limit, offset=offset),
                           transactions_page={"limit": limit, "offset": offset, "total": s["tx_count"]})

    def _history(self, chain: str, address: str) -> dict[str, Any]:
        """How far the address's history was fetched from an explorer API, when it was: a result resting on
        a history not fetched to its end says so (``partial``)."""
        h = self._store().fetched.address_history(chain, address)
        if h is None:
            return {}
        return {"history": {"source": "esplora", **h, "partial": not h["complete"]}}

    def _provenance(self, chain: str, runs: list[int], first: int | None, last: int | None) -> dict[str, Any]:
        """Where an address's figures come from: the ingest runs that stored its transactions, the heights
        of its first and last transaction, and what the data covers (so that a balance is read as 'unspent
        in these blocks')."""
        store = self._store()
        model = get_chain(chain).model
        cov = store.utxo.coverage(chain) if model is Model.UTXO else store.account.coverage(chain)
        listed = {r.run_id: r for r in store.runs.list(chain)}
        return {"software_version": __version__, "heights": {"first": first, "last": last}, "coverage": cov,
                "ingest_runs": [{"run_id": i, "source_kind": listed[i].source_kind, "endpoint": listed[i].endpoint,
                                 "software_version": listed[i].software_version, "content_hash": listed[i].content_hash}
                                for i in runs if i in listed],
                "balance": "received less sent in the data: outputs (transfers) the data holds and no input "
                           "(transfer) in the data spends; blocks outside the coverage are not counted"}

    def _tags_only(self, address: str, chain: str | None, candidates: list[str]) -> AddressInfo | None:
        """An address the workspace knows only from tags (a sanctioned or reported address not, or not yet,
        on the chain data): its tags, with no figures."""
        for c in ([chain] if chain else candidates):
            tags = self._attribution.address_tags(c, address)
            if tags:
                u = unit_of(c)
                account = get_chain(c).model is Model.ACCOUNT
                return AddressInfo(address=address, chain=c, cluster=None, tags=tags, received=None, sent=None,
                                   balance=None, tx_count=0, first_seen=None, last_seen=None, in_data=False,
                                   asset=None if account else u["asset"], unit=None if account else u["unit"],
                                   units={"native": u} if account else None,
                                   provenance=self._provenance(c, [], None, None))
        return None

    def stats(self) -> StoreStats:
        """What the workspace holds: schema version, and per chain blocks (best and stale), transactions,
        addresses, the heights covered (ranges with gaps) and the unit of its amounts."""
        store = self._store()
        chains = store.utxo.stats() | store.account.stats()
        for c, d in chains.items():
            d.update(unit_of(c))
            d["coverage"] = store.utxo.coverage(c) if d["model"] == "utxo" else store.account.coverage(c)
            if d["model"] == "utxo":
                unchecked, n_runs = store.runs.pow_unchecked(c)
                d["proof_of_work"] = ("checked" if not unchecked else
                                      f"not checked for {len(unchecked)} of {n_runs} ingest runs that stored blocks (run "
                                      f"{', '.join(map(str, unchecked))}: --allow-invalid-pow, synthetic blocks)")
        return StoreStats(schema_version=store.schema_version(), chains=chains)

    @staticmethod
    def known_chains() -> list[str]:
        return sorted(CHAINS)

    def _account_tx(self, tx_hash: str, chain: str | None) -> AccountTxInfo:
        store = self._store()
        c = self._chains.tx_chain(tx_hash, chain=chain, model=Model.ACCOUNT)
        row = store.account.tx(c, tx_hash)
        if row is None:
            raise NotFound(f"transaction {tx_hash} is not in this workspace on {c}", value=tx_hash)
        cs = to_checksum_address
        row["from"] = cs(row["from"])
        row["to"] = row["to"] and cs(row["to"])
        row["contract_address"] = row["contract_address"] and cs(row["contract_address"])
        tokens = store.account.tokens_info(c, [x["asset"] for x in row["transfers"] if x["asset"] != "native"])
        native = unit_of(c)
        for x in row["transfers"]:
            x["from"] = x["from"] and cs(x["from"])
            x["to"] = x["to"] and cs(x["to"])
            x["transfer"] = f"{tx_hash}:{x['index']}"
            if x["asset"] == "native":
                x.update(unit=native["unit"], decimals=native["decimals"], symbol=native["asset"])
            else:
                sym, dec, _ = tokens.get(x["asset"], (None, None, None))
                nft = x["kind"] in ("erc721", "erc1155")
                x.update(unit="token" if nft else "base unit", decimals=None if nft else dec, symbol=sym)
                x["asset"] = cs(x["asset"])
        row.pop("tx_index")
        return AccountTxInfo(**row, asset=native["asset"], unit=native["unit"])

    def _account_address(self, address: str, chain: str | None, limit: int, offset: int) -> AddressInfo:
        store = self._store()
        low = normalize_address(address, field="ADDRESS")
        c = self._chains.address_chain(low, chain=chain, model=Model.ACCOUNT)
        s = store.account.address_summary(c, low)
        if s is None:
            raise NotFound(f"address {address} is not in this workspace on {c}", value=address)

        def keyed(d: dict[tuple[str, str | None], int]) -> dict[str, int]:
            return {(a if a == "native" else to_checksum_address(a)) + (f":{t}" if t else ""): v for (a, t), v in d.items()}

        aid = store.utxo.address_id(c, low)
        keys = list(s["received"])
        tokens = store.account.tokens_info(c, [a for a, _ in keys if a != "native"])
        native = unit_of(c)
        units: dict[str, dict[str, Any]] = {}
        for a, t in keys:
            key = (a if a == "native" else to_checksum_address(a)) + (f":{t}" if t else "")
            if a == "native":
                units[key] = native
            else:
                sym, dec, std = tokens.get(a, (None, None, None))
                nft = t is not None or std in ("erc721", "erc1155")
                units[key] = unit_of(c, to_checksum_address(a), decimals=None if nft else dec, symbol=sym) | (
                    {"unit": "token"} if nft else {})
        return AddressInfo(address=to_checksum_address(low), chain=c,
                           cluster=None if aid is None else self._clustering.cluster_ref(c, aid),
                           tags=self._attribution.address_tags(c, low), received=keyed(s["received"]),
                           sent=keyed(s["sent"]), balance=keyed(s["balance"]), tx_count=s["tx_count"],
                           first_seen=s["first_seen"], last_seen=s["last_seen"], units=units,
                           provenance=self._provenance(c, [] if aid is None else store.account.address_runs(c, aid),
                                                       None, None),
                           transactions=store.account.address_txs(c, s["address_id"], limit=limit, offset=offset),
                           transactions_page={"limit": limit, "offset": offset, "total": s["tx_count"]})
