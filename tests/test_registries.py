"""Registries drive dispatch: a plugin registered like the built-ins is found and run by the same code paths
(ingest sources by URI scheme, clustering heuristics in a clustering run, tag importers by file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from chainsleuth.algorithms.clustering import (
    HEURISTICS,
    Edges,
    HeuristicSpec,
    cluster_utxo,
    supports_incremental,
)
from chainsleuth.algorithms.clustering.heuristics import LinkInput
from chainsleuth.algorithms.txarrays import TxArrays
from chainsleuth.attribution import IMPORTERS, detect_importer
from chainsleuth.attribution.importers import TagImporter, read_csv_tags
from chainsleuth.core.chains import Model
from chainsleuth.core.registry import Registry
from chainsleuth.errors import InvalidInput, Unsupported
from chainsleuth.sources.registry import SOURCES, SourceKind, open_evm_source, source_for_uri

T = TypeVar("T")


@pytest.fixture
def plugin() -> Iterator[Any]:
    """Register extensions for one test and unregister them after it."""
    added: list[tuple[Registry[Any], str]] = []

    def register(registry: Registry[T], name: str, item: T) -> T:
        added.append((registry, name))
        return registry.add(name, item)

    yield register
    for registry, name in reversed(added):
        registry.remove(name)


def test_registry_add_remove_and_order() -> None:
    r: Registry[int] = Registry("thing")
    r.add("b", 1)
    r.add("a", 2)
    assert r.names() == ["a", "b"] and r.items() == [("b", 1), ("a", 2)]
    assert r.remove("b") == 1 and "b" not in r
    with pytest.raises(InvalidInput, match="unknown thing 'b'"):
        r.remove("b")
    with pytest.raises(InvalidInput, match="already registered"):
        r.add("a", 3)


def test_a_registered_source_answers_to_its_scheme(plugin: Any) -> None:
    with pytest.raises(Unsupported, match="cannot ingest from 'ws://node:8546'"):
        source_for_uri("ws://node:8546")
    opened: list[tuple[str, str, dict[str, Any]]] = []

    def open_ws(uri: str, chain: str, **options: Any) -> str:
        opened.append((uri, chain, options))
        return "a websocket source"

    plugin(SOURCES, "evm-ws", SourceKind("evm-ws", Model.ACCOUNT, "EVM nodes over websockets", open_ws,
                                        schemes=("ws", "wss")))
    assert source_for_uri("WSS://node:8546").name == "evm-ws"
    assert open_evm_source("ws://node:8546", "eth", traces="none") == "a websocket source"
    assert opened == [("ws://node:8546", "eth", {"transport": None, "traces": "none"})]


def _first_output_links(inp: LinkInput) -> Edges:
    """A toy heuristic: each transaction's first input address with its first output address."""
    t = inp.t
    rows = np.flatnonzero((t.n_in > 0) & (t.n_out > 0))
    a, b = t.in_address[t.in_start[rows]], t.out_address[t.out_start[rows]]
    ok = (a >= 0) & (b >= 0) & (a != b)
    return Edges(a[ok], b[ok], t.tx_id[rows][ok], np.zeros(int(ok.sum()), dtype=np.int64),
                 np.full(int(ok.sum()), 0.5), ("test:first-output",))


def test_a_registered_heuristic_is_run_by_a_clustering_run(plugin: Any) -> None:
    t = TxArrays.from_rows(txs=[(0, 1, 1, 0, False), (1, 2, 1, 0, False)],
                           inputs=[(0, 0, 5, 0xFFFFFFFF, "p2pkh"), (1, 1, 5, 0xFFFFFFFF, "p2pkh"),
                                   (1, 2, 5, 0xFFFFFFFF, "p2pkh")],
                           outputs=[(0, 0, 3, 4, "p2pkh", -1), (1, 0, 4, 9, "p2pkh", -1)])
    with pytest.raises(InvalidInput, match="unknown heuristic 'test:first-output'"):
        cluster_utxo(t, 5, ["test:first-output"])
    plugin(HEURISTICS, "test:first-output", HeuristicSpec(
        "test:first-output", "merge", 0.5, "tests", "first input and first output", links=_first_output_links))
    alone = cluster_utxo(t, 5, ["test:first-output"]).clustering
    assert alone.labels.tolist() == [0, 1, 2, 0, 1]       # 0 with 3 (tx 0), 1 with 4 (tx 1); 2 alone
    assert set(alone.links.heuristic_names()) == {"test:first-output"}
    both = cluster_utxo(t, 5, ["test:first-output", "co-spend"]).clustering
    assert both.labels.tolist() == [0, 1, 1, 0, 1]        # co-spend adds 2 to 1
    assert not supports_incremental(["co-spend", "test:first-output"])


def test_a_registered_importer_claims_its_files(plugin: Any, tmp_path: Path) -> None:
    f = tmp_path / "case-7.tags"
    f.write_text("address,label,category,source,confidence\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="unknown tag file type"):
        detect_importer(f)
    plugin(IMPORTERS, "dot-tags", TagImporter("dot-tags", read_csv_tags, lambda p: p.suffix == ".tags"))
    assert detect_importer(f) == "dot-tags"
    assert detect_importer(tmp_path / "x.actorpack.yaml") == "actorpack"    # built-ins keep their order
