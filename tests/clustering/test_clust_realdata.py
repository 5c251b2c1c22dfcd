"""Real mainnet data from ../shared/data: the contiguous chain from genesis, CoinJoins in real blocks, and the
GraphSense CoinJoin tag packs."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from chainsleuth.algorithms.clustering import canonical_labels
from chainsleuth.algorithms.patterns.coinjoin import WHIRLPOOL_POOLS_SAT
from chainsleuth.algorithms.txarrays import TxArrays
from chainsleuth.workspace import Workspace

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def genesis_ws(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("genesis"))
    ws.ingest.btc_blocks([shared_data / "btc-blocks-bitcoinj" / "first-100k-blocks.dat",
                          shared_data / "btc-blocks-btcd" / "blocks1-256"])
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def block_ws(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("blocks"))
    ws.ingest.btc_blocks(sorted((shared_data / "btc-blocks-rust-bitcoin").glob("mainnet_block_*.raw"))
                         + sorted((shared_data / "btc-blocks-btcd").glob("block-*.blk"))
                         + sorted((shared_data / "btc-blocks-bitcoinj").glob("block[0-9]*.dat")))
    ws.clustering.cluster()
    yield ws
    ws.close()


def test_clust_genesis_chain_clusters(genesis_ws: Workspace) -> None:
    r = genesis_ws.clustering.cluster()
    st = genesis_ws.queries.stats().chains["btc"]
    assert st["min_height"] == 0 and st["max_height"] == 438
    assert r["unresolved_inputs"] == 0 and r["addresses"] == st["addresses"]
    # independent check: co-spend pairs from the arrays, components by scipy
    cols, names = genesis_ws.store.clusters.tx_arrays("btc")
    t = TxArrays.from_columns(cols, names)
    n = r["addresses"]
    u, v = [], []
    for tx in np.unique(t.in_tx):
        a = t.in_address[(t.in_tx == tx) & (t.in_address >= 0)]
        u += [int(a[0])] * (len(a) - 1)
        v += a[1:].tolist()
    _, lab = connected_components(coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n)), directed=False)
    s = genesis_ws.store.clusters.get_set("btc")
    assert s is not None
    assert np.array_equal(genesis_ws.store.clusters.labels("btc", int(s["set_id"])), canonical_labels(lab))
    # the first 439 blocks hold no transaction with two input addresses: no link, every address alone
    assert r["links"] == len(u) - int(np.count_nonzero(np.array(u) == np.array(v))) == 0
    # and re-running incrementally reads nothing new and changes nothing
    again = genesis_ws.clustering.cluster()
    assert again["mode"] == "incremental" and again["txs_processed"] == 0 and again["links"] == r["links"]


def test_clust_whirlpool_in_real_block(block_ws: Workspace) -> None:
    """Block 702861 (2021-09-30): every 5-in/5-out transaction paying five equal pool-denomination outputs
    is reported as Whirlpool, and nothing else is."""
    found = {c["txid"] for c in block_ws.store.clusters.coinjoins("btc") if c["kind"] == "whirlpool"}
    cols, names = block_ws.store.clusters.tx_arrays("btc")
    t = TxArrays.from_columns(cols, names)
    expected = set()
    for r in np.flatnonzero((t.n_in == 5) & (t.n_out == 5)):
        vals = t.out_value[t.out_tx == t.tx_id[r]]
        if len(set(vals.tolist())) == 1 and int(vals[0]) in WHIRLPOOL_POOLS_SAT:
            expected.add(block_ws.store.clusters.txids("btc", [int(t.tx_id[r])])[int(t.tx_id[r])])
    assert expected and found == expected


def test_clust_wasabi1_in_real_block(block_ws: Workspace) -> None:
    """The largest equal-output transaction of block 702861 (60 outputs of ~0.109 BTC, 100 inputs) is a
    Wasabi 1.x round; it is detected although its inputs' prevouts are not in the workspace."""
    kinds = {c["txid"]: c["kind"] for c in block_ws.store.clusters.coinjoins("btc")}
    tx = block_ws.queries.show_tx("5c2f55fc17854a18f447d74e32356c9ff6faf43bf937ed13611857b2bb3fef3a")
    values = [o.value for o in tx.outputs]
    top = max(set(values), key=values.count)
    assert values.count(top) >= 10 and abs(top - 10_000_000) <= 2_000_000
    assert kinds[tx.txid] == "wasabi1"


def _tag_addresses(shared_data: Path) -> set[str]:
    packs = shared_data / "graphsense-tagpacks" / "packs"
    out: set[str] = set()
    for name in ("samourai.yaml.gz", "wasabi_collector.yaml", "coinjoin_bounty.yaml"):
        p = packs / name
        if not p.exists():
            continue
        with (gzip.open(p, "rt") if name.endswith(".gz") else open(p)) as f:
            d = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        out |= {t["address"].strip() for t in d["tags"]}
    return out


def test_clust_coinjoin_tagpacks_against_real_blocks(shared_data: Path, block_ws: Workspace,
                                                     genesis_ws: Workspace) -> None:
    """GraphSense's Samourai and Wasabi packs name CoinJoin participants; where the shared blocks contain
    one of those addresses, it must sit in a detected CoinJoin and never be merged by co-spend with others."""
    tagged = _tag_addresses(shared_data)
    assert len(tagged) > 30_000
    present = []
    for ws in (block_ws, genesis_ws):
        n = ws.store.clusters.input_status("btc")["addresses"]
        present += sorted(tagged & set(ws.store.clusters.addresses_text("btc", list(range(n))).values()))
    if not present:
        pytest.skip(f"none of the {len(tagged)} Samourai/Wasabi tag-pack addresses occurs in the shared blocks "
                    "(heights 0-438, 169482-702861 single blocks); the CoinJoins found there are checked "
                    "structurally by the two tests above")
    for a in present:
        info = block_ws.queries.show_address(a)
        assert info.cluster is not None and info.cluster["size"] == 1
