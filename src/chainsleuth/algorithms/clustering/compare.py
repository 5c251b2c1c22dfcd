"""Compare two clusterings of the same addresses: which clusters split and which merge."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["compare_labels"]


def compare_labels(first: np.ndarray, second: np.ndarray, *, limit: int = 100) -> dict[str, Any]:
    """Clusters of ``first`` that ``second`` splits, and clusters of ``second`` that merge several of ``first``.

    Parameters
    ----------
    first, second : ndarray of int
        Cluster id per address id; the shorter one is padded with singletons (addresses it has not seen).
    limit : int
        Most splits and merges listed (the counts cover all).

    Returns
    -------
    dict
        ``splits``: ``[{"cluster", "size", "into": [ids...]}]``; ``merges``: ``[{"cluster", "size",
        "from": [ids...]}]``; ``n_splits``, ``n_merges``, ``identical`` (same partition).

    Complexity: O(n log n).

    Examples
    --------
    >>> r = compare_labels(np.array([0, 0, 0, 3]), np.array([0, 0, 2, 2]))
    >>> r["splits"], r["merges"]
    ([{'cluster': 0, 'size': 3, 'into': [0, 2]}], [{'cluster': 2, 'size': 2, 'from': [0, 3]}])
    """
    n = max(len(first), len(second))
    a = np.arange(n, dtype=np.int64)
    b = a.copy()
    a[: len(first)] = first
    b[: len(second)] = second
    pairs = np.unique(np.stack((a, b), axis=1), axis=0)
    size_a = np.bincount(a, minlength=n)
    size_b = np.bincount(b, minlength=n)
    out: dict[str, Any] = {}
    for key, col, other, sizes, word in (("splits", 0, 1, size_a, "into"), ("merges", 1, 0, size_b, "from")):
        order = np.lexsort((pairs[:, other], pairs[:, col]))
        p = pairs[order]
        ids, starts, counts = np.unique(p[:, col], return_index=True, return_counts=True)
        many = np.flatnonzero(counts > 1)
        out[f"n_{key}"] = len(many)
        out[key] = [{"cluster": int(ids[i]), "size": int(sizes[ids[i]]),
                     word: p[starts[i]:starts[i] + counts[i], other].tolist()}
                    for i in many[np.argsort(-sizes[ids[many]], kind="stable")][:limit]]
    out["identical"] = out["n_splits"] == 0 and out["n_merges"] == 0
    return out
