"""On-demand tracing: fetch from an explorer API what each hop of a trace needs and the store lacks.

The trace runs on what is stored; where its value stops at outputs nothing stored spends (forward) or at
inputs whose spent output is not stored (backward), those transactions' outspends (forward) or funding
transactions (backward) are fetched and the trace runs again, until a run fetches nothing new or the hop
limit is reached. What is stored is not asked for again, so a second trace makes no request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainsleuth.workspace.tracing.sources import tx_reference

__all__ = ["fill_for_trace"]

#: endpoint reasons where a forward trace may go on if the data held more
_OPEN_FORWARD = ("unspent_in_data", "unknown_beyond_data")


def _txids(doc: dict[str, Any], reasons: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for ep in doc["endpoints"]:
        if ep["reason"] in reasons:
            for c in ep.get("coins", []):
                ref = c.get("outpoint") or c.get("txid")
                if ref:
                    out.append(str(ref).split(":")[0])
    return list(dict.fromkeys(out))


def fill_for_trace(fetcher: Any, run: Callable[[], dict[str, Any]], source: str, *, direction: str,
                   max_hops: int, chain: str | None) -> int:
    """Fetch the source and then, hop by hop, what the trace reaches; the transactions stored."""
    new = 0
    for part in (p.strip() for p in source.split(",")):
        ref = tx_reference(part)
        if ref is not None:
            new += fetcher.ensure_txs([ref[0]], chain)
        elif part and not part.startswith("cluster:"):
            fetcher.ensure_address(part, chain)
    for _ in range(max_hops + 1):
        doc = run()
        if direction == "forward":
            got = fetcher.ensure_outspends(_txids(doc, _OPEN_FORWARD))
        else:
            got = fetcher.ensure_funding(_txids(doc, ("unknown_origin",)))
        if not got:
            break
        new += got
    return new
