"""Look-ups across chains: show block, tx, address; stats (dispatching on the chain's ledger model)."""

from __future__ import annotations

from collections.abc import Callable

from chainsleuth.core.account import is_address, normalize_address, to_checksum_address
from chainsleuth.core.btc.script import parse_address
from chainsleuth.core.chains import CHAINS, Model, get_chain
from chainsleuth.core.models import AccountTxInfo, AddressInfo, BlockInfo, StoreStats, UtxoTxInfo
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
    """

    def __init__(self, store: Callable[[], Store], *, chains: ChainLocator, clustering: ClusteringService,
                 attribution: AttributionService) -> None:
        self._store = store
        self._chains = chains
        self._clustering = clustering
        self._attribution = attribution

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

    def show_tx(self, txid: str, *, chain: str | None = None) -> UtxoTxInfo | AccountTxInfo:
        """A transaction with its inputs (resolved prevouts) and outputs, or an account chain's with its transfers."""
        store = self._store()
        t = txid.lower().removeprefix("0x")
        if len(t) != 64 or any(ch not in "0123456789abcdef" for ch in t):
            raise InvalidInput(f"{txid!r} is not a transaction id (64 hex digits)", value=txid)
        if (get_chain(chain).model is Model.ACCOUNT) if chain else bool(store.account.find_tx_chains("0x" + t)):
            return self._account_tx("0x" + t, chain)
        c = self._chains.tx_chain(t, chain=chain, model=Model.UTXO)
        row = store.utxo.tx(c, t)
        if row is None:
            raise NotFound(f"transaction {t} is not in this workspace on {c}", value=t)
        return UtxoTxInfo(**row)

    def show_address(self, address: str, *, chain: str | None = None) -> AddressInfo:
        """Received, sent, balance, activity, cluster and tags of an address (per asset on account chains)."""
        if chain is not None and is_address(address) and get_chain(chain).model is not Model.ACCOUNT:
            raise InvalidInput(f"{address} is an EVM address, not a {chain} address: pass an account chain "
                               "(--chain eth, ...) or leave --chain out", field="--chain", value=chain)
        if chain is None and address.lower().startswith("0x") and not is_address(address):
            raise InvalidInput(f"{address!r} is not an EVM address (0x and 40 hex digits; got "
                               f"{len(address) - 2} characters after 0x)", value=address)
        if (get_chain(chain).model is Model.ACCOUNT) if chain else is_address(address):
            return self._account_address(address, chain)
        store = self._store()
        try:
            c = self._chains.address_chain(address, chain=chain, model=Model.UTXO)
            s = store.utxo.address_summary(c, address)
            if s is None:
                raise NotFound(f"address {address} is not in this workspace on {c}", value=address)
        except NotFound:
            parse_address(address, get_chain(chain).name if chain else None)   # a typo is invalid input
            raise
        return AddressInfo(address=address, chain=c, cluster=self._clustering.cluster_ref(c, s["address_id"]),
                           tags=self._attribution.address_tags(c, address), received=s["received"], sent=s["sent"],
                           balance=s["balance"], tx_count=s["tx_count"], first_seen=s["first_seen"],
                           last_seen=s["last_seen"])

    def stats(self) -> StoreStats:
        """What the workspace holds: schema version, and blocks, transactions, addresses per chain."""
        store = self._store()
        return StoreStats(schema_version=store.schema_version(), chains=store.utxo.stats() | store.account.stats())

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
        for x in row["transfers"]:
            x["from"] = x["from"] and cs(x["from"])
            x["to"] = x["to"] and cs(x["to"])
            x["asset"] = x["asset"] if x["asset"] == "native" else cs(x["asset"])
        row.pop("tx_index")
        return AccountTxInfo(**row)

    def _account_address(self, address: str, chain: str | None) -> AddressInfo:
        store = self._store()
        low = normalize_address(address, field="ADDRESS")
        c = self._chains.address_chain(low, chain=chain, model=Model.ACCOUNT)
        s = store.account.address_summary(c, low)
        if s is None:
            raise NotFound(f"address {address} is not in this workspace on {c}", value=address)

        def keyed(d: dict[tuple[str, str | None], int]) -> dict[str, int]:
            return {(a if a == "native" else to_checksum_address(a)) + (f":{t}" if t else ""): v for (a, t), v in d.items()}

        aid = store.utxo.address_id(c, low)
        return AddressInfo(address=to_checksum_address(low), chain=c,
                           cluster=None if aid is None else self._clustering.cluster_ref(c, aid),
                           tags=self._attribution.address_tags(c, low), received=keyed(s["received"]),
                           sent=keyed(s["sent"]), balance=keyed(s["balance"]), tx_count=s["tx_count"],
                           first_seen=s["first_seen"], last_seen=s["last_seen"])
