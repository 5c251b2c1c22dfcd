"""Tracing: forward/backward under each policy, policy comparison, Sankey, exposure, path search, peel chains.

Part of the :class:`~chainsleuth.workspace.Workspace` facade (see ``workspace/__init__.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainsleuth import __version__
from chainsleuth.core.account import is_address, normalize_address, to_checksum_address
from chainsleuth.core.chains import Model, get_chain
from chainsleuth.errors import (
    InvalidInput,
    NotFound,
    Unsupported,
)
from chainsleuth.workspace._base import WorkspaceBase

__all__ = ["Tracing"]

_TXID_COLON = re.compile(r"(?:0x)?[0-9a-fA-F]{64}:(.*)")


def _check_source_syntax(part: str) -> None:
    """Refuse a malformed ``cluster:ID`` or ``TXID:VOUT`` before any lookup: it would otherwise be taken for an
    address, or fail deep inside the search."""
    if part.startswith("cluster:") and not part.removeprefix("cluster:").isdigit():
        raise InvalidInput(f"{part!r}: a cluster is given as cluster:ID with a numeric id (see 'chainsleuth "
                           "show cluster ADDRESS')", field="source", value=part)
    m = _TXID_COLON.fullmatch(part)
    if m and not m.group(1).isdigit():
        raise InvalidInput(f"{part!r}: the output index after the txid must be a number (TXID:VOUT)",
                           field="source", value=part)


class Tracing(WorkspaceBase):
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
        _check_source_syntax(source)
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

        src, dst = src.strip(), dst.strip()
        _check_source_syntax(src)
        _check_source_syntax(dst)
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

        m = re.fullmatch(self._TX_RE, source.strip())
        if m is None or m.group(2) is None:
            raise InvalidInput(f"{source!r} is not TXID:VOUT: a peel chain starts at one Bitcoin output",
                               field="source", value=source)
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
