"""The flow graphs the tracing engine runs on, built from the store's arrays and cached by data version."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from chainsleuth.algorithms.tracing import AccountGraph, UtxoGraph
from chainsleuth.store import Store
from chainsleuth.workspace.assets import Asset, AssetKey, store_asset_id

__all__ = ["AccountFlow", "TraceGraphCache", "UtxoFlow"]

_ZERO_ADDRESS = "0x" + "0" * 40


@dataclass(frozen=True, eq=False)
class UtxoFlow:
    """A UTXO chain's graph with what the reports add to it: each output row's index in its transaction, and
    each transaction's time and height."""

    graph: UtxoGraph
    out_n: np.ndarray
    time: np.ndarray
    height: np.ndarray


@dataclass(frozen=True, eq=False)
class AccountFlow:
    """One asset's transfers on an account chain as a graph, with each transfer row's time, height, index in
    its transaction and asset (the store's code)."""

    graph: AccountGraph
    time: np.ndarray
    height: np.ndarray
    index: np.ndarray
    asset: np.ndarray


class TraceGraphCache:
    """Graphs built once per chain (and, on account chains, per asset) and kept until the chain's data
    changes: each entry is keyed by ``(chain, asset)`` and holds the store's data version it was built at.

    Parameters
    ----------
    store : callable returning Store
        The workspace's store, opened on first use.
    """

    def __init__(self, store: Callable[[], Store]) -> None:
        self._store = store
        self._utxo: dict[str, tuple[object, UtxoFlow]] = {}
        self._account: dict[tuple[str, AssetKey], tuple[object, AccountFlow]] = {}

    def utxo(self, chain: str) -> UtxoFlow:
        """The graph of every output and spend of a UTXO chain."""
        graph = self._store().graph
        version = graph.utxo_version(chain)
        hit = self._utxo.get(chain)
        if hit is not None and hit[0] == version:
            return hit[1]
        a = graph.utxo_arrays(chain)
        g = UtxoGraph.build(int(a["n_tx"]), in_tx=a["in_tx"], in_value=a["in_value"], in_prev=a["in_prev"],
                            in_addr=a["in_addr"], out_tx=a["out_tx"], out_value=a["out_value"],
                            out_addr=a["out_addr"], is_coinbase=a["is_coinbase"])
        flow = UtxoFlow(g, out_n=a["out_n"], time=a["tx_time"], height=a["tx_height"])
        self._utxo[chain] = (version, flow)
        return flow

    def account(self, chain: str, asset: AssetKey = Asset.NATIVE) -> AccountFlow:
        """The transfers of ``asset`` on an account chain (token mints come from, and burns go to, nobody)."""
        graph = self._store().graph
        version = graph.account_version(chain)
        hit = self._account.get((chain, asset))
        if hit is not None and hit[0] == version:
            return hit[1]
        a = graph.account_arrays(chain, store_asset_id(asset))
        zero = graph.address_ids(chain, [_ZERO_ADDRESS]).get(_ZERO_ADDRESS)
        if zero is not None:        # the zero address stands for nobody: no one's pool fills or drains there
            a["from"][a["from"] == zero] = -1
            a["to"][a["to"] == zero] = -1
        g = AccountGraph.build(graph.n_addresses(chain), ev_from=a["from"], ev_to=a["to"], ev_value=a["value"],
                               ev_tx=a["tx"], ev_fee=a["fee"])
        flow = AccountFlow(g, time=a["time"], height=a["height"], index=a["index"], asset=a["asset"])
        self._account[(chain, asset)] = (version, flow)
        return flow
