"""The attribution taxonomy as data: concepts (categories and abuses), confidence levels, tag types.

The vocabularies are GraphSense's (graphsense-tagpack-tool, MIT; see ``taxonomy/SOURCE.md``), shipped in
the package as data files so that a workspace never needs the network. :meth:`Taxonomy.from_dir` loads
the same files from another directory (e.g. a newer checkout of the TagPack repository).

>>> tax = Taxonomy.packaged()
>>> tax.confidence["authority_data"].level
60
>>> tax.is_a("ransomware", "abuse")
True
>>> "exchange" in tax.concepts
True
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from chainsleuth.errors import InvalidInput

__all__ = ["TLP_LEVELS", "Concept", "ConfidenceLevel", "Taxonomy"]

#: Traffic Light Protocol 2.0 sharing levels, least to most restricted (FIRST, TLP v2.0, 2022).
TLP_LEVELS: tuple[str, ...] = ("clear", "green", "amber", "amber+strict", "red")

_FILES = ("concepts.yaml", "confidence.csv", "tag_types.csv", "tag_subject.csv", "countries.csv",
          "concept_relation_annotation.csv", "tagpack_schema.yaml", "actorpack_schema.yaml")


@dataclass(frozen=True)
class Concept:
    """One concept of the taxonomy (an entity type, a behaviour, an abuse)."""

    id: str
    label: str
    description: str
    broader: str | None


@dataclass(frozen=True)
class ConfidenceLevel:
    """A confidence id with its numeric level (0-100) and what it means."""

    id: str
    label: str
    description: str
    level: int


@dataclass(frozen=True)
class Taxonomy:
    """Concepts, confidence levels, tag types, subjects, countries and the TagPack/ActorPack schemas."""

    concepts: Mapping[str, Concept]
    confidence: Mapping[str, ConfidenceLevel]
    tag_types: Mapping[str, str]
    tag_subjects: Mapping[str, str]
    countries: Mapping[str, str]
    tagpack_schema: Mapping[str, Mapping[str, Mapping[str, Any]]]
    actorpack_schema: Mapping[str, Mapping[str, Mapping[str, Any]]]
    origin: str = field(default="packaged")

    # -- loading --------------------------------------------------------------------------------
    @staticmethod
    def packaged() -> Taxonomy:
        """The taxonomy shipped inside the package (cached)."""
        return _packaged()

    @staticmethod
    def from_dir(path: str | Path) -> Taxonomy:
        """Load the taxonomy files (same names as the packaged ones) from a directory."""
        p = Path(path)
        texts: dict[str, str] = {}
        for name in _FILES:
            f = p / name
            if not f.is_file():
                raise InvalidInput(f"taxonomy file {f} is missing", file=str(f))
            texts[name] = f.read_text(encoding="utf-8")
        return _parse(texts, origin=str(p))

    # -- queries --------------------------------------------------------------------------------
    def ancestors(self, concept: str) -> list[str]:
        """The chain of broader concepts, nearest first (cycle-safe)."""
        out: list[str] = []
        cur = self.concepts.get(concept)
        while cur is not None and cur.broader and cur.broader not in out and cur.broader != concept:
            out.append(cur.broader)
            cur = self.concepts.get(cur.broader)
        return out

    def is_a(self, concept: str, ancestor: str) -> bool:
        """True when ``concept`` is ``ancestor`` or narrower than it."""
        return concept == ancestor or ancestor in self.ancestors(concept)

    def confidence_level(self, confidence_id: str | None) -> int | None:
        c = self.confidence.get(confidence_id) if confidence_id else None
        return None if c is None else c.level

    def confidence_choices(self) -> str:
        """``id (level)`` for every confidence id, strongest first: the allowed values in messages."""
        items = sorted(self.confidence.values(), key=lambda c: (-c.level, c.id))
        return ", ".join(f"{c.id} ({c.level})" for c in items)

    def concept_choices(self) -> str:
        return ", ".join(sorted(self.concepts))


def _csv_rows(text: str) -> list[dict[str, str]]:
    return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


def _parse(texts: Mapping[str, str], *, origin: str) -> Taxonomy:
    raw = {str(k): v for k, v in (yaml.safe_load(texts["concepts.yaml"]) or {}).items()
           if k != "scheme" and isinstance(v, dict)}
    parent: dict[str, str] = {}  # a concept's broader one, from ``broader`` or from the parent's ``narrower``
    for k, v in raw.items():
        for child in v.get("narrower") or []:
            parent.setdefault(str(child), k)
    for k, v in raw.items():
        if v.get("broader"):
            parent[k] = str(v["broader"])
    concepts = {
        k: Concept(id=str(v.get("id", k)), label=str(v.get("prefLabel", k)),
                   description=" ".join(str(v.get("description", "")).split()), broader=parent.get(k))
        for k, v in raw.items()
    }
    confidence = {
        r["id"]: ConfidenceLevel(id=r["id"], label=r["label"], description=r["description"], level=int(r["level"]))
        for r in _csv_rows(texts["confidence.csv"])
    }
    tag_types = {r["id"]: r["label"] for r in _csv_rows(texts["tag_types.csv"])}
    subjects = {r["id"]: r["label"] for r in _csv_rows(texts["tag_subject.csv"])}
    countries = {r["id"]: r["label"] for r in _csv_rows(texts["countries.csv"])}
    return Taxonomy(concepts=concepts, confidence=confidence, tag_types=tag_types, tag_subjects=subjects,
                    countries=countries, tagpack_schema=yaml.safe_load(texts["tagpack_schema.yaml"]),
                    actorpack_schema=yaml.safe_load(texts["actorpack_schema.yaml"]), origin=origin)


@cache
def _packaged() -> Taxonomy:
    base = resources.files("chainsleuth.attribution") / "taxonomy"
    return _parse({name: (base / name).read_text(encoding="utf-8") for name in _FILES}, origin="packaged")
