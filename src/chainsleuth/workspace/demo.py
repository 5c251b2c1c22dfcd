"""The demo: a training case generated, ingested, clustered, attributed and traced end to end."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chainsleuth.core.models import UtxoTxInfo
from chainsleuth.core.progress import Progress
from chainsleuth.errors import ChainsleuthError, Conflict
from chainsleuth.store import Store
from chainsleuth.workspace.attribution import AttributionService
from chainsleuth.workspace.clustering import ClusteringService
from chainsleuth.workspace.ingest import IngestService
from chainsleuth.workspace.queries import QueryService
from chainsleuth.workspace.tracing import TracingService

__all__ = ["DemoService"]


class DemoService:
    """The main job on the embedded default, through the same services every command uses.

    Parameters
    ----------
    store : callable returning Store
        The workspace's store (token look-ups for the traced assets).
    progress : Progress
        One task per demo step.
    workspace : Path
        The workspace directory; the generated case is written under its ``demo/``.
    ingest, attribution, clustering, queries, tracing
        The services each step calls.
    """

    def __init__(self, store: Callable[[], Store], progress: Progress, *, workspace: Path, ingest: IngestService,
                 attribution: AttributionService, clustering: ClusteringService, queries: QueryService,
                 tracing: TracingService) -> None:
        self._store = store
        self._progress = progress
        self._workspace = workspace
        self._ingest = ingest
        self._attribution = attribution
        self._clustering = clustering
        self._queries = queries
        self._tracing = tracing

    @staticmethod
    def case_starts(facts: dict[str, Any]) -> list[dict[str, Any]]:
        """Where a training case's trace starts, from the facts its brief gives the trainee."""
        starts = [{"chain": "eth" if str(v["txid"]).startswith("0x") else "btc", "txid": v["txid"],
                   "address": v["address"], "asset": v.get("asset")} for v in facts.get("victims", [])]
        if isinstance(facts.get("theft"), dict):
            t = facts["theft"]
            starts.append({"chain": "eth" if str(t["txid"]).startswith("0x") else "btc", "txid": t["txid"],
                           "address": t["address"], "asset": t.get("asset")})
        if facts.get("sanctioned_address"):
            a = str(facts["sanctioned_address"])
            starts.append({"chain": "eth" if a.startswith("0x") else "btc", "txid": None, "address": a, "asset": None})
        return starts

    def start_source(self, st: dict[str, Any]) -> str:
        """``txid:vout`` of the output paying the start address (Bitcoin), the tx hash (EVM), or the address."""
        if st["txid"] is None:
            return str(st["address"])
        if st["chain"] != "btc":
            return str(st["txid"])
        tx = self._queries.show_tx(str(st["txid"]), chain="btc")
        outs = [o.n for o in tx.outputs if o.address == st["address"]] if isinstance(tx, UtxoTxInfo) else []
        return f"{st['txid']}:{outs[0]}" if outs else str(st["txid"])

    def run(self, *, typology: str = "ransomware", difficulty: int = 1, seed: int = 7, size: int = 2000,
             policies: Sequence[str] = ("haircut", "fifo"), max_hops: int = 12) -> dict[str, Any]:
        """The main job on a generated case: generate a training world, ingest it through the real adapters
        (blk files, ethereum-etl CSV), import its tags, cluster, trace from the case's starting point under
        two policies, and report where the proceeds went and the exposure. Returns one JSON-ready dict."""
        from chainsleuth.training import TYPOLOGIES, generate_world

        if typology not in TYPOLOGIES:
            TYPOLOGIES.get(typology)        # raises InvalidInput listing the typologies
        case_name = f"{typology}-d{difficulty}-s{seed}-n{size}"
        demo_root = self._workspace / "demo"
        held = self._queries.stats().chains
        others = sorted(d.name for d in demo_root.iterdir() if d.name != case_name) if demo_root.is_dir() else []
        if held and not demo_root.is_dir():   # chain data the demo did not write: keep it clean
            raise Conflict(f"the workspace {self._workspace} already holds chain data ({', '.join(held)}); the demo would "
                           "mix generated blocks, tags and clusters into it. Run it in a workspace of its own: "
                           "chainsleuth --workspace demo-workspace demo", file=str(self._workspace))
        if others:    # another demo case: its chains would mix with this one's
            raise Conflict(f"the workspace {self._workspace} already holds the demo case {others[0]}; run this one in a "
                           "workspace of its own: chainsleuth --workspace demo-2 demo ...", file=str(self._workspace))
        p = self._progress
        steps = iter(["generate the world", "ingest Bitcoin blocks", "ingest Ethereum export", "import tags",
                      "cluster", "trace the proceeds"])

        def step() -> None:
            p.finish()
            p.start(f"demo: {next(steps)}", total=None)

        step()
        world, key = generate_world(typology, difficulty=difficulty, seed=seed, size=size)
        out_dir = demo_root / case_name
        paths = world.write(out_dir)
        step()
        ing_btc = self._ingest.btc_blocks([paths["btc"]], allow_invalid_pow=True) if paths.get("btc") else None
        step()
        ing_eth = self._ingest.etl(paths["eth"], chain="eth") if paths.get("eth") else None
        step()
        tags = (self._attribution.import_tags([Path(paths["tags"]).parent]) if paths.get("tags")   # + actors
                else {"tags_new": 0})
        step()
        try:
            cl: dict[str, Any] | None = self._clustering.cluster("btc")
        except ChainsleuthError as e:        # clustering unavailable on this data: say so, keep going
            cl = None
            p.note(f"clustering skipped: {e}")
        step()
        starts = self.case_starts(key.facts)
        by_chain: dict[tuple[str, str | None], list[str]] = {}
        exps = key.answers.get("trace_expectations") or []
        if exps:    # the case's starting point and the bridge releases, as the answer key defines them
            for ex in exps:
                by_chain.setdefault((ex["chain"], None if ex["asset"] in ("BTC", "ETH") else ex["asset"]), []).extend(
                    f"{s['txid']}:{s['index']}" if "index" in s else s.get("address") or s["txid"]
                    for s in ex["source"])
        for st in starts if not exps else []:
            by_chain.setdefault((st["chain"], st["asset"]), []).append(self.start_source(st))
        if exps:    # report what was traced
            starts = [{"chain": ex["chain"], "txid": s.get("txid"), "address": s.get("address", ""),
                       "asset": ex["asset"]} for ex in exps for s in ex["source"]]
        traces: dict[str, Any] = {}
        for (chain, asset), sources in by_chain.items():
            src = ",".join(sources)
            asset_arg = None if asset in (None, "BTC", "ETH") else asset
            if asset_arg and chain != "btc" and not self._store().graph.token_ids(chain, asset_arg):
                moved = self._store().graph.tx_assets(chain, sources[0])   # no token metadata: the start tx's token
                asset_arg = moved[0] if len(moved) == 1 else asset_arg
            for pol in policies:
                doc = self._tracing.trace(src, "forward", pol, max_hops, 0, None, chain, asset=asset_arg)
                traces.setdefault(f"{chain}:{asset or 'native'}", {"source": src, "chain": chain,
                                                                     "docs": {}})["docs"][pol] = doc
                p.advance(1, policy=pol)
        p.finish()
        proceeds: dict[tuple[str, str, Any, Any], dict[str, Any]] = {}
        exposure: dict[str, Any] = {}
        from chainsleuth.algorithms.tracing.report import exposure_table

        for name, tr in traces.items():
            for pol, doc in tr["docs"].items():
                for ep in doc["endpoints"]:
                    k = (name, ep["entity"] or ep["address"] or "(unknown)", ep["category"], None)
                    row = proceeds.setdefault(k, {"chain": name, "entity": k[1], "category": k[2], "hops": ep["hops"],
                                                  "amounts": {q: 0 for q in policies}})
                    row["amounts"][pol] += ep["amount"]
                    row["hops"] = min(row["hops"], ep["hops"])
            exposure[name] = exposure_table(tr["docs"][policies[0]])
        key_check = [{"entity": c.entity_name, "chain": c.chain, "asset": c.asset, "amount": c.amount}
                     for c in key.cashouts]
        return {
            "world": {"typology": typology, "difficulty": difficulty, "seed": seed, "dir": str(out_dir),
                      "btc_transactions": world.btc.n_txs, "eth_transactions": world.evm.n_txs},
            "ingest": {"btc": ing_btc.model_dump() if ing_btc else None,
                       "eth": ing_eth.model_dump() if ing_eth else None},
            "tags_new": tags.get("tags_new", 0),
            "clusters": None if cl is None else {k: cl.get(k) for k in ("set_id", "name", "clusters", "addresses")},
            "starts": starts, "policies": list(policies),
            "proceeds": sorted(proceeds.values(), key=lambda r: -max(r["amounts"].values())),
            "exposure": exposure,
            "traces": {k: {"source": v["source"], "chain": v["chain"],
                           "totals": {p_: d["provenance"]["totals"] for p_, d in v["docs"].items()},
                           "limits_hit": {p_: d["provenance"]["limits_hit"] for p_, d in v["docs"].items()}}
                       for k, v in traces.items()},
            "answer_key_cashouts": key_check,
            "serve": "not implemented yet: the web workbench does not exist; this is the terminal form",
        }
