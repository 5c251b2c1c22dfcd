"""Address clustering with evidence: co-spend union-find, change heuristics, Ethereum deposit addresses,
the path of links joining two addresses, and error-rate metrics against ground truth."""

from chainsleuth.algorithms.clustering.change import (
    CHANGE_HEURISTICS,
    ChangeGuesses,
    change_consensus,
    change_edges,
    detect_change,
)
from chainsleuth.algorithms.clustering.compare import compare_labels
from chainsleuth.algorithms.clustering.cospend import (
    COSPEND,
    Clustering,
    Edges,
    Links,
    cluster_edges,
    cospend_edges,
)
from chainsleuth.algorithms.clustering.deposit import DepositClusters, deposit_clusters
from chainsleuth.algorithms.clustering.heuristics import (
    DEFAULT_HEURISTICS,
    HEURISTICS,
    HeuristicSpec,
    resolve_heuristics,
)
from chainsleuth.algorithms.clustering.metrics import cluster_scores, detection_scores, pairwise_scores
from chainsleuth.algorithms.clustering.paths import link_path
from chainsleuth.algorithms.clustering.pipeline import UtxoClusterRun, cluster_utxo, supports_incremental
from chainsleuth.algorithms.clustering.unionfind import Forest, canonical_labels, spanning_forest

__all__ = [
    "CHANGE_HEURISTICS",
    "COSPEND",
    "DEFAULT_HEURISTICS",
    "HEURISTICS",
    "ChangeGuesses",
    "Clustering",
    "DepositClusters",
    "Edges",
    "Forest",
    "HeuristicSpec",
    "Links",
    "UtxoClusterRun",
    "canonical_labels",
    "change_consensus",
    "change_edges",
    "cluster_edges",
    "cluster_scores",
    "cluster_utxo",
    "compare_labels",
    "cospend_edges",
    "deposit_clusters",
    "detect_change",
    "detection_scores",
    "link_path",
    "pairwise_scores",
    "resolve_heuristics",
    "spanning_forest",
    "supports_incremental",
]
