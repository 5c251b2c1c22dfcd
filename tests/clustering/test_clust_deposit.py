"""Ethereum deposit-address clustering (Victor, FC 2020) on constructed transfers."""

from __future__ import annotations

import numpy as np

from chainsleuth.algorithms.clustering import cluster_edges, deposit_clusters
from chainsleuth.algorithms.clustering.deposit import (
    CAVEATS,
    MAX_AMOUNT_DIFF_WEI,
    MAX_BLOCK_DIFF,
    SERVICE_MIN_DEPOSITS,
)

ETH = 10**18
EXCHANGE = 1000


def _run(rows: list[tuple[int, int, int, int]]):
    f, t, v, b = zip(*rows, strict=True)
    return deposit_clusters(np.array(f), np.array(t), np.array(v, dtype=object), np.array(b), np.array([EXCHANGE]))


def test_clust_deposit_senders_of_one_deposit_address_are_one_user() -> None:
    rows = [(1, 50, 2 * ETH, 100), (50, EXCHANGE, 2 * ETH - 10**15, 150),      # user 1 -> deposit 50 -> exchange
            (2, 50, 3 * ETH, 300), (50, EXCHANGE, 3 * ETH - 10**15, 320),      # user's second wallet 2
            (3, 60, 1 * ETH, 100), (60, EXCHANGE, 1 * ETH - 10**15, 101)]      # another user, deposit 60
    r = _run(rows)
    assert r.deposit_addresses.tolist() == [50, 60] and r.exchange_of.tolist() == [EXCHANGE, EXCHANGE]
    c = cluster_edges(100, r.edges)
    assert c.labels[1] == c.labels[2] != c.labels[3]
    assert c.labels[50] != c.labels[1]              # the deposit address belongs to the exchange: not merged
    assert r.edges.names == ("deposit-address",) and r.caveats == CAVEATS


def test_clust_deposit_thresholds() -> None:
    late = [(1, 50, ETH, 100), (50, EXCHANGE, ETH, 100 + MAX_BLOCK_DIFF + 1),
            (2, 50, ETH, 100), (3, 51, ETH, 100), (51, EXCHANGE, ETH - MAX_AMOUNT_DIFF_WEI - 1, 110),
            (4, 51, ETH, 100)]
    r = _run(late)
    assert r.deposit_addresses.tolist() == [] and len(r.edges) == 0
    ok = [(1, 50, ETH, 100), (50, EXCHANGE, ETH, 100 + MAX_BLOCK_DIFF),
          (2, 50, ETH, 100), (3, 51, ETH, 100), (51, EXCHANGE, ETH - MAX_AMOUNT_DIFF_WEI, 110), (4, 51, ETH, 100)]
    r = _run(ok)
    assert r.deposit_addresses.tolist() == [50, 51] and len(r.edges) == 2


def test_clust_deposit_amounts_beyond_int64() -> None:
    big = 10**30
    r = _run([(1, 50, big, 1), (50, EXCHANGE, big - 10**15, 2), (2, 50, big, 3), (50, EXCHANGE, big - 1, 4)])
    assert r.deposit_addresses.tolist() == [50] and len(r.edges) == 1


def test_clust_deposit_services_are_not_merged() -> None:
    rows = []
    for d in range(SERVICE_MIN_DEPOSITS + 1):            # sender 7 pays into many deposit addresses: a service
        dep = 100 + d
        rows += [(7, dep, ETH, 10), (200 + d, dep, ETH, 11), (dep, EXCHANGE, ETH - 1, 12)]
    r = _run(rows)
    c = cluster_edges(400, r.edges)
    assert len(set(c.labels[[7, *range(200, 200 + SERVICE_MIN_DEPOSITS + 1)]].tolist())) == SERVICE_MIN_DEPOSITS + 2


def test_clust_deposit_no_exchange_no_result() -> None:
    r = deposit_clusters(np.array([1]), np.array([2]), np.array([5]), np.array([1]), np.array([], dtype=np.int64))
    assert len(r.deposit_addresses) == 0 and len(r.edges) == 0
