"""Tracing: forward/backward under each policy, policy comparison, Sankey, exposure, path search, peel chains.

The engine (algorithms/tracing) works on flow graphs built from the store's arrays; the service's
:class:`~.graphs.TraceGraphCache` keeps them until the chain's data changes, and the
:class:`~.sources.TraceSourceResolver` turns what the investigator typed into seeds on them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainsleuth import __version__
from chainsleuth.core.account import to_checksum_address
from chainsleuth.core.chains import Model, get_chain
from chainsleuth.core.units import unit_of
from chainsleuth.errors import InvalidInput, NotFound, Unsupported
from chainsleuth.store import Store
from chainsleuth.workspace.assets import Asset
from chainsleuth.workspace.tracing._attribution import best_attributions, stop_mask
from chainsleuth.workspace.tracing.graphs import AccountFlow, TraceGraphCache, UtxoFlow
from chainsleuth.workspace.tracing.sources import (
    TraceSeeds,
    TraceSourceResolver,
    check_source_syntax,
    tx_reference,
)

__all__ = ["AccountFlow", "TraceGraphCache", "TraceSeeds", "TraceSourceResolver", "TracingService", "UtxoFlow"]


class TracingService:
    """Traces (the Trace JSON of DESIGN.md) and what is built on them.

    Parameters
    ----------
    store : callable returning Store
        The workspace's store, opened on first use.
    graphs : TraceGraphCache
        The flow graphs, owned by this service (and lent to the resolver, whose seeds index them).
    sources : TraceSourceResolver
        Trace sources and path ends as seeds and address ids.
    fetcher : callable returning EsploraFetcher or None, optional
        On-demand lookups (the ``esplora_url`` setting): each hop of a trace fetches what the store lacks
        (:mod:`._ondemand`).
    """

    def __init__(self, store: Callable[[], Store], *, graphs: TraceGraphCache, sources: TraceSourceResolver,
                 fetcher: Callable[[], Any] | None = None) -> None:
        self._store = store
        self._graphs = graphs
        self._sources = sources
        self._fetcher = fetcher or (lambda: None)
        self._filling = False

    @property
    def graphs(self) -> TraceGraphCache:
        return self._graphs

    def _run(self, source: str, *, direction: str, policy: str, max_hops: int, min_amount: int,
             stop_at: str | Sequence[str] | None, chain: str | None, asset: str | None, max_degree: int,
             max_edges: int) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """The Trace JSON and, per address text in it, its attribution (entity, category, cluster)."""
        from chainsleuth.algorithms.tracing import (
            ENDPOINT_KINDS,
            TraceLimits,
            get_policy,
            normalise_stop_at,
            trace_account,
            trace_utxo,
        )
        from chainsleuth.algorithms.tracing.report import Attribution, IdView, trace_document, utxo_flow_links

        if direction not in ("forward", "backward"):
            raise InvalidInput(f"direction must be forward or backward, not {direction!r}", field="direction",
                               value=direction)
        pol = get_policy(policy)
        if max_hops < 0 or min_amount < 0 or max_degree < 1 or max_edges < 1:
            raise InvalidInput("--max-hops and --min-amount must be >= 0, --max-degree and --max-edges >= 1",
                               value=f"{max_hops}/{min_amount}/{max_degree}/{max_edges}")
        stop = normalise_stop_at(stop_at if stop_at is None or isinstance(stop_at, str) else tuple(stop_at))
        fetcher = self._fetcher()
        if fetcher is not None and not self._filling and (chain is None or get_chain(chain).model is Model.UTXO):
            from chainsleuth.workspace.tracing._ondemand import fill_for_trace

            self._filling = True
            try:
                fill_for_trace(fetcher, lambda: self._run(
                    source, direction=direction, policy=policy, max_hops=max_hops, min_amount=min_amount,
                    stop_at=stop_at, chain=chain, asset=asset, max_degree=max_degree, max_edges=max_edges)[0],
                    source, direction=direction, max_hops=max_hops, chain=chain)
            finally:
                self._filling = False
        seeds = self._sources.resolve(source, chain=chain, asset=asset)
        c, flow, utxo = seeds.chain, seeds.flow, isinstance(seeds.flow, UtxoFlow)
        store = self._store()
        best, labels, _ = best_attributions(store, c)
        mask = stop_mask(store.graph.n_addresses(c), best, stop)
        lim = TraceLimits(max_hops=max_hops, min_amount=min_amount, max_degree=max_degree, max_edges=max_edges)
        unseen = None
        if isinstance(flow, UtxoFlow):
            g = flow.graph
            r = trace_utxo(g, list(seeds.rows), direction=direction, policy=pol, limits=lim, stop_mask=mask)
            fwd = direction == "forward"
            rows = list(seeds.rows)
            links = utxo_flow_links(r, in_tx=g.in_tx, out_tx=g.out_tx, out_spent_in=g.out_spent_in,
                                    in_prev=g.in_prev, seed_rows=rows, seed_amounts=g.out_value[rows].tolist(),
                                    min_amount=min_amount, forward=fwd)
            coin = r.e_to if fwd else (g.in_prev[r.e_from] if r.e_from.size else r.e_from)
            link_rows = [row for ls in links for row, _ in ls]
            ep_rows = [int(x) for x in r.ep_item.tolist() if x >= 0]
            tx_of_rows = g.out_tx[np.asarray([*coin.tolist(), *link_rows, *ep_rows], dtype=np.int64)]
            txids = store.graph.txids(c, [*r.e_tx.tolist(), *r.ep_tx.tolist(), *tx_of_rows.tolist()])

            def outpoint(row: int) -> str | None:
                if row < 0:
                    return None
                t = txids.get(int(g.out_tx[row]))
                return None if t is None else f"{t}:{int(flow.out_n[row])}"

            view = IdView(g.in_addr[r.e_from] if r.e_from.size else r.e_from, g.out_addr[r.e_to],
                          flow.time[r.e_tx], flow.height[r.e_tx],
                          np.where(r.ep_item >= 0, g.out_addr[np.maximum(r.ep_item, 0)], -1),
                          e_coin=[outpoint(int(x)) for x in coin.tolist()],
                          e_links=[[(outpoint(row), int(g.out_addr[row]), amt) for row, amt in ls] for ls in links],
                          ep_coin=[outpoint(int(i)) if i >= 0 else txids.get(int(t)) for i, t in
                                   zip(r.ep_item.tolist(), r.ep_tx.tolist(), strict=True)],
                          ep_reason=self._utxo_reasons(c, flow, r))
            unseen = self._unseen_inputs(c, flow, r, pol.name, txids)
        else:
            # an address as source: every transfer it received (forward: where that went; backward: where the
            # payers' money came from), like every output paid to it on UTXO chains
            r = trace_account(flow.graph, seeds.amounts(), direction=direction, policy=pol, limits=lim,
                              stop_mask=mask)
            txids = store.graph.account_tx_hashes(c, [*r.e_tx.tolist(), *r.ep_tx.tolist()])
            cov = store.account.coverage(c)
            kinds = [ENDPOINT_KINDS[k] for k in r.ep_kind.tolist()]
            view = IdView(r.e_from, r.e_to, flow.time[r.e_row], flow.height[r.e_row], r.ep_item,
                          e_coin=[f"{txids.get(int(t))}:{int(flow.index[row])}" for t, row in
                                  zip(r.e_tx.tolist(), r.e_row.tolist(), strict=True)],
                          ep_coin=[txids.get(int(t)) for t in r.ep_tx.tolist()],
                          ep_reason=[("balance_in_data" if len(cov["ranges"]) <= 1 else "unknown_beyond_data")
                                     if k == "unspent" else k for k in kinds])
        ids = {int(x) for x in (*view.e_from_addr.tolist(), *view.e_to_addr.tolist(), *view.ep_addr.tolist(),
                                *(a for ls in view.e_links for _, a, _ in ls))} - {-1}
        names = store.graph.addresses(c, list(ids))
        if not utxo:
            names = {k: to_checksum_address(v) for k, v in names.items()}
        attrib = {a: Attribution(cluster=(int(labels[a]) if labels is not None and a < labels.size else None),
                                 entity=best.get(a, (None, None))[0], category=best.get(a, (None, None))[1])
                  for a in ids}
        cset = store.clusters.get_set(c) if utxo else None
        unit = self._unit(c, seeds.asset_label)
        prov = {"software_version": __version__, "chain": c, **store.graph.ingest_provenance(c),
                "parameters": {"policy": pol.name, "direction": direction, "max_hops": max_hops,
                               "min_amount": min_amount, "stop_at": list(stop), "max_degree": max_degree,
                               "max_edges": max_edges, "asset": seeds.asset_label},
                "tag_sources": store.graph.tag_sources(c),
                "cluster_set": None if cset is None else {"set_id": cset["set_id"], "name": cset["name"],
                                                          "heuristics": cset["heuristics"]}}
        doc = trace_document(r, view, source=source, max_hops=max_hops, unit=unit, txid=txids, address=names,
                             attribution=attrib, provenance=prov, utxo=utxo, unseen=unseen)
        return doc, {names[a]: {"entity": at.entity, "category": at.category, "cluster": at.cluster}
                     for a, at in attrib.items() if a in names}

    def _unit(self, chain: str, asset_label: str) -> dict[str, Any]:
        """Asset and unit of a trace's amounts (a token's decimals and symbol when the workspace knows them)."""
        if get_chain(chain).model is Model.UTXO or asset_label == get_chain(chain).native_asset:
            return unit_of(chain)
        sym, dec, _ = self._store().account.tokens_info(chain, [asset_label.lower()]).get(asset_label.lower(),
                                                                                          (None, None, None))
        return unit_of(chain, asset_label, decimals=dec, symbol=sym)

    def _utxo_reasons(self, chain: str, flow: UtxoFlow, r: Any) -> list[str]:
        """Endpoint reasons as the document states them: value left in an output nothing in the data spends
        is ``unspent_in_data`` where the data holds every block after it, ``unknown_beyond_data`` where blocks
        after it are missing (a spend may be there), ``unspent_at_source`` where an explorer API said it was
        unspent when asked (on-demand lookups), ``unspendable`` where it can never be spent (OP_RETURN,
        the genesis coinbase, a coinbase overwritten under BIP30)."""
        from chainsleuth.algorithms.tracing import ENDPOINT_KINDS

        store = self._store()
        cov = store.utxo.coverage(chain)
        tail = cov["ranges"][-1][0] if cov["ranges"] else None
        dead = store.utxo.unspendable_tx_ids(chain)
        g = flow.graph
        out = []
        for item, kind in zip(r.ep_item.tolist(), r.ep_kind.tolist(), strict=True):
            why = ENDPOINT_KINDS[kind]
            if why == "unspent" and item >= 0:
                t = int(g.out_tx[item])
                h = int(flow.height[t])
                if g.out_addr[item] < 0 or t in dead:
                    why = "unspendable"
                elif tail is not None and h >= tail:
                    why = "unspent_in_data"
                else:
                    why = "unknown_beyond_data"
            out.append(why)
        # outputs an explorer API said were unspent when it was asked (on-demand lookups)
        open_ = [i for i, w in enumerate(out) if w == "unknown_beyond_data"]
        if open_ and store.fetched.fetch_count(chain):
            items = [int(r.ep_item[i]) for i in open_]
            txids = store.graph.txids(chain, [int(g.out_tx[x]) for x in items])
            ops = [(txids.get(int(g.out_tx[x]), ""), int(flow.out_n[x])) for x in items]
            told = store.fetched.unspent_at_source(chain, ops)
            for i, op in zip(open_, ops, strict=True):
                if op in told:
                    out[i] = "unspent_at_source"
        return out

    def _unseen_inputs(self, chain: str, flow: UtxoFlow, r: Any, policy: str,
                       txids: dict[int, str]) -> dict[str, Any]:
        """The transactions of a trace with inputs whose spent output is not in the data: how much value the
        trace could not see (at least; the unseen inputs' fees are unknown) and what that means for the
        policy's figures."""
        g = flow.graph
        txs = np.unique(r.e_tx) if r.e_tx.size else np.empty(0, dtype=np.int64)
        txs = txs[~g.is_coinbase[txs]] if txs.size else txs
        blind = txs
        if txs.size:      # inputs whose spent output is not in the data, per traced transaction
            starts, ends = g.tx_in_ptr[txs], g.tx_in_ptr[txs + 1]
            counts = ends - starts
            idx = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
            missing = (g.in_prev[idx] < 0).astype(np.int64)
            seg = np.cumsum(counts) - counts
            per_tx = np.add.reduceat(missing, seg) if missing.size else np.zeros(txs.size, dtype=np.int64)
            per_tx[counts == 0] = 0
            blind = txs[per_tx > 0]
        effect = {
            "haircut": "shares through these transactions are taken of the inputs the data holds; their unseen "
                       "inputs would dilute them, so the traced amounts through them are upper bounds",
            "poison": "poison marks every output of a transaction that received taint: unseen inputs do not change it",
            "fifo": "the unseen inputs' places in the input order are known but not their values, so the "
                    "intervals, and the amounts through these transactions, may differ",
            "lifo": "the unseen inputs' places in the input order are known but not their values, so the "
                    "intervals, and the amounts through these transactions, may differ",
            "tiho": "the unseen inputs' values are not known, so the amounts through these transactions may differ",
        }
        u = unit_of(chain)
        return {"transactions": int(blind.size), "value_at_least": int(g.gap[blind].sum()) if blind.size else 0,
                "asset": u["asset"], "unit": u["unit"], "fees_unknown": int(blind.size),
                "txids": [txids.get(int(t)) for t in blind[:50].tolist()],
                "effect": effect.get(policy, "") if blind.size else None}

    def trace(self, source: str, direction: str = "forward", policy: str = "haircut", max_hops: int = 10,
              min_amount: int = 0, stop_at: str | Sequence[str] | None = None, chain: str | None = None, *,
              asset: str | None = None, max_degree: int = 5000, max_edges: int = 1_000_000) -> dict[str, Any]:
        """Trace value from ``source`` (``txid:vout``, ``txid`` or address; on account chains ``txhash:index``
        picks one transfer) forward or backward under ``policy``; the Trace JSON of DESIGN.md.

        Unknown txid/address -> NotFound; output index out of range, unknown policy or stop category, an asset
        the address never held -> InvalidInput. Limits that were hit are listed in ``provenance.limits_hit``.
        """
        return self._run(source, direction=direction, policy=policy, max_hops=max_hops, min_amount=min_amount,
                         stop_at=stop_at, chain=chain, asset=asset, max_degree=max_degree, max_edges=max_edges)[0]

    def compare_policies(self, source: str, direction: str = "forward", *, policies: Sequence[str] | None = None,
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
                               if k not in ("totals", "limits_hit", "conserved", "unseen_inputs")}}

    def sankey(self, source: str, direction: str = "forward", policy: str = "haircut", **kw: Any) -> dict[str, Any]:
        """A trace aggregated for a Sankey diagram (nodes per hop and entity/cluster/address, summed links)."""
        from chainsleuth.algorithms.tracing.report import sankey

        kw.setdefault("max_hops", 10)
        kw.setdefault("min_amount", 0)
        kw = {"stop_at": None, "chain": None, "asset": None, "max_degree": 5000, "max_edges": 1_000_000, **kw}
        doc, att = self._run(source, direction=direction, policy=policy, **kw)
        # intermediate addresses are grouped by entity, else cluster: a peel chain of one owner is one node
        return {"source": source, "direction": direction, "policy": doc["policy"], **sankey(doc, att)}

    def exposure(self, source: str, direction: str = "forward", policy: str = "haircut", *, max_hops: int = 6,
                 **kw: Any) -> dict[str, Any]:
        """Direct and indirect exposure by category and entity: destination of funds (forward) or source of
        funds (backward), stopping at every attributed service category by default."""
        from chainsleuth.algorithms.tracing.report import exposure_table

        return exposure_table(self.trace(source, direction, policy, max_hops, **kw))

    def find_path(self, src: str, dst: str, *, max_depth: int = 6, max_degree: int = 1000,
                  chain: str | None = None) -> dict[str, Any]:
        """Shortest money-flow path from ``src`` to ``dst`` (addresses or ``cluster:ID``), with its transactions.

        Raises LimitExceeded when the search stopped at ``max_depth`` or skipped hubs before finding one, and
        NotFound when no path exists in the data.
        """
        from chainsleuth.algorithms.tracing.path import account_path, utxo_path
        from chainsleuth.errors import LimitExceeded

        src, dst = src.strip(), dst.strip()
        check_source_syntax(src)
        check_source_syntax(dst)
        c = self._sources.path_chain(src, dst, chain)
        a, b = self._sources.endpoints(src, c), self._sources.endpoints(dst, c)
        store = self._store()
        utxo = get_chain(c).model is Model.UTXO
        if utxo:
            uflow = self._graphs.utxo(c)
            r = utxo_path(uflow.graph, a, b, n_addr=store.graph.n_addresses(c), max_depth=max_depth,
                          max_degree=max_degree)
        else:
            aflow = self._graphs.account(c, Asset.ALL_FUNGIBLE)    # a path may move any fungible asset
            r = account_path(aflow.graph, a, b, max_depth=max_depth, max_degree=max_degree)
        if not r.found:
            stuck = r.depth_searched >= max_depth or r.skipped_hubs
            msg = (f"no path from {src} to {dst} within {r.depth_searched} step(s) (visited {r.visited} addresses, "
                   f"skipped {r.skipped_hubs} hub(s) over --max-degree {max_degree})")
            if stuck:
                raise LimitExceeded(msg + f"; raise --max-depth (now {max_depth}) or --max-degree",
                                    limit="max_depth" if r.depth_searched >= max_depth else "max_degree")
            raise NotFound(msg, value=f"{src} -> {dst}")
        names = store.graph.addresses(c, [x for s in r.steps for x in s[1:3]])
        units: list[dict[str, Any]] = []
        if utxo:
            txids = store.graph.txids(c, [s[0] for s in r.steps])
            vals = [int(uflow.graph.out_value[s[3]]) for s in r.steps]
            times = [(int(uflow.height[s[0]]), int(uflow.time[s[0]])) for s in r.steps]
            assets = [get_chain(c).native_asset] * len(r.steps)
            units = [unit_of(c) | {"outpoint": f"{txids.get(s[0])}:{int(uflow.out_n[s[3]])}"} for s in r.steps]
        else:
            names = {k: to_checksum_address(v) for k, v in names.items()}
            txids = store.graph.account_tx_hashes(c, [s[0] for s in r.steps])
            vals = [int(aflow.graph.ev_value[s[3]]) for s in r.steps]
            times = [(int(aflow.height[s[3]]), int(aflow.time[s[3]])) for s in r.steps]
            tok = store.graph.addresses(c, [int(aflow.asset[s[3]]) for s in r.steps])
            assets = [to_checksum_address(tok[i]) if (i := int(aflow.asset[s[3]])) in tok
                      else get_chain(c).native_asset for s in r.steps]
            units = [self._unit(c, a) | {"transfer": f"{txids.get(s[0])}:{int(aflow.index[s[3]])}"}
                     for s, a in zip(r.steps, assets, strict=True)]
        steps = [{"hop": i + 1, "txid": txids.get(s[0]), "from": names.get(s[1]), "to": names.get(s[2]),
                  "amount": v, "height": h, "time": t, **u, "asset": asset}
                 for i, (s, v, asset, (h, t), u) in enumerate(zip(r.steps, vals, assets, times, units, strict=True))]
        return {"from": src, "to": dst, "chain": c, "found": True, "hops": len(steps), "steps": steps,
                "searched": {"depth": r.depth_searched, "visited": r.visited, "skipped_hubs": r.skipped_hubs,
                             "max_depth": max_depth, "max_degree": max_degree}}

    def peel_chain(self, source: str, *, max_hops: int = 100, chain: str | None = None) -> dict[str, Any]:
        """Follow a peel chain from ``txid:vout``, keeping to the change output; every step with its evidence."""
        from chainsleuth.algorithms.tracing.peel import follow_peel_chain

        ref = tx_reference(source)
        if ref is None or ref[1] is None:
            raise InvalidInput(f"{source!r} is not TXID:VOUT: a peel chain starts at one Bitcoin output",
                               field="source", value=source)
        seeds = self._sources.resolve(source, chain=chain)
        flow = seeds.flow
        if not isinstance(flow, UtxoFlow) or len(seeds.rows) != 1:
            raise InvalidInput("a peel chain starts at one Bitcoin output: give TXID:VOUT", value=source)
        c, g = seeds.chain, flow.graph
        steps, why = follow_peel_chain(g, seeds.rows[0], max_hops=max_hops)
        store = self._store()
        txids = store.graph.txids(c, [s.tx for s in steps])
        names = store.graph.addresses(c, [int(g.out_addr[r]) for s in steps for r in (s.change_row, s.peeled_row)])

        unit = unit_of(c)

        def out(tx: int, row: int) -> dict[str, Any]:
            return {"n": int(flow.out_n[row]), "outpoint": f"{txids.get(tx)}:{int(flow.out_n[row])}",
                    "address": names.get(int(g.out_addr[row])), "value": int(g.out_value[row]), **unit}

        return {"source": source, "chain": c, "ended": why, "hops": len(steps),
                "steps": [{"hop": s.hop, "txid": txids.get(s.tx), "change": out(s.tx, s.change_row),
                           "peeled": out(s.tx, s.peeled_row), "evidence": s.evidence.to_dict()} for s in steps]}
