"""What the importers return: a parsed pack (metadata + an Arrow table of tags) and the issues found.

Every importer is a pure parser: bytes in, :class:`ParsedPack` out, nothing written. The store writes a
pack in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

__all__ = ["ACTOR_SCHEMA", "TAG_COLUMNS", "TAG_SCHEMA", "PackIssue", "ParsedActorPack", "ParsedPack", "empty_tags"]

#: One row per tag. ``identifier`` is the address (normalised: EVM lower-case, whitespace stripped) or the
#: tx hash, per ``subject``. ``lastmod`` is UTC unix seconds. ``confidence_level`` is 0-100 from the taxonomy.
TAG_SCHEMA = pa.schema([
    ("chain", pa.string()),
    ("subject", pa.string()),             # 'address' | 'tx'
    ("identifier", pa.string()),
    ("label", pa.string()),
    ("category", pa.string()),
    ("abuse", pa.string()),
    ("concepts", pa.list_(pa.string())),
    ("actor", pa.string()),
    ("source", pa.string()),
    ("creator", pa.string()),
    ("confidence", pa.string()),
    ("confidence_level", pa.int16()),
    ("lastmod", pa.int64()),
    ("is_cluster_definer", pa.bool_()),
    ("tlp", pa.string()),
    ("context", pa.string()),
    ("tag_type", pa.string()),
    ("currency", pa.string()),
    ("network", pa.string()),
    ("line", pa.int32()),                 # line of the tag in its file (1-based), for provenance and errors
])
TAG_COLUMNS: tuple[str, ...] = tuple(TAG_SCHEMA.names)

ACTOR_SCHEMA = pa.schema([
    ("actor_id", pa.string()),
    ("label", pa.string()),
    ("uri", pa.string()),
    ("categories", pa.list_(pa.string())),
    ("jurisdictions", pa.list_(pa.string())),
    ("aliases", pa.list_(pa.string())),
    ("context", pa.string()),
    ("lastmod", pa.int64()),
    ("line", pa.int32()),
])


@dataclass(frozen=True)
class PackIssue:
    """A problem found in a pack: where (file, line, field), what value, and why.

    ``severity`` is ``error`` (the pack is refused) or ``warning`` (imported, flaw reported).
    """

    severity: str
    file: str
    line: int | None
    field: str | None
    value: Any
    message: str

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        fld = f" field {self.field!r}" if self.field else ""
        return f"{where}:{fld} {self.message}"

    def to_dict(self) -> dict[str, Any]:
        v = self.value if isinstance(self.value, (str, int, float, bool)) or self.value is None else str(self.value)
        return {"severity": self.severity, "file": self.file, "line": self.line, "field": self.field,
                "value": v, "message": self.message}


@dataclass(frozen=True)
class ParsedPack:
    """A pack ready to store: provenance metadata, the tags, the warnings found while parsing."""

    kind: str                       # 'tagpack' | 'ofac' | 'etherscan' | 'csv' | 'investigator'
    uri: str                        # the pack's name: file name (relative to the directory imported), URL, or
                                    # 'investigator:<creator>'; never an absolute local path
    content_hash: str               # sha256 of the name (without .gz) and decompressed content: its identity
    title: str
    creator: str
    description: str
    is_public: bool | None
    tags: pa.Table
    issues: tuple[PackIssue, ...] = ()
    duplicates_merged: int = 0
    header: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""                # sha256 of the file's bytes as read (what `sha256sum FILE` prints)

    @property
    def warnings(self) -> list[PackIssue]:
        return [i for i in self.issues if i.severity == "warning"]


@dataclass(frozen=True)
class ParsedActorPack:
    uri: str
    content_hash: str
    title: str
    creator: str
    actors: pa.Table
    issues: tuple[PackIssue, ...] = ()
    sha256: str = ""


def empty_tags() -> pa.Table:
    return TAG_SCHEMA.empty_table()
