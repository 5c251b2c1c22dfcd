"""Evidence: what every heuristic returns instead of a bare bool."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Evidence"]


@dataclass(frozen=True)
class Evidence:
    """Why a heuristic concluded what it did.

    ``confidence`` is in [0, 1]; ``source`` cites where the heuristic comes from (paper, tool, section).
    """

    heuristic: str
    summary: str
    confidence: float
    source: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"heuristic": self.heuristic, "summary": self.summary, "confidence": self.confidence,
                "source": self.source, "details": dict(self.details)}
