"""Error rates of a clustering against ground truth (who really owns each address).

All functions take label arrays aligned by address: ``pred[i]`` the cluster of address i, ``truth[i]`` its
true owner. Labels may be any integers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["cluster_scores", "detection_scores", "pairwise_scores"]


def _pairs(counts: np.ndarray) -> int:
    c = counts.astype(np.int64)
    return int((c * (c - 1) // 2).sum())


def _contingency(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    _, p = np.unique(np.asarray(pred), return_inverse=True)
    _, t = np.unique(np.asarray(truth), return_inverse=True)
    _, counts = np.unique(p.astype(np.int64) * (int(t.max(initial=0)) + 1) + t, return_counts=True)
    return counts


def pairwise_scores(pred: Sequence[int] | np.ndarray, truth: Sequence[int] | np.ndarray) -> dict[str, float | int]:
    """Pairwise precision and recall: over all address pairs put together by ``pred``, how many share an owner.

    Returns a dict with ``precision``, ``recall`` (1.0 when there is nothing to find or claim),
    ``true_pairs``, ``predicted_pairs``, ``correct_pairs``.

    Complexity: O(n log n).

    >>> pairwise_scores([0, 0, 0, 1], [5, 5, 6, 6])
    {'precision': 0.3333333333333333, 'recall': 0.5, 'true_pairs': 2, 'predicted_pairs': 3, 'correct_pairs': 1}
    """
    pred = np.asarray(pred)
    truth = np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"label arrays differ in length: {pred.shape} vs {truth.shape}")
    correct = _pairs(_contingency(pred, truth))
    predicted = _pairs(np.unique(pred, return_counts=True)[1])
    true = _pairs(np.unique(truth, return_counts=True)[1])
    return {"precision": correct / predicted if predicted else 1.0, "recall": correct / true if true else 1.0,
            "true_pairs": true, "predicted_pairs": predicted, "correct_pairs": correct}


def cluster_scores(pred: Sequence[int] | np.ndarray, truth: Sequence[int] | np.ndarray) -> dict[str, float | int]:
    """Cluster-level scores.

    - ``precision``: share of predicted multi-address clusters that are pure (one true owner);
    - ``recall``: share of true multi-address entities whose addresses all sit in one predicted cluster;
    - ``exact``: share of true multi-address entities recovered exactly (that cluster holds nothing else).

    Complexity: O(n log n).

    >>> cluster_scores([0, 0, 1, 1, 2], [7, 7, 7, 8, 8])
    {'precision': 0.5, 'recall': 0.0, 'exact': 0.0, 'predicted_clusters': 2, 'true_entities': 2}
    """
    pred = np.asarray(pred)
    truth = np.asarray(truth)
    _, p = np.unique(pred, return_inverse=True)
    _, t = np.unique(truth, return_inverse=True)
    p_size = np.bincount(p)
    t_size = np.bincount(t)
    # distinct owners per predicted cluster, distinct clusters per owner
    pairs = np.unique(p.astype(np.int64) * (len(t_size) + 1) + t)
    pp, tt = pairs // (len(t_size) + 1), pairs % (len(t_size) + 1)
    owners_per_p = np.bincount(pp, minlength=len(p_size))
    clusters_per_t = np.bincount(tt, minlength=len(t_size))
    multi_p = p_size >= 2
    multi_t = t_size >= 2
    pure = multi_p & (owners_per_p == 1)
    whole = multi_t & (clusters_per_t == 1)
    # exact: the one cluster of the entity has the same size as the entity
    cl_of_t = np.zeros(len(t_size), dtype=np.int64)
    cl_of_t[tt] = pp
    exact = whole & (p_size[cl_of_t] == t_size)
    n_p, n_t = int(multi_p.sum()), int(multi_t.sum())
    return {"precision": float(pure.sum()) / n_p if n_p else 1.0,
            "recall": float(whole.sum()) / n_t if n_t else 1.0,
            "exact": float(exact.sum()) / n_t if n_t else 1.0,
            "predicted_clusters": n_p, "true_entities": n_t}


def detection_scores(predicted: Sequence[str | None], actual: Sequence[str | None],
                     types: Sequence[str]) -> dict[str, dict[str, float | int]]:
    """Precision and recall of a per-item classifier for each type (None = negative).

    >>> detection_scores(["a", None, "a", "b"], ["a", "a", None, "b"], ["a", "b"])["a"]
    {'precision': 0.5, 'recall': 0.5, 'tp': 1, 'fp': 1, 'fn': 1}
    """
    out: dict[str, dict[str, float | int]] = {}
    for ty in types:
        tp = sum(1 for p, a in zip(predicted, actual, strict=True) if p == ty and a == ty)
        fp = sum(1 for p, a in zip(predicted, actual, strict=True) if p == ty and a != ty)
        fn = sum(1 for p, a in zip(predicted, actual, strict=True) if p != ty and a == ty)
        out[ty] = {"precision": tp / (tp + fp) if tp + fp else 1.0, "recall": tp / (tp + fn) if tp + fn else 1.0,
                   "tp": tp, "fp": fp, "fn": fn}
    return out
