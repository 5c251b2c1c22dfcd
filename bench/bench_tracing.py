"""Tracing benchmark: a 6-hop haircut trace and a 100-hop peel-chain follow on one synthetic transfer graph of
10 million edges, against networkx BFS and a DuckDB recursive query doing the same reachability.

    python bench/bench_tracing.py                    # 10M edges (peak memory printed at the end; ~5 minutes)
    python bench/bench_tracing.py --edges 1000000    # quick look

The graph is UTXO-shaped: transactions with a heavy-tailed number of outputs (most 1-3, batch payouts up to
2,000; mean about 4.3). Each output is spent (91%): mostly by a transaction a little later, 30% by any later
transaction, 1% by one of 200 hub transactions (exchange hot wallets consolidating tens of thousands of
inputs). An edge is a spend: output of tx A -> input of tx B. A peel chain of 100 transactions (one input,
payment + change) is appended, starting from an unspent output of the random graph.

Same work for everyone: from one source transaction (all its outputs), every transaction reachable in <= 6
spends; the trace also
computes haircut amounts, edges and endpoints, which the peers do not. "ours (all)" expands hubs like the
peers; "ours (paged)" pages transactions with more than 5,000 links (the default). The peel chain: ours
follows the change with evidence per step; the peers compute the 100-hop reachability from the chain's first
transaction. Peers run on the tx -> tx edge list: networkx ``single_source_shortest_path_length(cutoff)`` and
DuckDB ``WITH RECURSIVE`` over an indexed in-memory table (2 threads). Timed: the query only (graphs built once).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from chainsleuth.algorithms.tracing import TraceLimits, UtxoGraph, trace_utxo
from chainsleuth.algorithms.tracing.peel import follow_peel_chain

FAR = 0.3          # share of spends by any later transaction (the rest spend a little later)


def build(edges: int, seed: int = 1) -> tuple[UtxoGraph, np.ndarray, np.ndarray, int, int]:
    """The synthetic graph; returns (graph, tx->tx edge src, dst, peel chain start row, first peel tx)."""
    rng = np.random.default_rng(seed)
    # outputs per tx: heavy-tailed (most pay 1-3 outputs, batch payouts hundreds), mean about 3
    per_tx = 1 + np.minimum(np.floor(np.exp(rng.normal(0.6, 1.1, int(edges / 0.815 / 4.3)))), 2000).astype(np.int64)
    n_tx = per_tx.size
    out_tx = np.repeat(np.arange(n_tx, dtype=np.int64), per_tx)
    n_out = out_tx.size
    out_val = rng.lognormal(15, 2, n_out).astype(np.int64) + 546
    spent = rng.random(n_out) < 0.91
    hub_ids = np.sort(rng.choice(np.arange(n_tx // 10, n_tx), 200, replace=False))
    to_hub = rng.random(n_out) < 0.01
    near = out_tx + 1 + rng.geometric(0.02, n_out)
    far = rng.random(n_out) < FAR
    near[far] = out_tx[far] + 1 + (rng.random(int(far.sum())) * (n_tx - out_tx[far])).astype(np.int64)
    nxt_hub = hub_ids[np.minimum(np.searchsorted(hub_ids, out_tx, side="right"), hub_ids.size - 1)]
    spender = np.where(to_hub & (nxt_hub > out_tx), nxt_hub, near)
    spent &= spender < n_tx
    o = np.flatnonzero(spent)
    order = np.argsort(spender[o], kind="stable")
    in_prev = o[order]
    in_tx = spender[in_prev]
    # the peel chain: 101 transactions appended after the graph, the first spending an unspent output
    start_out = int(np.flatnonzero(~spent)[0])
    k = 101
    p_tx = n_tx + np.arange(k)
    p_out_tx = np.repeat(p_tx, 2)
    base = int(out_val[start_out])
    pay = rng.integers(10_000, 50_000, k) * 1000
    change = base - np.cumsum(pay) - 500 * np.arange(1, k + 1)
    p_out_val = np.stack([pay, change], axis=1).reshape(-1)
    p_in_prev = np.concatenate([[start_out], n_out + 2 * np.arange(k - 1) + 1])
    out_tx = np.concatenate([out_tx, p_out_tx])
    out_val = np.concatenate([out_val, np.maximum(p_out_val, 1)])
    in_tx = np.concatenate([in_tx, p_tx])
    in_prev = np.concatenate([in_prev, p_in_prev])
    in_val = out_val[in_prev]
    out_addr = rng.integers(0, n_out // 3, out_tx.size)
    g = UtxoGraph.build(n_tx + k, in_tx=in_tx, in_value=in_val, in_prev=in_prev, in_addr=out_addr[in_prev],
                        out_tx=out_tx, out_value=out_val, out_addr=out_addr)
    return g, out_tx[in_prev], in_tx, start_out, n_tx


def reach_ours(g: UtxoGraph, tx: int, hops: int, max_degree: int, policy: str = "haircut") -> int:
    """Trace every output of ``tx`` (a txid source): hop k reaches the txs k spends away, like the peers."""
    rows = np.arange(g.tx_out_ptr[tx], g.tx_out_ptr[tx + 1])
    r = trace_utxo(g, rows, policy=policy, limits=TraceLimits(max_hops=hops, max_degree=max_degree))
    return int(np.unique(r.e_tx).size)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edges", type=int, default=10_000_000)
    ap.add_argument("--sources", type=int, default=15, help="random sources for the 6-hop trace")
    ap.add_argument("--duck-sources", type=int, default=5, help="sources for DuckDB (slow)")
    ap.add_argument("--no-networkx", action="store_true")
    a = ap.parse_args()
    t0 = time.perf_counter()
    g, esrc, edst, peel_start, peel_tx0 = build(a.edges)
    print(f"graph: {g.n_tx:,} txs, {g.out_value.size:,} outputs, {esrc.size:,} spend edges, "
          f"built in {time.perf_counter() - t0:.1f} s (numpy CSR)")
    rng = np.random.default_rng(7)
    spent_rows = np.flatnonzero(g.out_spent_in >= 0)
    sources = rng.choice(spent_rows[g.out_tx[spent_rows] < peel_tx0], a.sources, replace=False)
    src_tx = [int(g.out_tx[s]) for s in sources]

    ours, reach, paged, reach_t, reach_n = [], [], [], [], []
    for s in src_tx:
        t = time.perf_counter()
        reach.append(reach_ours(g, int(s), 6, 10**12))
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        reach_ours(g, int(s), 6, 5000)
        paged.append(time.perf_counter() - t)
        t = time.perf_counter()
        reach_n.append(reach_ours(g, int(s), 6, 10**12, "poison"))
        reach_t.append(time.perf_counter() - t)
    peel_t = []
    for _ in range(5):
        t = time.perf_counter()
        steps, why = follow_peel_chain(g, peel_start, max_hops=100)
        peel_t.append(time.perf_counter() - t)
    ours_peel = statistics.median(peel_t)
    assert len(steps) == 100, (len(steps), why)
    print(f"ours (all)   6-hop haircut trace: median {statistics.median(ours) * 1e3:8.2f} ms, worst "
          f"{max(ours) * 1e3:8.2f} ms (txs reached: median {int(statistics.median(reach)):,}, max {max(reach):,})")
    print(f"ours (paged) 6-hop haircut trace: median {statistics.median(paged) * 1e3:8.2f} ms, worst "
          f"{max(paged) * 1e3:8.2f} ms")
    print(f"ours (all)   6-hop reachability (poison: taint never dilutes, the peers' reach): median "
          f"{statistics.median(reach_t) * 1e3:8.2f} ms, worst {max(reach_t) * 1e3:8.2f} ms (txs: median "
          f"{int(statistics.median(reach_n)):,}, max {max(reach_n):,})")
    print(f"ours     100-hop peel chain : {ours_peel * 1e3:8.2f} ms median of 5 ({len(steps)} steps, evidence per "
          "step)")

    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 2")
    t = time.perf_counter()
    con.register("e_src", {"s": esrc, "d": edst})   # type: ignore[arg-type]
    con.execute("CREATE TABLE edges AS SELECT s, d FROM e_src")
    con.execute("CREATE INDEX edges_s ON edges (s)")
    print(f"duckdb   table + index built in {time.perf_counter() - t:.1f} s")
    q = ("WITH RECURSIVE r(tx, depth) AS (SELECT ?::BIGINT, 0 UNION SELECT e.d, r.depth + 1 FROM r JOIN edges e "
         "ON e.s = r.tx WHERE r.depth < ?) SELECT count(DISTINCT tx) - 1 FROM r")
    duck = []
    for s in src_tx[:a.duck_sources]:
        t = time.perf_counter()
        con.execute(q, [s, 6]).fetchone()
        duck.append(time.perf_counter() - t)
    t = time.perf_counter()
    n_peel = con.execute(q, [peel_tx0, 100]).fetchone()
    duck_peel = time.perf_counter() - t
    print(f"duckdb   6-hop reachability : median {statistics.median(duck) * 1e3:8.2f} ms, worst {max(duck) * 1e3:8.2f} ms")
    print(f"duckdb   100-hop reachability: {duck_peel * 1e3:8.2f} ms ({n_peel[0] if n_peel else '?'} txs)")
    con.close()

    nx_t: list[float] = []
    nx_peel = float("nan")
    if not a.no_networkx:
        import networkx as nx

        t = time.perf_counter()
        dg = nx.DiGraph()
        dg.add_edges_from(zip(esrc.tolist(), edst.tolist(), strict=True))
        print(f"networkx DiGraph built in {time.perf_counter() - t:.1f} s")
        nx_n = []
        for s in src_tx:
            t = time.perf_counter()
            nx_n.append(len(nx.single_source_shortest_path_length(dg, s, cutoff=6)) - 1)
            nx_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        nx.single_source_shortest_path_length(dg, peel_tx0, cutoff=100)
        nx_peel = time.perf_counter() - t
        print(f"networkx 6-hop BFS          : median {statistics.median(nx_t) * 1e3:8.2f} ms, worst "
              f"{max(nx_t) * 1e3:8.2f} ms (txs: median {int(statistics.median(nx_n)):,}, max {max(nx_n):,})")
        print(f"networkx 100-hop BFS        : {nx_peel * 1e3:8.2f} ms")
        del dg

    m = statistics.median(ours)
    dm = statistics.median(ours[:a.duck_sources])
    print("ratios (peer time / ours (all); > 1 means ours is faster; same sources):")
    print(f"  6-hop  vs duckdb   median {statistics.median(duck) / dm:8.1f}x   worst "
          f"{max(duck) / max(ours[:a.duck_sources]):8.1f}x")
    if nx_t:
        print(f"  6-hop  vs networkx median {statistics.median(nx_t) / m:8.1f}x   worst {max(nx_t) / max(ours):8.1f}x")
        print(f"  peel   vs networkx        {nx_peel / ours_peel:8.1f}x")
    print(f"  peel   vs duckdb          {duck_peel / ours_peel:8.1f}x")
    print(f"  6-hop trace under 1 s: {'yes' if max(ours) < 1.0 else 'NO'} (worst {max(ours):.3f} s)")
    import resource

    print(f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GB "
          f"(graph arrays {sum(a.nbytes for a in vars(g).values() if isinstance(a, np.ndarray)) / 2**30:.2f} GB)")


if __name__ == "__main__":
    main()
