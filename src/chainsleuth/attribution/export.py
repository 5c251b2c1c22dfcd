"""Export tags as a TagPack (YAML), so partners can import them with any TagPack tool.

Every tag is written with all its fields explicit (no header defaults), so the file does not depend on
inheritance rules; ``lastmod`` is a date when it falls on midnight UTC, else a datetime; the sharing level
travels in the tag's ``context`` JSON as ``"tlp"`` (the TagPack schema has no TLP field; ``is_public`` in
the header is true only when every tag is TLP:CLEAR). Importing the file again gives the same chain,
identifier, label, category, abuse, concepts, actor, source, confidence, lastmod, is_cluster_definer and
TLP (a test checks the round trip). Tags above ``max_tlp`` are left out.

>>> text = tagpack_yaml([{"chain": "btc", "subject": "address", "identifier": "1Archive1n2C579dMsAu3iC6tWzuQJz8dN",
...     "label": "Internet Archive", "category": "organization", "source": "https://archive.org/donate",
...     "confidence": "service_data", "lastmod": 1636675200, "tlp": "clear", "is_cluster_definer": True}],
...     title="Demo", creator="Unit 7")
>>> print(text.split("tags:")[1].strip().splitlines()[0])
- address: 1Archive1n2C579dMsAu3iC6tWzuQJz8dN
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from chainsleuth.attribution.addresses import CHAIN_CURRENCY
from chainsleuth.attribution.taxonomy import TLP_LEVELS
from chainsleuth.errors import InvalidInput

__all__ = ["tagpack_yaml"]

_Dumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _when(secs: int | None) -> dt.date | dt.datetime | None:
    if secs is None:
        return None
    t = dt.datetime.fromtimestamp(int(secs), dt.UTC).replace(tzinfo=None)
    return t.date() if (t.hour, t.minute, t.second) == (0, 0, 0) else t


def _context(ctx: str | None, tlp: str) -> str:
    data: dict[str, Any]
    if ctx:
        try:
            parsed = json.loads(ctx)
            data = parsed if isinstance(parsed, dict) else {"note": ctx}
        except ValueError:
            data = {"note": ctx}
    else:
        data = {}
    data["tlp"] = tlp
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def tagpack_yaml(tags: Iterable[Mapping[str, Any]], *, title: str, creator: str, description: str = "",
                 max_tlp: str = "red") -> str:
    """TagPack YAML text for ``tags`` (dicts with the store's tag fields)."""
    if max_tlp not in TLP_LEVELS:
        raise InvalidInput(f"unknown TLP level {max_tlp!r}; allowed: {', '.join(TLP_LEVELS)}", field="tlp",
                           value=max_tlp)
    limit = TLP_LEVELS.index(max_tlp)
    out: list[dict[str, Any]] = []
    latest: int | None = None
    all_clear = True
    for t in tags:
        tlp = str(t.get("tlp") or "amber")
        if tlp not in TLP_LEVELS or TLP_LEVELS.index(tlp) > limit:
            continue
        all_clear &= tlp == "clear"
        chain = str(t["chain"])
        currency = t.get("currency") or CHAIN_CURRENCY.get(chain, chain.upper())
        item: dict[str, Any] = {("address" if t.get("subject", "address") == "address" else "tx_hash"):
                                str(t["identifier"])}
        item["label"] = t["label"]
        item["currency"] = currency
        item["network"] = t.get("network") or currency
        for f in ("category", "abuse", "actor", "tag_type"):
            if t.get(f):
                item[f] = t[f]
        extra = [c for c in (t.get("concepts") or []) if c not in (t.get("category"), t.get("abuse"))]
        if extra:
            item["concepts"] = list(extra)
        item["source"] = t["source"]
        item["confidence"] = t.get("confidence") or "unknown"
        item["is_cluster_definer"] = bool(t.get("is_cluster_definer"))
        when = _when(t.get("lastmod"))
        if when is not None:
            item["lastmod"] = when
            latest = max(latest or 0, int(t["lastmod"]))
        item["context"] = _context(t.get("context"), tlp)
        out.append(item)
    doc: dict[str, Any] = {"title": title, "creator": creator}
    if description:
        doc["description"] = description
    if latest is not None:
        doc["lastmod"] = _when(latest)
    doc["is_public"] = bool(out) and all_clear
    doc["tags"] = out
    return str(yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 16))
