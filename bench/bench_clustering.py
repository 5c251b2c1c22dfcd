"""Co-spend clustering benchmark: our union-find against its peers on the same links, in one run.

    python bench/bench_clustering.py [--links 10000000] [--addresses 5000000] [--repeat 3]
                                     [--networkx-sample 1000000] [--seed 1]

Peers (PEERS.md): scipy.sparse.csgraph.connected_components (the floor: membership only, C code),
networkx.connected_components (what most Python users pick) and, when installed, graphsense-clustering
(GraphSense's Rust union-find). Ours also returns the evidence: the spanning forest of links that joined
clusters, with the sizes each joined. All engines get the same random links (uniform endpoints, seeded);
every result is checked to be the same partition as scipy's.

networkx needs ~90 s and 3.3 GB for 10M links on these machines, so it runs on the first
``--networkx-sample`` links over a proportionally smaller address space and its time is extrapolated
linearly to the full input (connected components is O(n + m), and the sample keeps the links/address ratio);
the report says so. ``--networkx-sample 0`` runs it on the full input.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from chainsleuth.algorithms.clustering import canonical_labels, spanning_forest


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _scipy(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    g = coo_matrix((np.ones(len(u), dtype=np.int8), (u, v)), shape=(n, n)).tocsr()
    return connected_components(g, directed=False)[1]


def _networkx(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(u.tolist(), v.tolist(), strict=True))
    lab = np.empty(n, dtype=np.int64)
    for i, comp in enumerate(nx.connected_components(g)):
        lab[list(comp)] = i
    return lab


def _graphsense(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray | None:
    try:
        from gs_clustering import Clustering
    except ImportError:
        return None

    values = np.empty(2 * len(u), dtype=np.uint32)
    values[0::2], values[1::2] = u, v
    offsets = np.arange(0, 2 * len(u) + 1, 2, dtype=np.int32)
    c = Clustering(n - 1)
    c.process_transactions_arrow(pa.ListArray.from_arrays(pa.array(offsets), pa.array(values)))
    m = c.get_mapping()
    lab = np.empty(n, dtype=np.int64)
    lab[m.column(0).to_numpy()] = m.column(1).to_numpy()
    return lab


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--links", type=int, default=10_000_000)
    ap.add_argument("--addresses", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--networkx-sample", type=int, default=1_000_000,
                    help="links given to networkx (0 = all); its time is extrapolated linearly")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    n, m = a.addresses, a.links
    u = rng.integers(0, n, m, dtype=np.int64)
    v = rng.integers(0, n, m, dtype=np.int64)
    print(f"input: {m:,} links over {n:,} addresses (seed {a.seed}); median of {a.repeat} runs")

    # engines alternate inside each repeat, so a burst of load on the shared machine hits all of them
    runs: dict[str, list[float]] = {"ours": [], "scipy": [], "gs": []}
    outs: dict[str, Any] = {}
    for _ in range(a.repeat):
        for name, fn in (("scipy", lambda: _scipy(n, u, v)), ("ours", lambda: spanning_forest(n, u, v)),
                         ("gs", lambda: _graphsense(n, u, v))):
            t, outs[name] = _time(fn, 1)
            runs[name].append(t)
    t_scipy, t_ours, t_gs = (statistics.median(runs[k]) for k in ("scipy", "ours", "gs"))
    lab_scipy, forest, lab_gs = outs["scipy"], outs["ours"], outs["gs"]
    ref = canonical_labels(lab_scipy)
    assert np.array_equal(canonical_labels(forest.labels), ref), "our partition differs from scipy's"
    assert len(forest.edges) == n - int(np.count_nonzero(ref == np.arange(n)))
    print(f"  chainsleuth union-find (membership + evidence forest): {t_ours:8.2f} s   "
          f"(min {min(runs['ours']):.2f}; {len(forest.edges):,} joining links, {forest.rounds} rounds)")
    print(f"  scipy connected_components (membership only):          {t_scipy:8.2f} s   (min {min(runs['scipy']):.2f})")
    if lab_gs is not None:
        assert np.array_equal(canonical_labels(lab_gs), ref), "graphsense partition differs from scipy's"
        print(f"  graphsense-clustering (membership only):               {t_gs:8.2f} s   (min {min(runs['gs']):.2f})")
    else:
        print("  graphsense-clustering: not installed (pip install graphsense-clustering)")
    import networkx  # noqa: F401  (imported before timing: its import alone takes about a second)

    k = m if a.networkx_sample <= 0 else min(a.networkx_sample, m)
    nk = max(1, round(n * k / m))
    su, sv = u[:k] % nk, v[:k] % nk
    t0 = time.perf_counter()
    lab_nx = _networkx(nk, su, sv)
    t_nx_sample = time.perf_counter() - t0
    assert np.array_equal(canonical_labels(lab_nx), canonical_labels(_scipy(nk, su, sv)))
    t_nx = t_nx_sample * m / k
    how = "measured" if k == m else f"extrapolated x{m / k:.0f} from {k:,} links over {nk:,} addresses ({t_nx_sample:.2f} s)"
    print(f"  networkx connected_components:                         {t_nx:8.2f} s   ({how})")
    print("ratios (lower is better for us):")
    print(f"  ours / scipy      = {t_ours / t_scipy:5.2f}   (target <= 2; per repeat: "
          f"{', '.join(f'{o / s_:.2f}' for o, s_ in zip(runs['ours'], runs['scipy'], strict=True))})")
    print(f"  networkx / ours   = {t_nx / t_ours:5.1f}   (target >= 20)")
    if lab_gs is not None:
        print(f"  ours / graphsense = {t_ours / t_gs:5.2f}")


if __name__ == "__main__":
    main()
