"""Tracing benchmark: 6-hop haircut and poison traces and a 100-hop peel-chain follow on a synthetic transfer
graph of 10 million edges, against BFSs doing the same reachability (networkx, python-igraph, a scipy CSR
frontier BFS) and a DuckDB recursive query. Two graph shapes, each measured in full, one after the other, in
the same run:

    python bench/bench_tracing.py                    # 10M edges, both shapes (about 25 minutes; peak memory printed)
    python bench/bench_tracing.py --shape local      # one shape
    python bench/bench_tracing.py --edges 1000000    # quick look
    python bench/bench_tracing.py --graph-cache /tmp/g.npz   # reuse the built graphs (written on first use)

python-igraph comes with the ``bench`` extra (``pip install -e '.[test,bench]'``; ``--no-igraph`` skips it).

Both shapes are UTXO-shaped: transactions with a heavy-tailed number of outputs (most 1-3, batch payouts up
to 2,000; mean about 4.3). Each output is spent (91%): mostly by a transaction a little later, 30% by any later
transaction, 1% by one of 200 hub transactions (median 350 inputs, up to 10,500). An edge is a spend: output
of tx A -> input of tx B. A peel chain of 100 transactions (one input, payment + change) is appended,
starting from an unspent output of the random graph. The shapes differ only in the hubs:

- ``local``: the hubs only consolidate (a few outputs each), so no path fans out through them;
- ``exchange``: the hubs also pay out, 2,000 outputs each, as an exchange hot wallet's batched withdrawals do
  (200 hubs at 10M edges, fewer in proportion on a smaller graph).
  A 6-hop reach then often passes through a hub and fans out (about 9 times the local shape's at the
  median), as it does on the real chain, where exchange wallets batch their payouts.

Equal work. From one source transaction (all its outputs), every transaction reachable in <= 6 spends: the
poison trace (taint never dilutes) reaches exactly that set, and the bench asserts, source by source, that
poison, networkx, igraph and the scipy BFS reach the same transactions. The haircut trace follows taint,
which a hub spreads so thin that most payouts get nothing: it reaches fewer transactions, so against a BFS
it is compared per reached transaction (time / distinct transactions reached; printed for every engine,
over all sources and for the median source), and its plain time ratio against networkx is printed marked as
unequal work. Both traces also compute amounts, edges and endpoints, which the BFSs do not. "ours (all)"
expands hubs like the peers; "ours (paged)" pages transactions with more than 5,000 links (the default).
The peel chain: ours follows the change with evidence per step; the peers compute the 100-hop reachability
from the chain's first transaction.

Peers run on the tx -> tx edge list: networkx ``single_source_shortest_path_length(cutoff)``, igraph
``neighborhood(order, mode="out")``, a scipy CSR matrix walked hop by hop (the frontier's rows gathered
through ``indptr``, seen marks cleared for what was reached only) and DuckDB ``WITH RECURSIVE`` over an
indexed in-memory table (2 threads). Timed: the query only (graphs built once).

Timing: per source every engine once, in an order that rotates from source to source, so that load from
other jobs on a shared machine falls on all alike (100 sources by default); medians and worst cases. The
100-hop peel follow and networkx's 100-hop BFS (microseconds) per call over 200 calls, median of 5 rounds.
The first trace of the process is timed apart: it loads the compiled kernels (numba import and on-disk
cache). A second pass times the 6-hop haircut trace, networkx's BFS and the scipy BFS with every cache
flushed before each call (a 64 MB write), the trace once more right after (warm), and a bare compiled BFS
over the trace index (the floor), which separates memory waits from computation.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from typing import Any

import numpy as np

from chainsleuth.algorithms.tracing import TraceLimits, UtxoGraph, trace_utxo
from chainsleuth.algorithms.tracing.peel import follow_peel_chain

FAR = 0.3          # share of spends by any later transaction (the rest spend a little later)
_DUST = 546        # Bitcoin Core's dust limit for a P2PKH output, in satoshis


SHAPES = {"local": 0, "exchange": 2000}     # shape -> outputs paid by each hub transaction (0: as any other)


def build(edges: int, seed: int = 1, payout: int = 0) -> tuple[UtxoGraph, np.ndarray, np.ndarray, int, int]:
    """The synthetic graph; returns (graph, tx->tx edge src, dst, peel chain start row, first peel tx).
    ``payout``: outputs of each hub transaction (0: hubs draw theirs like any transaction; the ``local`` shape)."""
    rng = np.random.default_rng(seed)
    # outputs per tx: heavy-tailed (most pay 1-3 outputs, batch payouts hundreds), mean about 3
    per_tx = 1 + np.minimum(np.floor(np.exp(rng.normal(0.6, 1.1, int(edges / 0.815 / 4.3)))), 2000).astype(np.int64)
    n_tx = per_tx.size
    payers = None
    if payout:      # drawn apart, so that the local shape's graph stays the same draw for draw
        n_hubs = max(2, round(200 * edges / 10_000_000))       # 200 at 10M edges: hubs keep their share
        payers = np.sort(np.random.default_rng(seed + 1).choice(np.arange(n_tx // 10, n_tx), n_hubs, replace=False))
        per_tx[payers] = payout
    out_tx = np.repeat(np.arange(n_tx, dtype=np.int64), per_tx)
    n_out = out_tx.size
    out_val = rng.lognormal(15, 2, n_out).astype(np.int64) + 546
    spent = rng.random(n_out) < 0.91
    hub_ids = np.sort(rng.choice(np.arange(n_tx // 10, n_tx), 200, replace=False))
    if payers is not None:
        hub_ids = payers
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


def _cached_build(edges: int, path: str | None, shape: str = "local"
                  ) -> tuple[UtxoGraph, np.ndarray, np.ndarray, int, int]:
    """:func:`build`, or the graph saved at ``path`` (the exchange shape in ``path`` with ``-exchange`` before
    the extension) by an earlier run with the same parameters."""
    import os

    payout = SHAPES[shape]
    if path and shape != "local":
        root, ext = os.path.splitext(path)
        path = f"{root}-{shape}{ext}"
    names = ("n_tx", "in_tx", "in_value", "in_prev", "in_addr", "out_tx", "out_value", "out_addr")
    if path and os.path.exists(path):
        z = np.load(path)
        saved = int(z["payout"]) if "payout" in z.files else 0
        if int(z["edges"]) == edges and saved == payout:
            g = UtxoGraph.build(int(z["n_tx"]), **{k: z[k] for k in names[1:]})
            return g, z["esrc"], z["edst"], int(z["peel_start"]), int(z["peel_tx0"])
    out = build(edges, payout=payout)
    if path:
        g = out[0]
        np.savez(path, edges=edges, payout=payout, n_tx=g.n_tx, **{k: getattr(g, k) for k in names[1:]},
                 esrc=out[1], edst=out[2], peel_start=out[3], peel_tx0=out[4])
    return out


def reach_ours(g: UtxoGraph, tx: int, hops: int, max_degree: int, policy: str = "haircut",
               min_amount: int = 0) -> Any:
    """Trace every output of ``tx`` (a txid source): hop k reaches the txs k spends away, like the peers.
    Returns the TraceResult (counted with :func:`_reached` outside the timing, as the peers' results are).
    Without an edge limit (the default stops at 1,000,000 edges, which the heaviest poison traces on the
    exchange shape pass) unless hubs are paged (``max_degree`` 5,000: the defaults throughout)."""
    rows = np.arange(g.tx_out_ptr[tx], g.tx_out_ptr[tx + 1])
    lim = (TraceLimits(max_hops=hops, max_degree=max_degree, min_amount=min_amount) if max_degree <= 5000 else
           TraceLimits(max_hops=hops, max_degree=max_degree, min_amount=min_amount, max_edges=10**12))
    return trace_utxo(g, rows, policy=policy, limits=lim)


def _reached(r: Any) -> int:
    return int(np.unique(r.e_tx).size)


def _reached_set(r: Any) -> np.ndarray:
    """The distinct transactions a trace reached (those it wrote an edge for), sorted."""
    return np.unique(r.e_tx)


def _timed(f: Any, *args: Any, **kw: Any) -> Any:
    t = time.perf_counter()
    out = f(*args, **kw)
    return out, time.perf_counter() - t


def _ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1e3:8.3f} ms, worst {max(xs) * 1e3:8.3f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edges", type=int, default=10_000_000)
    ap.add_argument("--sources", type=int, default=100, help="random sources for the 6-hop trace")
    ap.add_argument("--duck-sources", type=int, default=5, help="sources for DuckDB (slow)")
    ap.add_argument("--no-networkx", action="store_true")
    ap.add_argument("--no-duckdb", action="store_true")
    ap.add_argument("--no-igraph", action="store_true", help="skip python-igraph (pip install '.[bench]')")
    ap.add_argument("--graph-cache", metavar="FILE.npz",
                    help="reuse the built graph from this file (written on first use; for iterating, e.g. under /tmp)")
    ap.add_argument("--shape", choices=(*SHAPES, "both"), default="both", help="graph shape(s) to measure")
    a = ap.parse_args()
    summary = []
    for shape in (SHAPES if a.shape == "both" else (a.shape,)):
        print(f"== shape: {shape} ==")
        summary.append((shape, run_shape(a, shape)))
        gc.collect()
    print("summary (6-hop haircut trace vs networkx BFS, medians; 100-hop peel follow vs networkx):")
    for shape, (r6, rp, worst) in summary:
        print(f"  {shape:9s} 6-hop {r6:6.1f}x   peel {rp:6.1f}x   worst 6-hop trace {worst * 1e3:.1f} ms")
    import resource

    print(f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GB")


def run_shape(a: argparse.Namespace, shape: str) -> tuple[float, float, float]:
    """Every measurement on one graph shape; returns (6-hop ratio vs networkx, peel ratio, worst 6-hop time)."""
    t0 = time.perf_counter()
    g, esrc, edst, peel_start, peel_tx0 = _cached_build(a.edges, a.graph_cache, shape)
    print(f"graph: {g.n_tx:,} txs, {g.out_value.size:,} outputs, {esrc.size:,} spend edges, "
          f"built in {time.perf_counter() - t0:.1f} s (numpy CSR)")
    rng = np.random.default_rng(7)
    spent_rows = np.flatnonzero(g.out_spent_in >= 0)
    sources = rng.choice(spent_rows[g.out_tx[spent_rows] < peel_tx0], a.sources, replace=False)
    src_tx = [int(g.out_tx[s]) for s in sources]

    # first call on this graph: builds its trace index; the first in the process also loads the compiled kernels
    # (numba import + on-disk cache, or a compile)
    _, cold = _timed(reach_ours, g, src_tx[0], 6, 10**12)
    _, cold_peel = _timed(follow_peel_chain, g, peel_start, max_hops=100)
    print(f"first trace on this graph (trace index build; kernel load if first in the process): {cold * 1e3:.0f} ms; "
          f"first peel follow: {cold_peel * 1e3:.1f} ms")
    # every engine is timed interleaved with the others, source by source, in an order that rotates per source,
    # so that load from other jobs on a shared machine falls on all alike
    dg = None if a.no_networkx else _nx_graph(esrc, edst)
    ig = None if a.no_igraph else _igraph_graph(esrc, edst, g.n_tx)
    csr = _scipy_csr(esrc, edst, g.n_tx)
    nx_t: list[float] = []
    nx_n: list[int] = []
    nx_peel_t: list[float] = []
    ours, reach, paged, reach_t, reach_n = [], [], [], [], []
    ig_t: list[float] = []
    sp_t: list[float] = []
    sp_n: list[int] = []

    def run_nx(s: int) -> None:
        got, t = _timed(_nx_bfs, dg, s, 6)
        nx_t.append(t)
        nx_n.append(len(got))
        reach_sets.setdefault(s, {})["networkx"] = np.sort(np.fromiter(got, dtype=np.int64, count=len(got)))

    def run_ig(s: int) -> None:
        got, t = _timed(_ig_bfs, ig, s, 6)
        ig_t.append(t)
        reach_sets.setdefault(s, {})["igraph"] = np.sort(np.asarray(got, dtype=np.int64))

    def run_sp(s: int) -> None:
        got, t = _timed(csr_bfs, s, 6)
        sp_t.append(t)
        sp_n.append(got.size)
        reach_sets.setdefault(s, {})["scipy"] = np.sort(got)

    def run_haircut(s: int) -> None:
        r, t = _timed(reach_ours, g, s, 6, 10**12)
        reach.append(_reached(r))
        ours.append(t)

    def run_paged(s: int) -> None:
        paged.append(_timed(reach_ours, g, s, 6, 5000)[1])

    def run_poison(s: int) -> None:
        r, t = _timed(reach_ours, g, s, 6, 10**12, "poison")
        reach_n.append(_reached(r))
        reach_t.append(t)
        reach_sets.setdefault(s, {})["poison"] = _reached_set(r)

    csr_bfs = _csr_bfs(csr)
    runs = [run_haircut, run_poison, run_sp, run_paged]
    if dg is not None:
        runs.append(run_nx)
    if ig is not None:
        runs.append(run_ig)
    reach_sets: dict[int, dict[str, np.ndarray]] = {}
    for i, s in enumerate(src_tx):
        k = i % len(runs)
        for f in runs[k:] + runs[:k]:
            f(s)
        # equal work: poison's reach is the BFS's reach, transaction for transaction (checked outside the timing)
        sets = reach_sets.pop(s)
        want = sets["scipy"]
        for name, got in sets.items():
            assert np.array_equal(got, want), f"source tx {s}: {name} reaches {got.size} txs, scipy BFS {want.size}"
    # the same 6-hop haircut trace with every cache flushed before each call (a 64 MB write), for us and
    # networkx alike, then again at once (warm: what is left is computation)
    flush = np.zeros(64 << 20, dtype=np.uint8)
    fl_ours, fl_nx, warm_ours, fl_bfs, bfs_n, fl_dust, dust_n, small = [], [], [], [], [], [], [], []
    fl_sp: list[float] = []
    bfs = _bare_bfs()
    nxt, txr = g.trace_index(True)
    seen = np.zeros(g.n_tx, dtype=np.uint8)
    bfs(txr, nxt, seen, src_tx[0], 6)
    for s in src_tx:
        flush += 1
        fl_ours.append(_timed(reach_ours, g, s, 6, 10**12)[1])
        r, t = _timed(reach_ours, g, s, 6, 10**12)
        warm_ours.append(t)
        small.append(float((r.e_amount < _DUST).mean()) if r.e_amount.size else 0.0)
        flush += 1
        r, t = _timed(reach_ours, g, s, 6, 10**12, min_amount=_DUST)
        fl_dust.append(t)
        dust_n.append(_reached(r))
        flush += 1
        n, t = _timed(bfs, txr, nxt, seen, s, 6)
        fl_bfs.append(t)
        bfs_n.append(n)
        flush += 1
        fl_sp.append(_timed(csr_bfs, s, 6)[1])
        if dg is not None:
            flush += 1
            fl_nx.append(_timed(_nx_bfs, dg, s, 6)[1])
    del flush
    assert bfs_n == sp_n, "the bare BFS must reach what the scipy BFS reaches"
    peel_t, peel_mat = [], []
    for _ in range(5):      # microseconds: timed per call over 200 calls (the peers' 100-hop BFS the same way)
        t = time.perf_counter()
        for _ in range(200):
            steps, why = follow_peel_chain(g, peel_start, max_hops=100)
        peel_t.append((time.perf_counter() - t) / 200)
        # reading every step's evidence builds the PeelStep objects (done lazily, on first access)
        (steps, why), t = _timed(lambda: (lambda r: ([s.evidence for s in r[0]], r)[1])(
            follow_peel_chain(g, peel_start, max_hops=100)))
        peel_mat.append(t)
        if dg is not None:
            nx_peel_t.append(_timed(lambda: [_nx_bfs(dg, peel_tx0, 100) for _ in range(200)])[1] / 200)
    ours_peel = statistics.median(peel_t)
    assert len(steps) == 100, (len(steps), why)
    print(f"ours (all)   6-hop haircut trace: {_ms(ours)} (txs reached: median {int(statistics.median(reach)):,}, "
          f"max {max(reach):,})")
    print(f"ours (paged) 6-hop haircut trace: {_ms(paged)}")
    print(f"ours (all)   6-hop reachability (poison: taint never dilutes, the peers' reach): {_ms(reach_t)} "
          f"(txs: median {int(statistics.median(reach_n)):,}, max {max(reach_n):,})")
    print(f"ours (all)   6-hop haircut trace, caches flushed before each call: {_ms(fl_ours)}; "
          f"right after (warm): {_ms(warm_ours)}")
    print(f"ours (all)   6-hop haircut trace, caches flushed, --min-amount {_DUST} (transfers below the dust limit "
          f"cut off): {_ms(fl_dust)} (txs reached: median {int(statistics.median(dust_n)):,}); edges below {_DUST} "
          f"sat in the full trace: median {statistics.median(small):.0%}")
    print(f"bare compiled BFS (reachability only, no amounts; the floor), caches flushed: {_ms(fl_bfs)} "
          f"(txs: median {int(statistics.median(bfs_n)):,}); scipy CSR BFS flushed: {_ms(fl_sp)}")
    print(f"ours     100-hop peel chain : {ours_peel * 1e3:8.4f} ms per call, median of 5 rounds of 200 calls "
          f"({len(steps)} steps; with every step's evidence object built: {statistics.median(peel_mat) * 1e3:.3f} ms)")

    duck, duck_peel = [float("nan")], float("nan")
    if not a.no_duckdb:
        duck, duck_peel = _duckdb(esrc, edst, src_tx[:a.duck_sources], peel_tx0)
    nx_peel = float("nan")
    if dg is not None:
        nx_peel = statistics.median(nx_peel_t)
        print(f"networkx 6-hop BFS          : {_ms(nx_t)} (txs: median {int(statistics.median(nx_n)):,}, "
              f"max {max(nx_n):,})")
        print(f"networkx 100-hop BFS        : {nx_peel * 1e3:8.4f} ms per call, median of 5 rounds of 200 calls")

    if ig_t:
        print(f"igraph   6-hop BFS          : {_ms(ig_t)} (neighborhood(order=6, mode='out'))")
    print(f"scipy CSR frontier 6-hop BFS: {_ms(sp_t)} (txs: median {int(statistics.median(sp_n)):,}, "
          f"max {max(sp_n):,})")
    per = _per_reached(ours, reach, reach_t, reach_n, sp_t, ig_t, nx_t, sp_n)
    print(f"equal work: poison reaches exactly the transactions each BFS reaches, asserted for all {len(src_tx)} "
          f"sources (median reach {int(statistics.median(sp_n)):,})")
    print("cost per reached transaction (us): time / distinct transactions reached; over all sources (sum of "
          "times / sum of reaches) and the median of the per-source ratios:")
    for name, (agg, med) in per.items():
        print(f"  {name:22s} {agg * 1e6:8.3f} us (all sources)  {med * 1e6:8.3f} us (median source)")
    sp_agg = per["scipy CSR BFS"][0]
    print("ratios of cost per reached transaction against each peer (ours / peer; < 1 means ours is cheaper):")
    for ours_name in ("haircut (kernel)", "poison (kernel)"):
        o_agg, o_med = per[ours_name]
        cells = [f"{peer} {o_agg / p_agg:6.2f}x / {o_med / p_med:6.2f}x" for peer, (p_agg, p_med) in per.items()
                 if not peer.endswith("(kernel)")]
        print(f"  {ours_name:18s} vs " + "; ".join(cells) + "  (all sources / median source)")
    print(f"  poison reach time vs peers (same reach; peer / ours medians): scipy "
          f"{statistics.median(sp_t) / statistics.median(reach_t):.2f}x"
          + (f", igraph {statistics.median(ig_t) / statistics.median(reach_t):.2f}x" if ig_t else "")
          + (f", networkx {statistics.median(nx_t) / statistics.median(reach_t):.2f}x" if nx_t else ""))
    print(f"  targets (per reached transaction, all sources): haircut within 2x of the scipy BFS: "
          f"{'met' if per['haircut (kernel)'][0] <= 2 * sp_agg else 'NOT met'} "
          f"({per['haircut (kernel)'][0] / sp_agg:.2f}x); poison at or below it: "
          f"{'met' if per['poison (kernel)'][0] <= sp_agg else 'NOT met'} ({per['poison (kernel)'][0] / sp_agg:.2f}x)")

    m = statistics.median(ours)
    dm = statistics.median(ours[:a.duck_sources])
    print("ratios (peer time / ours (all); > 1 means ours is faster; same sources):")
    print(f"  6-hop  vs duckdb   median {statistics.median(duck) / dm:8.1f}x   worst "
          f"{max(duck) / max(ours[:a.duck_sources]):8.1f}x")
    if nx_t:
        print(f"  6-hop haircut vs networkx median {statistics.median(nx_t) / m:8.1f}x   worst "
              f"{max(nx_t) / max(ours):8.1f}x (UNEQUAL work: the haircut trace reaches "
              f"{int(statistics.median(reach)):,} txs at the median, the BFS {int(statistics.median(nx_n)):,})")
        print(f"  6-hop, caches flushed before each call (both): networkx {_ms(fl_nx)}; "
              f"ratio of medians {statistics.median(fl_nx) / statistics.median(fl_ours):.1f}x "
              f"(bare BFS: {statistics.median(fl_nx) / statistics.median(fl_bfs):.1f}x)")
        print(f"  6-hop poison reach vs networkx median {statistics.median(nx_t) / statistics.median(reach_t):8.1f}x")
        print(f"  peel   vs networkx        {nx_peel / ours_peel:8.1f}x (the follow; building all 100 evidence objects "
              f"for a report adds {statistics.median(peel_mat) * 1e3:.2f} ms)")
    print(f"  peel   vs duckdb          {duck_peel / ours_peel:8.1f}x")
    print(f"  6-hop trace under 1 s: {'yes' if max(ours) < 1.0 else 'NO'} (worst {max(ours):.3f} s)")
    print(f"graph arrays {sum(x.nbytes for x in vars(g).values() if isinstance(x, np.ndarray)) / 2**30:.2f} GB")
    r6 = statistics.median(nx_t) / m if nx_t else float("nan")
    return r6, nx_peel / ours_peel, max(ours)


def _duckdb(esrc: np.ndarray, edst: np.ndarray, src_tx: list[int], peel_tx0: int) -> tuple[list[float], float]:
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
    duck = [_timed(lambda s=s: con.execute(q, [s, 6]).fetchone())[1] for s in src_tx]
    n_peel, duck_peel = _timed(lambda: con.execute(q, [peel_tx0, 100]).fetchone())
    print(f"duckdb   6-hop reachability : {_ms(duck)}")
    print(f"duckdb   100-hop reachability: {duck_peel * 1e3:8.2f} ms ({n_peel[0] if n_peel else '?'} txs)")
    con.close()
    return duck, duck_peel


def _bare_bfs() -> Any:
    """A compiled BFS over the forward trace index (next transaction per output, one record per transaction),
    with the same prefetching as the trace kernel: the cost of reaching the transactions, with no amounts."""
    from numba import njit

    from chainsleuth.algorithms.tracing._kernel import _prefetch

    @njit(cache=True)
    def bfs(txr: np.ndarray, nxt: np.ndarray, seen: np.ndarray, src: int, hops: int) -> int:
        fr = np.empty(1, dtype=np.int64)
        fr[0] = src
        n = 1
        seen[src] = 1
        done = [src]
        for _ in range(hops):
            for k in range(n):
                _prefetch(txr, fr[k])
            m = 0
            cap = 0
            for k in range(n):
                cap += txr[fr[k], 1] - txr[fr[k], 0]
            nf = np.empty(max(cap, 1), dtype=np.int64)
            for k in range(n):
                if k + 8 < n:
                    _prefetch(nxt, txr[fr[k + 8], 0])
                u = fr[k]
                for e in range(txr[u, 0], txr[u, 1]):
                    v = nxt[e]
                    if v >= 0 and seen[v] == 0:
                        seen[v] = 1
                        nf[m] = v
                        m += 1
                        done.append(v)
            fr = nf
            n = m
        for v in done:
            seen[v] = 0
        return len(done) - 1

    return bfs


def _nx_graph(esrc: np.ndarray, edst: np.ndarray) -> Any:
    import networkx as nx

    t = time.perf_counter()
    dg = nx.DiGraph()
    dg.add_edges_from(zip(esrc.tolist(), edst.tolist(), strict=True))
    print(f"networkx DiGraph built in {time.perf_counter() - t:.1f} s")
    return dg


def _nx_bfs(dg: Any, s: int, hops: int) -> Any:
    """The transactions within ``hops`` spends of ``s``, without ``s`` (a DAG: nothing leads back to it)."""
    import networkx as nx

    got = nx.single_source_shortest_path_length(dg, s, cutoff=hops)
    del got[s]
    return got.keys()


def _igraph_graph(esrc: np.ndarray, edst: np.ndarray, n: int) -> Any:
    import igraph

    t = time.perf_counter()
    ig = igraph.Graph(n=n, edges=np.column_stack([esrc, edst]), directed=True)
    print(f"igraph   Graph built in {time.perf_counter() - t:.1f} s (python-igraph {igraph.__version__})")
    return ig


def _ig_bfs(ig: Any, s: int, hops: int) -> list[int]:
    """igraph's BFS to depth ``hops`` (``neighborhood``, in C); the source itself left out."""
    got: list[int] = ig.neighborhood(s, order=hops, mode="out")
    return got[1:]                              # the first vertex is the source


def _scipy_csr(esrc: np.ndarray, edst: np.ndarray, n: int) -> Any:
    import scipy
    from scipy.sparse import csr_matrix

    t = time.perf_counter()
    a = csr_matrix((np.ones(esrc.size, dtype=np.int8), (esrc, edst)), shape=(n, n))
    a.sum_duplicates()
    print(f"scipy    CSR matrix built in {time.perf_counter() - t:.1f} s (scipy {scipy.__version__}, "
          f"{a.nnz:,} distinct tx -> tx links)")
    return a


def _csr_bfs(a: Any) -> Any:
    """A frontier BFS on a scipy CSR matrix, written the straightforward vectorised way: per hop, gather the
    frontier's rows through ``indptr`` (one ``repeat`` + ``arange``), drop what was seen, keep the first copy
    of each new transaction (a scatter of positions, no sort), mark them seen. The seen marks are cleared for
    the reached transactions only, so a call costs what it reaches, as our trace does."""
    indptr, indices = a.indptr.astype(np.int64), a.indices.astype(np.int64)
    seen = np.zeros(a.shape[0], dtype=bool)
    first = np.zeros(a.shape[0], dtype=np.int64)

    def bfs(s: int, hops: int) -> np.ndarray:
        fr = np.array([s], dtype=np.int64)
        seen[s] = True
        parts = []
        for _ in range(hops):
            starts = indptr[fr]
            counts = indptr[fr + 1] - starts
            total = int(counts.sum())
            if total == 0:
                break
            pos = np.arange(total, dtype=np.int64) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
            nb = indices[pos]
            nb = nb[~seen[nb]]
            k = np.arange(nb.size, dtype=np.int64)
            first[nb[::-1]] = k[::-1]           # the smallest position of each transaction wins
            nb = nb[first[nb] == k]
            seen[nb] = True
            parts.append(nb)
            fr = nb
        out = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        seen[out] = False
        seen[s] = False
        return out

    return bfs


def _per_reached(ours: list[float], reach: list[int], reach_t: list[float], reach_n: list[int], sp_t: list[float],
                 ig_t: list[float], nx_t: list[float], sp_n: list[int]) -> dict[str, tuple[float, float]]:
    """Cost per reached transaction for each engine: (sum of times / sum of reaches, median of the per-source
    ratios). The haircut trace is divided by its own reach, the poison trace and the BFSs by the BFS reach."""
    def both(ts: list[float], ns: list[int]) -> tuple[float, float]:
        return sum(ts) / max(sum(ns), 1), statistics.median(t / max(n, 1) for t, n in zip(ts, ns, strict=True))

    per = {"haircut (kernel)": both(ours, reach), "poison (kernel)": both(reach_t, reach_n),
           "scipy CSR BFS": both(sp_t, sp_n)}
    if ig_t:
        per["igraph BFS"] = both(ig_t, sp_n)
    if nx_t:
        per["networkx BFS"] = both(nx_t, sp_n)
    return per


if __name__ == "__main__":
    main()
