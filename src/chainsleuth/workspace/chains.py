"""Which chains of the workspace hold a transaction or an address: the look-up every service shares."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chainsleuth.core.account import is_address, normalize_address
from chainsleuth.core.chains import Model, get_chain
from chainsleuth.errors import InvalidInput, NotFound
from chainsleuth.store import Store

__all__ = ["ChainLocator"]


class ChainLocator:
    """Finds the chain a transaction or address is on.

    Parameters
    ----------
    store : callable returning Store
        The workspace's store, opened on first use.

    A transaction id is hex, with or without ``0x`` (account chains store it with ``0x``); an EVM address is
    matched in lower case. ``model`` limits the search to UTXO or to account chains.
    """

    def __init__(self, store: Callable[[], Store]) -> None:
        self._store = store

    def tx_chains(self, txid: str, *, model: Model | None = None) -> list[str]:
        """Every chain holding ``txid``."""
        bare = txid.lower().removeprefix("0x")
        store = self._store()
        if model is Model.UTXO:
            return store.utxo.find_tx_chains(bare)
        if model is Model.ACCOUNT:
            return store.account.find_tx_chains("0x" + bare)
        return sorted(set(store.utxo.find_tx_chains(bare)) | set(store.account.find_tx_chains("0x" + bare)))

    def address_chains(self, address: str, *, model: Model | None = None) -> list[str]:
        """Every chain holding ``address`` (as the chain writes it; EVM addresses in any case)."""
        low = normalize_address(address) if is_address(address) else address
        store = self._store()
        if model is Model.UTXO:
            return store.utxo.find_address_chains(address)
        if model is Model.ACCOUNT:
            return store.account.find_address_chains(low)
        return sorted(set(store.utxo.find_address_chains(address) + store.account.find_address_chains(low)))

    def tx_chain(self, txid: str, *, chain: str | None = None, model: Model | None = None) -> str:
        """``chain`` when given (by its canonical name), else the one chain holding ``txid``.

        NotFound when no chain holds it; InvalidInput (pass --chain) when several do.
        """
        return get_chain(chain).name if chain is not None else _one(self.tx_chains(txid, model=model),
                                                                    "transaction", txid)

    def address_chain(self, address: str, *, chain: str | None = None, model: Model | None = None) -> str:
        """``chain`` when given (by its canonical name), else the one chain holding ``address``. An address no
        chain holds is checked for typos first (a bad checksum is invalid input, not 'not found')."""
        if chain is not None:
            return get_chain(chain).name
        chains = self.address_chains(address, model=model)
        if not chains and not address.lower().startswith("0x"):
            from chainsleuth.core.btc.script import parse_address

            parse_address(address, None)
        return _one(chains, "address", address)


def _one(chains: Sequence[str], what: str, key: str) -> str:
    if not chains:
        raise NotFound(f"{what} {key} is not in this workspace", value=key)
    if len(chains) > 1:
        raise InvalidInput(f"{what} {key} exists on several chains ({', '.join(chains)}); pass --chain", value=key)
    return str(chains[0])
