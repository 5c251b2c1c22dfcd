"""What tracing needs to know of attribution, as arrays over a chain's address ids: the best tag of each
address (entity, category) and the addresses where a trace stops."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chainsleuth.core.chains import Model, get_chain
from chainsleuth.errors import InvalidInput
from chainsleuth.store import Store

__all__ = ["best_attributions", "stop_mask"]

#: (entity, category) of an address's best tag
Best = dict[int, tuple[str | None, str | None]]


def best_attributions(store: Store, chain: str) -> tuple[Best, np.ndarray | None, int | None]:
    """Best tag (entity, category) per address id, cluster labels (or None) and the cluster set id."""
    att = store.graph.address_attributions(chain)
    best: Best = {}
    for a, ent, cat in zip(att["address_id"].tolist(), att["entity"].tolist(), att["category"].tolist(),
                           strict=True):
        if a not in best or (best[a][1] is None and cat):
            best[a] = (ent, cat or None)
    labels, set_id = None, None
    if get_chain(chain).model is Model.UTXO:
        s = store.clusters.get_set(chain)
        if s is not None:
            set_id = int(s["set_id"])
            labels = store.clusters.labels(chain, set_id)
            # tags of cluster-defining addresses describe their whole cluster
            by_cluster = {int(labels[a]): best[a] for a, d in zip(att["address_id"].tolist(),
                          att["cluster_definer"].tolist(), strict=True) if d and a < labels.size and a in best}
            if by_cluster:
                for a in np.flatnonzero(np.isin(labels, list(by_cluster))).tolist():
                    best.setdefault(a, by_cluster[int(labels[a])])
    return best, labels, set_id


def stop_mask(n_addr: int, best: Best, stop: Sequence[str]) -> np.ndarray:
    """True for every address whose best category falls under one of the ``stop`` taxonomy concepts."""
    from chainsleuth.attribution.taxonomy import Taxonomy

    tax = Taxonomy.packaged()
    unknown = [s for s in stop if s not in tax.concepts]
    if unknown:
        raise InvalidInput(f"unknown --stop-at categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
                           "use GraphSense taxonomy concepts such as exchange, mixing_service, defi_bridge, "
                           "gambling, defi (or mixer, bridge)", field="--stop-at", value=",".join(unknown))
    cats = {c for _, c in best.values() if c}
    stopping = {c for c in cats if any(tax.is_a(c, s) for s in stop)}
    mask = np.zeros(max(n_addr, 1), dtype=bool)
    for a, (_, c) in best.items():
        if c in stopping and a < mask.size:
            mask[a] = True
    return mask
