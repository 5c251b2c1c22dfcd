"""Look-ups across chains: show block, tx, address; stats.

Part of the :class:`~chainsleuth.workspace.Workspace` facade (see ``workspace/__init__.py``).
"""

from __future__ import annotations

from typing import Any

from chainsleuth.core.account import is_address
from chainsleuth.core.btc.script import parse_address
from chainsleuth.core.chains import CHAINS, Model, get_chain
from chainsleuth.core.models import (
    AccountTxInfo,
    AddressInfo,
    BlockInfo,
    StoreStats,
    UtxoTxInfo,
)
from chainsleuth.errors import (
    InvalidInput,
    NotFound,
)
from chainsleuth.workspace._base import WorkspaceBase

__all__ = ["Queries"]


class Queries(WorkspaceBase):
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
        h = ref.lower().removeprefix("0x")
        if ref.lower().startswith("0x") and (len(h) != 64 or any(ch not in "0123456789abcdef" for ch in h)):
            raise InvalidInput(f"{ref!r} is neither a block height nor a block hash (0x and 64 hex digits)", value=ref)
        chains = [chain] if chain else (self.store.utxo.chains() + self.store.account.chains() or ["btc"])
        found: list[BlockInfo] = []
        for c in chains:
            if get_chain(c).model is Model.ACCOUNT:
                row = self.store.account.block(c, height=int(ref)) if ref.isdigit() else \
                    self.store.account.block(c, hash="0x" + h) if len(h) == 64 else None
                if row is not None:
                    found.append(BlockInfo(**row))
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
                found.append(BlockInfo(**row))
        if len(found) > 1:   # a height (or hash) on several chains: say so rather than pick one
            raise InvalidInput(f"block {ref} exists on several chains ({', '.join(b.chain for b in found)}); "
                               "pass --chain", value=ref)
        if not found:
            raise NotFound(f"block {ref} is not in this workspace", value=ref)
        return found[0]

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
        if chain is not None and is_address(address) and get_chain(chain).model is not Model.ACCOUNT:
            raise InvalidInput(f"{address} is an EVM address, not a {chain} address: pass an account chain "
                               "(--chain eth, ...) or leave --chain out", field="--chain", value=chain)
        if chain is None and address.lower().startswith("0x") and not is_address(address):
            raise InvalidInput(f"{address!r} is not an EVM address (0x and 40 hex digits; got "
                               f"{len(address) - 2} characters after 0x)", value=address)
        if (get_chain(chain).model is Model.ACCOUNT) if chain else is_address(address):
            return self._show_account_address(address, chain)
        try:
            c = self._utxo_chain_for(self.store.utxo.find_address_chains, address, chain, "address")
            s = self.store.utxo.address_summary(c, address)
            if s is None:
                raise NotFound(f"address {address} is not in this workspace on {c}", value=address)
        except NotFound:
            parse_address(address, get_chain(chain).name if chain else None)   # a typo is invalid input
            raise
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
