"""Provenance: what data a result was computed from, so that any figure can cite it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["IngestRun", "Provenance"]


@dataclass(frozen=True)
class IngestRun:
    """One ingest run: source kind, endpoint (never credentials), block range, software version, content hash."""

    run_id: int
    chain: str
    source_kind: str
    endpoint: str
    first_height: int | None
    last_height: int | None
    software_version: str
    content_hash: str
    started_at: int
    finished_at: int | None
    blocks: int = 0
    txs: int = 0
    skipped: int = 0
    notes: str = ""


@dataclass(frozen=True)
class Provenance:
    """Attached to every query result: data ranges, heuristics, parameters and tag versions used."""

    software_version: str
    chains: dict[str, dict[str, Any]] = field(default_factory=dict)
    ingest_runs: list[int] = field(default_factory=list)
    heuristics: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    tag_sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "software_version": self.software_version,
            "chains": self.chains,
            "ingest_runs": list(self.ingest_runs),
            "heuristics": list(self.heuristics),
            "parameters": dict(self.parameters),
            "tag_sources": list(self.tag_sources),
        }
