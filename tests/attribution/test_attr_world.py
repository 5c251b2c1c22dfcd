"""Tags on a small hand-built Bitcoin store: direct exposure, cluster propagation (via cluster, conflicts),
investigator tags, and a tag keeping its source and confidence through import, propagation, export and
re-import into another workspace."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from bitcoin.wallet import P2PKHBitcoinAddress

from chainsleuth.attribution import propagate_cluster_tags
from chainsleuth.core.records import BLOCK_SCHEMA, INPUT_SCHEMA, OUTPUT_SCHEMA, TX_SCHEMA, UtxoBatch
from chainsleuth.workspace import Workspace


def _h(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def _addr(i: int) -> str:
    return str(P2PKHBitcoinAddress.from_bytes(bytes([i]) * 20))


S, X, R, Y, M = (_addr(i) for i in (1, 2, 3, 4, 5))   # suspect, exchange, ransomware, exchange 2nd wallet, miner
BTC = 100_000_000


def _batch() -> UtxoBatch:
    blocks = [
        ("g", "00" * 32, 0, [("cb0", [], [(S, 50 * BTC)])]),
        ("b1", _h("g"), None, [("cb1", [], [(X, 50 * BTC)]),
                               ("t1", [("cb0", 0)], [(X, 10 * BTC), (R, 5 * BTC), (S, 35 * BTC - 1000)])]),
        ("b2", _h("b1"), None, [("cb2", [], [(M, 50 * BTC)]),
                                ("t2", [("cb1", 0)], [(S, 2 * BTC), (Y, 48 * BTC - 1000)])]),
    ]
    b, t, o, i = [], [], [], []
    for k, (name, prev, height, txs) in enumerate(blocks):
        b.append({"chain": "btc", "hash": _h(name), "height": height, "height_source": "genesis" if height == 0
                  else None, "prev_hash": prev, "merkle_root": "00" * 32, "time": 1_600_000_000 + k, "version": 2,
                  "bits": 0, "nonce": 0, "tx_count": len(txs), "size": 1, "stripped_size": 1, "weight": 4,
                  "source_file": "mem", "source_offset": 0})
        for j, (txn, ins, outs) in enumerate(txs):
            t.append({"chain": "btc", "txid": _h(txn), "wtxid": _h(txn), "block_hash": _h(name), "block_index": j,
                      "version": 1, "locktime": 0, "size": 1, "vsize": 1, "weight": 4, "is_coinbase": not ins,
                      "has_witness": False, "n_in": max(1, len(ins)), "n_out": len(outs),
                      "output_value": sum(v for _, v in outs)})
            for n, (a, v) in enumerate(outs):
                o.append({"chain": "btc", "txid": _h(txn), "block_hash": _h(name), "n": n, "value": v,
                          "script_type": "p2pkh", "address": a, "script": b"\x00"})
            for n, (pt, pn) in enumerate(ins or [(None, 0xFFFFFFFF)]):
                i.append({"chain": "btc", "txid": _h(txn), "block_hash": _h(name), "n": n,
                          "prev_txid": _h(pt) if pt else None, "prev_n": pn, "sequence": 0xFFFFFFFF,
                          "script_sig_size": 0, "witness_items": 0})
    return UtxoBatch(pa.Table.from_pylist(b, BLOCK_SCHEMA), pa.Table.from_pylist(t, TX_SCHEMA),
                     pa.Table.from_pylist(o, OUTPUT_SCHEMA), pa.Table.from_pylist(i, INPUT_SCHEMA))


PACK = f"""title: Case pack
creator: Unit 7
currency: BTC
lastmod: 2024-03-01
tags:
- address: {X}
  label: ExampleExchange
  category: exchange
  actor: example_exchange
  source: https://example.org/exchange-wallets
  confidence: service_data
  is_cluster_definer: true
- address: {R}
  label: Locker ransomware
  abuse: ransomware
  source: https://example.org/ransomware-report
  confidence: forensic
- address: {M}
  label: OtherExchange
  category: exchange
  actor: other_exchange
  source: https://example.org/other
  confidence: web_crawl
  is_cluster_definer: true
"""


@pytest.fixture
def world(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    run = ws.store.runs.start(chain="btc", source_kind="test", endpoint="mem", software_version="test")
    ws.store.utxo.write_batch(_batch(), run)
    pack = tmp_path / "case.yaml"
    pack.write_text(PACK)
    ws.attribution.import_tags([pack])
    return ws


def _cluster(ws: Workspace, groups: list[list[str]]) -> None:
    ids = {a: ws.store.utxo.address_id("btc", a) for a in (S, X, R, Y, M)}
    n = max(ids.values()) + 1
    labels = np.arange(n, dtype=np.int64)
    for g in groups:
        for a in g:
            labels[ids[a]] = ids[g[0]]
    empty = np.array([], dtype=np.int64)
    ws.store.clusters.write_set(
        "btc", name="test", heuristics=["test"], parameters={}, labels=labels,
        links={"address_a": empty, "address_b": empty, "tx_id": empty, "heuristic": [], "confidence": empty,
               "size_a": empty, "size_b": empty},
        coinjoins={"tx_id": empty, "kind": [], "equal_value": empty, "equal_count": empty}, pending=empty,
        last_tx_id=0, provenance={}, software_version="test")


def test_direct_exposure(world: Workspace) -> None:
    s = world.attribution.screen([S, Y])
    res = {r["address"]: r for r in s["results"]}
    assert res[S]["hits"] == [] and res[S]["in_workspace"] == ["btc"]
    got = {(e["category"], e["direction"]): (e["amount"], e["counterparties"], e["entities"])
           for e in res[S]["exposure"]}
    assert got == {("exchange", "sent"): (10 * BTC, 1, ["example_exchange"]),
                   ("ransomware", "sent"): (5 * BTC, 1, ["Locker ransomware"]),
                   ("exchange", "received"): (2 * BTC, 1, ["example_exchange"])}
    # Y received from X: exposure to the exchange; R and M have no flows with a tagged counterparty
    assert [(e["category"], e["direction"], e["amount"]) for e in res[Y]["exposure"]] == \
        [("exchange", "received", 48 * BTC - 1000)]
    assert s["with_hits"] == 0 and s["with_exposure"] == 2


def test_tags_of_not_yet_ingested_address_found_later(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    pack = tmp_path / "case.yaml"
    pack.write_text(PACK)
    ws.attribution.import_tags([pack])
    assert ws.store.tags.tags_for_address_ids("btc", [0, 1, 2]).num_rows == 0  # nothing ingested yet
    run = ws.store.runs.start(chain="btc", source_kind="test", endpoint="mem", software_version="test")
    ws.store.utxo.write_batch(_batch(), run)
    xid = ws.store.utxo.address_id("btc", X)
    t = ws.store.tags.tags_for_address_ids("btc", [xid])
    assert t["label"].to_pylist() == ["ExampleExchange"] and t["address_id"].to_pylist() == [xid]
    assert [x["label"] for x in ws.queries.show_address(X).tags] == ["ExampleExchange"]


def test_cluster_propagation_and_round_trip(world: Workspace, tmp_path: Path) -> None:
    _cluster(world, [[X, Y]])
    xid = world.store.utxo.address_id("btc", X)
    cid = world.store.clusters.cluster_of("btc", xid)
    ct = world.attribution.cluster_tags("btc", cid)
    assert [(t["label"], t["inherited_via"]) for t in ct] == [("ExampleExchange", X)]
    original = world.attribution.list_tags(X)[0]
    for f in ("source", "confidence", "confidence_level", "creator", "lastmod", "pack_uri"):
        assert ct[0][f] == original[f]
    # show address of the other member carries the inherited tag; show cluster lists it
    y_tags = world.queries.show_address(Y).tags
    assert [(t["label"], t["inherited_via"]) for t in y_tags] == [("ExampleExchange", X)]
    assert world.clustering.show_cluster(str(cid), chain="btc")["tags"] == ct
    # export everything, re-import into a fresh workspace: same source and confidence
    out = tmp_path / "export.yaml"
    world.attribution.export_tags(out, all_tags=True)
    ws2 = Workspace(tmp_path / "ws2")
    r = ws2.attribution.import_tags([out])
    assert r["tags_new"] == 3 and not [w for w in r["warnings"] if w["field"] not in ("actor", "is_public")]
    keys = ("label", "category", "abuse", "actor", "source", "confidence", "confidence_level", "lastmod", "tlp",
            "is_cluster_definer", "chain")
    for a in (X, R, M):
        before = [{k: t[k] for k in keys} for t in world.attribution.list_tags(a) if not t["inherited_via"]]
        after = [{k: t[k] for k in keys} for t in ws2.attribution.list_tags(a)]
        assert before == after, a
    # and once more: the export of the re-imported tags is the same document but for provenance lines
    again = tmp_path / "again.yaml"
    ws2.attribution.export_tags(again, all_tags=True)
    strip = lambda p: [ln for ln in p.read_text().splitlines() if not ln.startswith(("description", "title"))]  # noqa: E731
    assert strip(again) == strip(out)


def test_conflicting_entities_in_a_cluster_warn(world: Workspace) -> None:
    # M's tag is a cluster definer but web_crawl (20): too weak to propagate; raise it with an investigator tag
    world.attribution.add_tag(M, label="OtherExchange", category="exchange", actor="other_exchange", source="case 7",
                  confidence="forensic_investigation", creator="Det. A", is_cluster_definer=True)
    _cluster(world, [[X, M]])
    cid = world.store.clusters.cluster_of("btc", world.store.utxo.address_id("btc", X))
    ct = world.attribution.cluster_tags("btc", cid)
    assert sorted((t["actor"], t["inherited_via"]) for t in ct) == [("example_exchange", X), ("other_exchange", M)]
    assert all("2 entities" in t["warnings"][0] for t in ct)


def test_investigator_tags_merge_and_export(world: Workspace, tmp_path: Path) -> None:
    a = world.attribution.add_tag(S, label="Suspect", category="user", source="case 7", confidence="forensic_investigation",
                      creator="Det. A", tlp="green")
    b = world.attribution.add_tag(S, label="Suspect", category="perpetrator", source="case 7", confidence="ownership",
                      creator="Det. A", tlp="green")
    mine = [t for t in world.attribution.list_tags(S) if t["origin"] == "investigator"]
    assert len(mine) == 1 and mine[0]["confidence"] == "ownership" and a["tag"]["confidence"] != "ownership"
    assert b["tag"]["category"] == "perpetrator"
    world.attribution.add_tag(S, label="Informant report", category="user", source="case 7 / red", confidence="forensic",
                  creator="Det. A", tlp="red")
    text = world.attribution.export_tags()
    assert "Suspect" in text and "Informant" not in text      # red stays home by default
    assert "Informant" in world.attribution.export_tags(max_tlp="red")


def test_propagation_pure_function() -> None:
    r = propagate_cluster_tags(member=np.array([1, 2, 3]), is_cluster_definer=np.array([True, True, False]),
                               confidence_level=np.array([50, 49, 100]), entity=["a", "b", "c"])
    assert r.selected.tolist() == [0] and r.via.tolist() == [1] and r.conflicts == []
    r = propagate_cluster_tags(member=np.array([1, 2]), is_cluster_definer=np.array([True, True]),
                               confidence_level=np.array([60, 60]), entity=["a", "a"])
    assert r.selected.tolist() == [0, 1] and r.conflicts == []
    r = propagate_cluster_tags(member=np.array([], dtype=np.int64), is_cluster_definer=np.array([], dtype=bool),
                               confidence_level=np.array([], dtype=np.int64), entity=[])
    assert r.selected.size == 0
