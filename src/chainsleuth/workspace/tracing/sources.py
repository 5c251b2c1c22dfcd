"""Trace sources: the text an investigator gives (``TXID:VOUT``, ``TXID``, an address, ``cluster:ID``, or
several of them separated by commas) resolved to typed seeds, rows of one chain's flow graph."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from chainsleuth.core.account import is_address, normalize_address, to_checksum_address
from chainsleuth.core.btc.script import parse_address
from chainsleuth.core.chains import Model, get_chain
from chainsleuth.errors import InvalidInput, NotFound, Unsupported
from chainsleuth.store import Store
from chainsleuth.workspace.assets import Asset, AssetKey, store_asset_id
from chainsleuth.workspace.chains import ChainLocator
from chainsleuth.workspace.clustering import ClusteringService
from chainsleuth.workspace.tracing.graphs import AccountFlow, TraceGraphCache, UtxoFlow

__all__ = ["TraceSeeds", "TraceSourceResolver", "check_source_syntax", "tx_reference"]

_TX = re.compile(r"(?:0x)?([0-9a-fA-F]{64})(?::(\d+))?")
_TXID_COLON = re.compile(r"(?:0x)?[0-9a-fA-F]{64}:(.*)")


def tx_reference(text: str) -> tuple[str, str | None] | None:
    """``(txid, index)`` when ``text`` names a transaction (``TXID`` or ``TXID:N``, with or without 0x): the
    txid in lower case without 0x, the output (or transfer) index as written or None; else None.

    >>> tx_reference("0x" + "AB" * 32 + ":1") == ("ab" * 32, "1"), tx_reference("bc1qexample")
    (True, None)
    """
    m = _TX.fullmatch(text.strip())
    return None if m is None else (m.group(1).lower(), m.group(2))


def check_source_syntax(part: str) -> None:
    """Refuse a malformed ``cluster:ID`` or ``TXID:VOUT`` before any lookup: it would otherwise be taken for an
    address, or fail deep inside the search."""
    if part.startswith("cluster:") and not part.removeprefix("cluster:").isdigit():
        raise InvalidInput(f"{part!r}: a cluster is given as cluster:ID with a numeric id (see 'chainsleuth "
                           "show cluster ADDRESS')", field="source", value=part)
    m = _TXID_COLON.fullmatch(part)
    if m and not m.group(1).isdigit():
        raise InvalidInput(f"{part!r}: the output index after the txid must be a number (TXID:VOUT)",
                           field="source", value=part)


@dataclass(frozen=True, eq=False)
class TraceSeeds:
    """Where a trace starts: rows of one chain's flow graph, all of one asset.

    Attributes
    ----------
    chain : str
        The chain the sources are on.
    asset : Asset or int
        :attr:`Asset.NATIVE`, or a token (the store's address id of its contract).
    asset_label : str
        The chain's coin (BTC, ETH) or the token contract as the chain writes it (EIP-55).
    flow : UtxoFlow or AccountFlow
        The graph the rows index, as built from the chain's data when the sources were resolved.
    rows : tuple of int
        Output rows (UTXO chains: the trace starts fully tainted there) or transfer rows (account chains:
        each delivers its whole value as taint).
    """

    chain: str
    asset: AssetKey
    asset_label: str
    flow: UtxoFlow | AccountFlow
    rows: tuple[int, ...]

    def amounts(self) -> list[tuple[int, int]]:
        """``(row, amount)`` of each transfer row: the seeds of an account-chain trace."""
        if not isinstance(self.flow, AccountFlow):
            raise TypeError("amounts are the seeds of account-chain traces")
        return [(r, self.flow.graph.ev_value[r]) for r in self.rows]


class TraceSourceResolver:
    """Turns trace and path sources into seeds and address ids.

    Parameters
    ----------
    store : callable returning Store
        The workspace's store, opened on first use.
    chains : ChainLocator
        Which chain a txid or address is on, when no chain is given.
    clustering : ClusteringService
        The chain a ``cluster:ID`` source is on, when no chain is given.
    graphs : TraceGraphCache
        The tracing service's graphs, which the seeds index.
    """

    def __init__(self, store: Callable[[], Store], *, chains: ChainLocator, clustering: ClusteringService,
                 graphs: TraceGraphCache) -> None:
        self._store = store
        self._chains = chains
        self._clustering = clustering
        self._graphs = graphs

    def resolve(self, source: str, *, chain: str | None = None, asset: str | None = None) -> TraceSeeds:
        """Seeds for ``source``: ``txid:vout``, ``txid`` (every output; on account chains every transfer, or
        ``txhash:index`` one), an address (every output paid to it; every transfer it received) or
        ``cluster:ID`` (every output paid to its members); several separated by commas are traced together
        (they must be on one chain). ``asset`` picks a token on account chains (contract or symbol).

        Raises NotFound for what is not in the workspace, InvalidInput for what cannot be a source.
        """
        parts = [p.strip() for p in source.split(",") if p.strip()]
        if not parts:
            raise InvalidInput("empty trace source: give TXID:VOUT, TXID or an address", field="source", value=source)
        if len(parts) > 1:
            got = [self.resolve(p, chain=chain, asset=asset) for p in parts]
            if len({x.chain for x in got}) > 1:
                raise InvalidInput(f"trace sources are on different chains ({', '.join(sorted({x.chain for x in got}))})",
                                   field="source", value=source)
            return TraceSeeds(got[0].chain, got[0].asset, got[0].asset_label, got[0].flow,
                              tuple(r for x in got for r in x.rows))
        part = parts[0]
        check_source_syntax(part)
        if part.startswith("cluster:"):
            return self._cluster_seeds(part, chain)
        ref = tx_reference(part)
        if ref is not None:
            c = self._chains.tx_chain(ref[0], chain=chain)
        else:
            c = self._chains.address_chain(part, chain=chain)
        if get_chain(c).model is Model.UTXO:
            return self._utxo_seeds(part, c, ref, asset)
        return self._account_seeds(part, c, ref, asset)

    def endpoints(self, ref: str, chain: str) -> np.ndarray:
        """Address ids of a path end: one address, or the members of ``cluster:ID`` in the active set."""
        store = self._store()
        s = ref.strip()
        if s.startswith("cluster:"):
            sid = store.clusters.get_set(chain)
            if sid is None:
                raise NotFound(f"{chain} has no cluster set; run 'chainsleuth cluster' first", value=ref)
            labels = store.clusters.labels(chain, int(sid["set_id"]))
            members = np.flatnonzero(labels == int(s.split(":", 1)[1]))
            if not members.size:
                raise NotFound(f"cluster {s.split(':', 1)[1]} is not in the active cluster set of {chain}", value=ref)
            return members
        low = normalize_address(s) if is_address(s) else s
        aid = store.graph.address_ids(chain, [low]).get(low)
        if aid is None:
            _not_stored(s, chain)
        return np.asarray([aid], dtype=np.int64)

    def path_chain(self, src: str, dst: str, chain: str | None = None) -> str:
        """The chain a path from ``src`` to ``dst`` runs on: ``chain``, else that of the first address given,
        else (two clusters) the workspace's one UTXO chain."""
        if chain:
            return chain
        if src.startswith("cluster:") and dst.startswith("cluster:"):
            return self._clustering.target_chain(None)
        return self._chains.address_chain(dst if src.startswith("cluster:") else src)

    def _cluster_seeds(self, part: str, chain: str | None) -> TraceSeeds:
        """Every output paid to the cluster's members (UTXO chains)."""
        c = chain or self._clustering.target_chain(None)
        members = self.endpoints(part, c)
        if get_chain(c).model is not Model.UTXO:
            raise Unsupported("cluster sources are for UTXO chains", value=part)
        flow = self._graphs.utxo(c)
        rows = np.flatnonzero(np.isin(flow.graph.out_addr, members)).tolist()
        return TraceSeeds(c, Asset.NATIVE, get_chain(c).native_asset, flow, tuple(rows))

    def _utxo_seeds(self, part: str, c: str, ref: tuple[str, str | None] | None, asset: str | None) -> TraceSeeds:
        native = get_chain(c).native_asset
        if asset not in (None, "native", native):
            raise InvalidInput(f"{c} has one asset ({native}); got --asset {asset}", field="--asset", value=asset)
        store = self._store()
        flow = self._graphs.utxo(c)
        g = flow.graph
        if ref is not None:
            txid, n = ref
            ids = store.graph.tx_ids(c, txid)
            if not ids:
                raise NotFound(f"transaction {txid} is not in this workspace on {c}", value=txid)
            lo, hi = int(g.tx_out_ptr[ids[0]]), int(g.tx_out_ptr[ids[0] + 1])
            if n is not None:
                if int(n) >= hi - lo:
                    raise InvalidInput(f"output index {n} is out of range: transaction {txid} has {hi - lo} "
                                       f"output(s), 0..{hi - lo - 1}", field="vout", value=part)
                rows = [lo + int(n)]
            else:
                rows = list(range(lo, hi))
        else:
            aid = store.utxo.address_id(c, part)
            if aid is None:
                _not_stored(part, c)
            rows = np.flatnonzero(g.out_addr == aid).tolist()
        return TraceSeeds(c, Asset.NATIVE, native, flow, tuple(rows))

    def _account_seeds(self, part: str, c: str, ref: tuple[str, str | None] | None,
                       asset: str | None) -> TraceSeeds:
        store = self._store()
        key: AssetKey = Asset.NATIVE
        label = get_chain(c).native_asset
        if asset not in (None, "native", label):
            if is_address(str(asset)):
                ids_ = list(store.graph.address_ids(c, [normalize_address(str(asset))]).values())
            else:
                ids_ = store.graph.token_ids(c, str(asset))
            if len(ids_) != 1:
                raise (NotFound if not ids_ else InvalidInput)(
                    f"asset {asset} is {'not a token in this workspace' if not ids_ else 'ambiguous'} on {c}; "
                    "give the token contract address", field="--asset", value=asset)
            key = ids_[0]
            label = to_checksum_address(store.graph.addresses(c, [key])[key])
        flow = self._graphs.account(c, key)
        g = flow.graph
        if ref is not None:
            txid, n = ref
            tx_ids = store.graph.account_tx_ids(c, "0x" + txid)
            if not tx_ids:
                raise NotFound(f"transaction 0x{txid} is not in this workspace on {c}", value=part)
            sel = np.flatnonzero((g.ev_tx == tx_ids[0]) & ~g.ev_fee)
            if n is not None:
                sel = sel[flow.index[sel] == int(n)]
            if not sel.size:
                raise InvalidInput(f"transaction 0x{txid} moved no {label}" + (f" at transfer index {n}" if n else ""),
                                   field="source", value=part)
            rows = sel.tolist()
        else:
            low = normalize_address(part) if is_address(part) else part
            aid = store.graph.address_ids(c, [low]).get(low)
            if aid is None:
                raise NotFound(f"address {part} is not in this workspace on {c}", value=part)
            if store_asset_id(key) not in store.graph.account_assets(c, aid):
                raise InvalidInput(f"address {part} never held {label} on {c}", field="--asset", value=label)
            rows = np.flatnonzero((g.ev_to == aid) & (g.ev_from != aid) & ~g.ev_fee).tolist()
        return TraceSeeds(c, key, label, flow, tuple(rows))


def _not_stored(address: str, chain: str) -> None:
    """An address the store does not hold: a typo (bad checksum, wrong network) is invalid input, as in
    ``show address``; a well-formed address is not found."""
    if get_chain(chain).model is Model.UTXO:
        parse_address(address, get_chain(chain).name)
    raise NotFound(f"address {address} is not in this workspace on {chain}", value=address)
