"""Address clustering with evidence, CoinJoin exclusion, comparisons, and per-transaction explanations."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chainsleuth import __version__
from chainsleuth.config import Settings
from chainsleuth.core.chains import Model, get_chain
from chainsleuth.core.progress import Progress
from chainsleuth.errors import (
    Conflict,
    InternalError,
    InvalidInput,
    NotFound,
)
from chainsleuth.store import Store
from chainsleuth.workspace.assets import Asset, store_asset_id
from chainsleuth.workspace.attribution import AttributionService
from chainsleuth.workspace.chains import ChainLocator

__all__ = ["ClusteringService"]


class ClusteringService:
    """Cluster sets of a chain's addresses, each merge with its evidence; the cluster of an address.

    Parameters
    ----------
    store : callable returning Store
        The workspace's store, opened on first use.
    settings : Settings
        The default large-merge alert size.
    progress : Progress
        Where a clustering run reports, and its alerts.
    chains : ChainLocator
        Which chain an address or txid is on.
    attribution : AttributionService
        The tags a cluster inherits from its members (``show_cluster``).
    workspace : Path
        Named in the messages about an empty workspace.
    """

    def __init__(self, store: Callable[[], Store], settings: Settings, progress: Progress, *,
                 chains: ChainLocator, attribution: AttributionService, workspace: Path) -> None:
        self._store = store
        self._settings = settings
        self._progress = progress
        self._chains = chains
        self._attribution = attribution
        self._workspace = workspace

    def target_chain(self, chain: str | None = None) -> str:
        """``chain`` (by its canonical name), else the workspace's one UTXO chain: what ``cluster`` works on.

        Conflict when the workspace holds no UTXO blocks, InvalidInput (pass --chain) when it holds several.
        """
        if chain is not None:
            return get_chain(chain).name
        store = self._store()
        chains = store.utxo.chains()
        if not chains:
            hint = (f"; for {', '.join(store.account.chains())} pass --chain and --heuristics deposit-address"
                    if store.account.chains() else "")
            raise Conflict(f"nothing to cluster: the workspace {self._workspace} holds no UTXO blocks; ingest some "
                           f"first (chainsleuth ingest btc-blocks PATH){hint}", file=str(self._workspace))
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
        names = resolve_heuristics(list(heuristics)) if heuristics else None
        alert = self._settings.cluster_alert_size if alert_size is None else int(alert_size)
        if alert < 1:
            raise InvalidInput("the alert size must be at least 1", field="--alert-size", value=alert)
        c = self.target_chain(chain)
        if names is None:   # the default: co-spend on UTXO chains, deposit-address on account chains
            names = resolve_heuristics(["deposit-address"] if get_chain(c).model is Model.ACCOUNT
                                       else list(DEFAULT_HEURISTICS))
        if get_chain(c).model is Model.ACCOUNT:
            return self._cluster_account(c, names, alert, t0)
        cs = self._store().clusters
        st = cs.input_status(c)
        if st["txs"] == 0:
            raise Conflict(f"nothing to cluster: no {c} transactions in the workspace {self._workspace}", value=c)
        if st["inputs"] and not st["inputs_resolved"]:
            raise Conflict(f"no input of {c} has its spent output in the workspace ({st['inputs']} unresolved "
                           "inputs), so no input address is known: ingest the chain from genesis (or the "
                           "blocks holding the spent outputs) first", value=c)
        name = "+".join(names) + ("+coinjoins" if include_coinjoins else "")
        existing = cs.get_set(c, name)
        base = existing if incremental and existing is not None and supports_incremental(names) else None
        if base is not None and cs.stale_at_or_below(c, int(base["last_tx_id"])):
            base = None   # a reorg (or stale blocks) below the set's watermark: rebuilt on the best chain
        mode = "incremental" if base is not None else "batch"
        prior = None
        after = -1
        base_id = None
        if base is not None:   # extend the set: its labels, and only the transactions newer than it
            base_id = int(base["set_id"])
            none = np.empty(0, np.int64)
            prior = Clustering(cs.labels(c, base_id), Links(none, none, none, none, none, none, none, ()))
            after = int(base["last_tx_id"])
        cols, script_types = cs.tx_arrays(c, after_tx_id=after, set_id=base_id)
        arrays = TxArrays.from_columns(cols, script_types)
        self._progress.start(f"cluster {c} ({name})", total=None)
        run = cluster_utxo(arrays, st["addresses"], names, include_coinjoins=include_coinjoins, chain=c, prior=prior)
        self._progress.finish()
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
            software_version=__version__, incremental_of=base_id)
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
            self._progress.note(f"alert: {a['message']} (tx_id {a['tx_id']})")
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
        store = self._store()
        g = store.graph
        arr = g.account_arrays(c, store_asset_id(Asset.NATIVE))
        if len(arr["from"]) == 0:
            raise Conflict(f"nothing to cluster: no {c} transfers in the workspace {self._workspace}", value=c)
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
        cs = store.clusters
        set_id = cs.write_set(
            c, name="deposit-address", heuristics=names, parameters={"caveats": list(dep.caveats)},
            labels=run.labels,
            links={"address_a": links.a, "address_b": links.b, "tx_id": links.tx_id,
                   "heuristic": links.heuristic_names(), "confidence": links.confidence,
                   "size_a": links.size_a, "size_b": links.size_b},
            coinjoins={"tx_id": [], "kind": [], "equal_value": [], "equal_count": []},
            pending=np.empty(0, dtype=np.int64), last_tx_id=int(arr["tx"].max(initial=-1)),
            provenance={"run_ids": [r.run_id for r in store.runs.list(c)],
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
        rows = self._store().clusters.addresses_text(chain, [address_id])
        return rows.get(address_id)

    def cluster_ref(self, chain: str, address_id: int) -> dict[str, int] | None:
        """``{"id", "size"}`` of the cluster holding ``address_id`` in the chain's active cluster set; None
        when the address is not clustered."""
        clusters = self._store().clusters
        cid = clusters.cluster_of(chain, address_id)
        return None if cid is None else {"id": cid, "size": clusters.size(chain, cid)}

    def show_cluster(self, ref: str, *, chain: str | None = None, why: tuple[str, str] | None = None,
                     cluster_set: str | None = None, limit: int = 100, offset: int = 0) -> dict[str, Any]:
        """The Cluster JSON of DESIGN.md for a cluster id or any member address; ``why=(A, B)`` adds the chain
        of links (transactions and heuristics) that joined the two addresses."""
        if ref.lower().startswith("0x"):
            ref = ref.lower()
        c = (self.target_chain(chain) if chain or ref.isdigit()
             else self._chains.address_chain(ref, model=Model.UTXO))
        store = self._store()
        cs = store.clusters
        s = cs.get_set(c, cluster_set)
        if s is None:
            raise NotFound(f"no cluster set {cluster_set!r} on {c}" if cluster_set else
                           f"{c} is not clustered yet; run 'chainsleuth cluster' first", value=cluster_set or c)
        sid = int(s["set_id"])
        if ref.isdigit():
            cid = int(ref)
        else:
            aid = store.utxo.address_id(c, ref)
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
        tags = self._attribution.cluster_tags(c, cid)
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
        if get_chain(c).model is Model.ACCOUNT:   # addresses as the chain writes them (EIP-55), as show address
            from chainsleuth.core.account import to_checksum_address

            out["addresses"] = [to_checksum_address(a) for a in out["addresses"]]
            for link in out["links"] + (out["why"]["steps"] if "why" in out else []):
                link["from"], link["to"] = to_checksum_address(link["from"]), to_checksum_address(link["to"])
            if "why" in out:
                out["why"]["from"], out["why"]["to"] = (to_checksum_address(out["why"]["from"]),
                                                        to_checksum_address(out["why"]["to"]))
        return out

    def _why(self, chain: str, set_id: int, cluster_id: int, pair: tuple[str, str]) -> dict[str, Any]:
        from chainsleuth.algorithms.clustering import link_path

        store = self._store()
        ids = []
        for a in pair:
            aid = store.utxo.address_id(chain, a.lower() if a.lower().startswith("0x") else a)
            if aid is None:
                raise NotFound(f"address {a} is not in this workspace on {chain}", value=a)
            if store.clusters.cluster_of(chain, aid, set_id) != cluster_id:
                raise InvalidInput(f"address {a} is not in cluster {cluster_id}", field="--why", value=a)
            ids.append(aid)
        la = store.clusters.link_arrays(chain, cluster_id, set_id)
        path = link_path(la["address_a"], la["address_b"], ids[0], ids[1])
        if path is None:  # cannot happen for two members of one cluster: its links form a spanning tree
            raise InternalError("cluster links do not connect two of its members", value=cluster_id)
        seqs = [int(la["seq"][i]) for i in path]
        by_seq = store.clusters.links_by_seq(chain, seqs, set_id)
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

    def compare(self, set1: str, set2: str, *, chain: str | None = None, limit: int = 100) -> dict[str, Any]:
        """Which clusters of ``set1`` split in ``set2`` and which of ``set2`` merge clusters of ``set1``."""
        from chainsleuth.algorithms.clustering import compare_labels, pairwise_scores

        c = self.target_chain(chain)
        clusters = self._store().clusters
        sets = []
        for ref in (set1, set2):
            s = clusters.get_set(c, ref)
            if s is None:
                known = ", ".join(f"{x['set_id']}:{x['name']}" for x in clusters.sets(c)) or "none"
                base, cj = ref.removesuffix("+coinjoins"), ref.endswith("+coinjoins")
                build = (f"; build it with 'chainsleuth cluster --chain {c} --heuristics {base.replace('+', ',')}"
                         f"{' --include-coinjoins' if cj else ''}'" if not ref.isdigit() else "")
                raise NotFound(f"no cluster set {ref!r} on {c}; sets: {known}{build}", value=ref)
            sets.append(s)
        la = clusters.labels(c, int(sets[0]["set_id"]))
        lb = clusters.labels(c, int(sets[1]["set_id"]))
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
        c = self._chains.tx_chain(t, chain=chain, model=Model.UTXO)
        clusters = self._store().clusters
        ctx = clusters.tx_context(c, t)
        if ctx is None:
            raise NotFound(f"transaction {t} is not in this workspace on {c}", value=t)
        cols, names = clusters.tx_arrays(c, tx_ids=[ctx["tx_id"], *ctx["spenders"]])
        arrays = TxArrays.from_columns(cols, names)
        row = arrays.row_of(ctx["tx_id"])
        cj = detect_coinjoins(arrays, chain=c)
        guesses = detect_change(arrays, CHANGE_HEURISTICS, exclude_rows=np.flatnonzero(cj.mask),
                                first_seen=ctx["first_seen"])
        guesses["consensus"] = change_consensus(dict(guesses), arrays.n_tx)
        texts = clusters.addresses_text(c, [int(a) for a in arrays.out_address if a >= 0])
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
