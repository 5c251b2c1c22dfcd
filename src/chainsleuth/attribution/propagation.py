"""Propagation of address tags to the clusters that contain them.

A cluster shows the tags of its members that (a) are marked ``is_cluster_definer`` by their creator, i.e.
the creator asserts the tag describes the whole wallet the address belongs to, and (b) are of strong
confidence (level >= :data:`STRONG_CONFIDENCE`). Such a tag becomes a "via cluster" tag of the cluster,
carrying the member address it came from; it keeps its label, source, creator and confidence unchanged.
When the inherited tags name more than one entity (actor, or label when no actor is set), the cluster is
probably wrong (a CoinJoin or a false co-spend merged two wallets) or a tag is: a warning is returned as
:class:`~chainsleuth.core.evidence.Evidence` and every inherited tag is still shown.

This follows GraphSense's cluster tags (tags with ``is_cluster_definer: true`` label the entity) and its
caution that CoinJoins and mixers distort clusters (graphsense-tagpacks README, "Note").

>>> import numpy as np
>>> r = propagate_cluster_tags(
...     member=np.array([10, 11, 12, 12]), is_cluster_definer=np.array([True, False, True, True]),
...     confidence_level=np.array([60, 90, 50, 20]), entity=["exchange_a", "exchange_a", "exchange_b", "x"])
>>> r.selected.tolist(), r.via.tolist()
([0, 2], [10, 12])
>>> [e.summary for e in r.conflicts]
['2 entities inherited by one cluster: exchange_a (via 10), exchange_b (via 12)']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from chainsleuth.core.evidence import Evidence

__all__ = ["STRONG_CONFIDENCE", "ClusterTags", "entity_of", "propagate_cluster_tags"]

#: Lowest confidence level (0-100, GraphSense confidence.csv) a tag needs to label a whole cluster: 50 is
#: "trusted provider / service data / forensic reports"; below it are web crawls (20), heuristics (10), unknown (5).
STRONG_CONFIDENCE = 50


@dataclass(frozen=True)
class ClusterTags:
    """Which tags a cluster inherits (indices into the input arrays) and from which member."""

    selected: np.ndarray          # int64 indices of inherited tags, in input order
    via: np.ndarray               # member id (address id or index) each inherited tag came from
    conflicts: list[Evidence] = field(default_factory=list)


def entity_of(actor: str | None, label: str | None) -> str:
    """The entity a tag names: its actor id, else its label (case- and space-normalised)."""
    if actor:
        return actor.strip().lower()
    return " ".join((label or "").lower().split())


def propagate_cluster_tags(*, member: np.ndarray, is_cluster_definer: np.ndarray, confidence_level: np.ndarray,
                           entity: Sequence[str], min_level: int = STRONG_CONFIDENCE) -> ClusterTags:
    """Tags of one cluster's members -> the tags the cluster inherits, and conflicting-entity warnings.

    Parameters
    ----------
    member : int array, the member (address id) each tag belongs to
    is_cluster_definer : bool array
    confidence_level : int array (missing levels as -1)
    entity : the entity each tag names (see :func:`entity_of`)
    min_level : lowest confidence level that propagates

    Complexity O(n) in the number of member tags.
    """
    m = np.asarray(member, dtype=np.int64)
    mask = np.asarray(is_cluster_definer, dtype=bool) & (np.asarray(confidence_level, dtype=np.int64) >= min_level)
    sel = np.flatnonzero(mask)
    conflicts: list[Evidence] = []
    firsts: dict[str, int] = {}
    for i in sel.tolist():
        firsts.setdefault(entity[i], int(m[i]))
    if len(firsts) > 1:
        names = ", ".join(f"{e} (via {a})" for e, a in firsts.items())
        conflicts.append(Evidence(
            heuristic="cluster-tag-conflict",
            summary=f"{len(firsts)} entities inherited by one cluster: {names}",
            confidence=1.0,
            source="GraphSense TagPacks README: CoinJoins and mixers can distort clusters and join unrelated actors",
            details={"entities": list(firsts), "via": list(firsts.values())}))
    return ClusterTags(selected=sel.astype(np.int64), via=m[sel], conflicts=conflicts)
