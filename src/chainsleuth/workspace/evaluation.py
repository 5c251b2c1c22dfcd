"""Evaluation of the clustering heuristics on generated training worlds, whose answer key is the truth."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, Self

import numpy as np

from chainsleuth import __version__
from chainsleuth.core.chains import get_chain
from chainsleuth.errors import InvalidInput
from chainsleuth.store import Store
from chainsleuth.workspace.ingest import IngestService

__all__ = ["TRAINING_COINJOIN_KINDS", "EvaluationService", "ScratchWorkspace"]

#: ledger transaction kinds of the training worlds -> CoinJoin detector types
TRAINING_COINJOIN_KINDS: dict[str, str] = {"coinjoin-wasabi": "wasabi1", "coinjoin-wasabi2": "wasabi2",
                                           "coinjoin-whirlpool": "whirlpool", "coinjoin-joinmarket": "joinmarket"}


class ScratchWorkspace(Protocol):
    """A workspace of its own for one generated world: ingested through the real adapters, then read."""

    @property
    def ingest(self) -> IngestService: ...

    @property
    def store(self) -> Store: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


class EvaluationService:
    """Measures heuristics against ground truth.

    Parameters
    ----------
    scratch : callable from a directory to a ScratchWorkspace
        Opens an empty workspace in a temporary directory (with this workspace's settings).
    """

    def __init__(self, scratch: Callable[[Path], ScratchWorkspace]) -> None:
        self._scratch = scratch

    def clustering(self, *, seeds: Sequence[int] = (1, 2, 3), typology: str | None = None, difficulty: int = 1,
                   size: int | None = None, cards_dir: str | Path | None = None) -> dict[str, Any]:
        """Measure the clustering heuristics on generated training worlds (ground truth: the answer key)
        and, with ``cards_dir``, write the heuristic cards there. Each world is written as blk files,
        ingested through the real parser into a scratch workspace, and clustered from the store's arrays."""
        from chainsleuth.algorithms.clustering.evaluation import combine, evaluate_world, render_cards
        from chainsleuth.algorithms.patterns.coinjoin import COINJOIN_TYPES
        from chainsleuth.algorithms.txarrays import TxArrays
        from chainsleuth.core.btc.builder import blk_files
        from chainsleuth.training.output import write_files
        from chainsleuth.training.typologies import DEFAULT_SIZE, TYPOLOGIES, generate_world

        typ = typology or TYPOLOGIES.names()[0]
        typs = TYPOLOGIES.names() if typ == "all" else [typ]
        for x in typs:
            TYPOLOGIES.get(x)
        if not seeds:
            raise InvalidInput("give at least one seed", field="--seeds")
        results, worlds = [], []
        for x, seed in ((x, s_) for x in typs for s_ in seeds):
            world, key = generate_world(x, difficulty, int(seed), size=size or DEFAULT_SIZE)
            kinds = {txid: TRAINING_COINJOIN_KINDS.get(k)
                     for txid, k in zip(world.btc_txids, world.btc.tx_kind, strict=False)}
            with tempfile.TemporaryDirectory(prefix="chainsleuth-eval-") as d:
                net = get_chain("btc").btc_network
                assert net is not None
                write_files(Path(d) / "btc", blk_files(world.btc_blocks, net))
                with self._scratch(Path(d) / "ws") as sub:
                    sub.ingest.btc_blocks([Path(d) / "btc"], chain="btc", allow_invalid_pow=True)
                    cs = sub.store.clusters
                    cols, names = cs.tx_arrays("btc")
                    t = TxArrays.from_columns(cols, names)
                    n = cs.input_status("btc")["addresses"]
                    texts = cs.addresses_text("btc", list(range(n)))
                    ent: dict[str, int] = {}
                    owner = np.array([ent.setdefault(key.owners[f"btc:{texts[i]}"], len(ent))
                                      if f"btc:{texts.get(i)}" in key.owners else -1 for i in range(n)],
                                     dtype=np.int64)
                    txids = cs.txids("btc", t.tx_id.tolist())
                    truth = [kinds.get(txids[i]) for i in t.tx_id.tolist()]
                    truth = [k if k in COINJOIN_TYPES else None for k in truth]
                    results.append(evaluate_world(t, n, owner, truth, chain="btc"))
            worlds.append({"typology": x, "seed": int(seed), **results[-1]["counts"]})
        pooled = combine(results)
        prov = (f"{len(worlds)} training world(s) (typology {', '.join(typs)}, difficulty {difficulty}, size "
                f"{size or DEFAULT_SIZE}, seeds {', '.join(str(s) for s in seeds)}), chainsleuth {__version__}")
        written: list[str] = []
        if cards_dir is not None:
            out = Path(cards_dir)
            out.mkdir(parents=True, exist_ok=True)
            for name, text in render_cards(pooled, provenance=prov).items():
                (out / name).write_text(text, encoding="utf-8")
                written.append(str(out / name))
        return {"provenance": prov, "worlds": worlds, "results": pooled, "cards": written}
