"""Tag importers other than TagPack YAML, and the importer registry.

Each importer is a pure parser ``(path, taxonomy, max_bytes, tlp) -> ParsedPack``, registered in
:data:`IMPORTERS` with the test that claims a file for it; :func:`detect_importer` asks the registered
importers in registration order, so a registered plugin is found like a built-in. The non-TagPack ones
describe their rows as TagPack fields (label, category/abuse, source, confidence, currency) and go through
the same validation (:func:`~chainsleuth.attribution.tagpack.build_pack`), so every tag in the store obeys
one schema whatever its origin.

- ``ofac``: ``sanctioned_addresses_<ASSET>.txt`` (one address a line, from OFAC's SDN list as extracted by
  0xB10C/ofac-sanctioned-digital-currency-addresses): abuse ``sanction``, confidence ``authority_data``.
- ``etherscan-json``: ``{address: {"name", "labels": [slugs]}}`` (brianleect/etherscan-labels combined file);
  ``etherscan-csv``: ``,Address,Name Tag,Balance,Txn Count`` per label (the file name is the label slug).
  Slugs map to concepts through ``taxonomy/etherscan_label_concepts.csv``; confidence ``web_crawl``.
- ``csv``: a plain CSV with the columns ``address,label,category,source,confidence`` and optionally
  ``chain`` or ``currency``, ``actor``, ``abuse``, ``lastmod``, ``is_cluster_definer``, ``context``, ``creator``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import multiprocessing
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from chainsleuth.attribution.records import ParsedActorPack, ParsedPack
from chainsleuth.attribution.safety import MAX_PACK_BYTES, PackIdentity, read_text_limited
from chainsleuth.attribution.tagpack import build_pack, read_actorpack, read_tagpack
from chainsleuth.attribution.taxonomy import Taxonomy
from chainsleuth.core.registry import Registry
from chainsleuth.errors import InvalidInput, ParseError

__all__ = ["IMPORTERS", "Importer", "TagImporter", "detect_importer", "discover_files", "discover_named", "parse_files", "read_csv_tags",
           "read_etherscan_csv", "read_etherscan_json", "read_ofac_list"]

_OFAC_RE = re.compile(r"^sanctioned_addresses_([A-Za-z0-9]+)\.txt(\.gz)?$")
OFAC_SOURCE = "https://sanctionssearch.ofac.treas.gov/"
OFAC_CREATOR = "US Treasury OFAC (SDN list; addresses extracted by 0xB10C/ofac-sanctioned-digital-currency-addresses)"
ETHERSCAN_CREATOR = "Etherscan labels (scraped by brianleect/etherscan-labels)"


class Importer(Protocol):
    def __call__(self, path: Path, *, taxonomy: Taxonomy, max_bytes: int = ...,
                 tlp: str | None = ...) -> ParsedPack | ParsedActorPack:
        ...


@dataclass(frozen=True)
class TagImporter:
    """A registered importer: ``read`` parses a file; ``claims`` tells from the file (its name, at most a
    peek at its first line) whether it is one this importer reads."""

    name: str
    read: Importer
    claims: Callable[[Path], bool]


def _text(path: Path, max_bytes: int) -> tuple[str, PackIdentity]:
    return read_text_limited(path, max_bytes, encoding="utf-8-sig")


def _named_pack(pack: ParsedPack, path: Path, ident: PackIdentity) -> ParsedPack:
    """Named by its file name and hashes, never by the local path it was read from."""
    return dataclasses.replace(pack, uri=path.name, sha256=ident.sha256)


# -- OFAC ---------------------------------------------------------------------------------------------
def read_ofac_list(path: Path, *, taxonomy: Taxonomy, max_bytes: int = MAX_PACK_BYTES,
                   tlp: str | None = None) -> ParsedPack:
    m = _OFAC_RE.match(path.name)
    if m is None:
        raise InvalidInput(f"{path}: an OFAC list file is named sanctioned_addresses_<ASSET>.txt", file=str(path),
                           field="file name", value=path.name)
    asset = m.group(1).upper()
    currency = "BTC" if asset == "XBT" else asset
    text, ident = _text(path, max_bytes)
    items = []
    for i, line in enumerate(text.splitlines(), start=1):
        a = line.strip()
        if not a or a.startswith("#"):
            continue
        items.append((i, {"address": line.rstrip("\r\n")}))
    header = {"title": f"OFAC SDN sanctioned digital currency addresses ({asset})", "creator": OFAC_CREATOR,
              "description": f"Digital Currency Address - {asset} entries of the OFAC SDN list",
              "label": f"OFAC SDN sanctioned address ({asset})", "abuse": "sanction", "currency": currency,
              "source": OFAC_SOURCE, "confidence": "authority_data", "is_cluster_definer": False}
    return _named_pack(build_pack(header, items, kind="ofac", file=str(path), uri=path.name,
                                  content_hash=ident.content_hash, taxonomy=taxonomy, tlp=tlp or "clear"), path, ident)


# -- Etherscan ----------------------------------------------------------------------------------------
@cache
def _etherscan_map() -> dict[str, tuple[str, str]]:
    text = (resources.files("chainsleuth.attribution") / "taxonomy" / "etherscan_label_concepts.csv").read_text(
        encoding="utf-8")
    return {r["label"]: (r["field"], r["concept"]) for r in csv.DictReader(io.StringIO(text))}


def _etherscan_fields(slugs: list[str]) -> dict[str, Any]:
    m = _etherscan_map()
    out: dict[str, Any] = {}
    concepts: list[str] = []
    for s in slugs:
        hit = m.get(s)
        if hit is None:
            continue
        fld, concept = hit
        if fld in ("category", "abuse") and fld not in out:
            out[fld] = concept
        elif concept not in concepts:
            concepts.append(concept)
    if concepts:
        out["concepts"] = concepts
    out["context"] = json.dumps({"etherscan_labels": slugs}, sort_keys=True)
    return out


def _etherscan_header(title: str) -> dict[str, Any]:
    return {"title": title, "creator": ETHERSCAN_CREATOR, "currency": "ETH", "confidence": "web_crawl",
            "is_cluster_definer": False}


def read_etherscan_json(path: Path, *, taxonomy: Taxonomy, max_bytes: int = MAX_PACK_BYTES,
                        tlp: str | None = None) -> ParsedPack:
    text, ident = _text(path, max_bytes)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ParseError(f"{path}: not JSON: {e.msg}", file=path, offset=e.pos, line=e.lineno) from e
    except RecursionError:   # nesting deeper than the interpreter's stack: no labels file looks like that
        raise InvalidInput(f"{path}: JSON nested too deeply; refused", file=str(path), field="json nesting") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: expected a JSON object {{address: {{name, labels}}}}", file=str(path))
    items = []
    for i, (addr, v) in enumerate(data.items(), start=1):
        if not isinstance(v, dict):
            raise InvalidInput(f"{path}: entry {i} ({addr}) is not an object with name and labels", file=str(path),
                               field=addr, value=v)
        slugs = [str(s) for s in v.get("labels") or []]
        name = str(v.get("name") or "").strip()
        t = {"address": addr, "label": name or ("Etherscan: " + ", ".join(slugs) if slugs else "Etherscan label"),
             "source": "https://etherscan.io/address/" + addr.strip().lower()}
        t.update(_etherscan_fields(slugs))
        items.append((i, t))
    return _named_pack(build_pack(_etherscan_header("Etherscan account labels"), items, kind="etherscan",
                                  file=str(path), uri=path.name, content_hash=ident.content_hash, taxonomy=taxonomy,
                                  tlp=tlp or "clear"), path, ident)


def read_etherscan_csv(path: Path, *, taxonomy: Taxonomy, max_bytes: int = MAX_PACK_BYTES,
                       tlp: str | None = None) -> ParsedPack:
    text, ident = _text(path, max_bytes)
    slug = path.name.split(".")[0]
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as e:
        line = reader.line_num + 1   # the record that failed starts after the lines read whole
        raise ParseError(f"{path}:{line}: not CSV: {e}", file=path, line=line) from None
    if not rows or [c.strip() for c in rows[0][1:3]] != ["Address", "Name Tag"]:
        raise InvalidInput(f"{path}:1: expected the Etherscan columns ',Address,Name Tag,...'", file=str(path),
                           line=1, field="header", value=",".join(rows[0]) if rows else "")
    items = []
    for i, r in enumerate(rows[1:], start=2):
        if len(r) < 3 or not r[1].strip():
            continue
        t = {"address": r[1], "label": r[2].strip() or f"Etherscan label: {slug}",
             "source": f"https://etherscan.io/accounts/label/{slug}"}
        t.update(_etherscan_fields([slug]))
        items.append((i, t))
    return _named_pack(build_pack(_etherscan_header(f"Etherscan label {slug}"), items, kind="etherscan",
                                  file=str(path), uri=path.name, content_hash=ident.content_hash, taxonomy=taxonomy,
                                  tlp=tlp or "clear"), path, ident)


# -- plain CSV ----------------------------------------------------------------------------------------
_CSV_REQUIRED = ("address", "label", "category", "source", "confidence")
_CSV_OPTIONAL = ("chain", "currency", "network", "actor", "abuse", "lastmod", "is_cluster_definer", "context",
                 "creator", "concepts", "tag_type")
_BTC_RE = re.compile(r"^(1|3)[1-9A-HJ-NP-Za-km-z]{25,34}$|^(bc1|BC1)[0-9A-Za-z]{8,87}$")


def _csv_rows(reader: csv.DictReader[str], path: Path) -> Iterator[dict[str, Any]]:
    """The rows, with a malformed row (a field over the csv module's limit, a NUL) as our ParseError."""
    try:
        yield from reader
    except csv.Error as e:
        line = reader.line_num + 1   # the record that failed starts after the lines read whole
        raise ParseError(f"{path}:{line}: not CSV: {e}", file=path, line=line) from None


def read_csv_tags(path: Path, *, taxonomy: Taxonomy, max_bytes: int = MAX_PACK_BYTES,
                  tlp: str | None = None) -> ParsedPack:
    text, ident = _text(path, max_bytes)
    reader = csv.DictReader(io.StringIO(text))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as e:
        raise ParseError(f"{path}:1: not CSV: {e}", file=path, line=1) from None
    cols = [c.strip().lower() for c in fieldnames or []]
    missing = [c for c in _CSV_REQUIRED if c not in cols]
    if missing:
        raise InvalidInput(f"{path}:1: field {missing[0]!r}: missing column; a tag CSV needs the columns "
                           f"{', '.join(_CSV_REQUIRED)} (optional: {', '.join(_CSV_OPTIONAL)})",
                           file=str(path), line=1, field=missing[0])
    unknown = [c for c in cols if c not in _CSV_REQUIRED and c not in _CSV_OPTIONAL]
    if unknown:
        raise InvalidInput(f"{path}:1: field {unknown[0]!r}: unknown column; allowed: "
                           f"{', '.join(_CSV_REQUIRED + _CSV_OPTIONAL)}", file=str(path), line=1, field=unknown[0])
    levels = sorted(taxonomy.confidence.values(), key=lambda c: -c.level)
    items = []
    creators: set[str] = set()
    for i, raw in enumerate(_csv_rows(reader, path), start=2):
        row = {k.strip().lower(): (v.strip() if isinstance(v, str) else v) for k, v in raw.items() if k}
        t: dict[str, Any] = {}
        for k, v in row.items():
            if v in (None, ""):
                continue
            if k == "chain":
                t["network"] = v
            elif k == "is_cluster_definer":
                t[k] = v.lower() in ("1", "true", "yes")
            elif k == "concepts":
                t[k] = [c.strip() for c in v.split(";") if c.strip()]
            elif k == "confidence" and v.isdigit():  # a level: the strongest id at or below it
                t[k] = next((c.id for c in levels if c.level <= int(v)), levels[-1].id)
            elif k == "creator":
                creators.add(v)
            else:
                t[k] = v
        cat = t.get("category")
        if cat and "abuse" not in t and cat in taxonomy.concepts and taxonomy.is_a(cat, "abuse"):
            t["abuse"] = t.pop("category")
        if "currency" not in t and "network" not in t:
            a = str(t.get("address", ""))
            if a.lower().startswith("0x"):
                t["currency"] = "ETH"
            elif _BTC_RE.match(a):
                t["currency"] = "BTC"
            else:
                raise InvalidInput(f"{path}:{i}: field 'chain': cannot tell the chain of {a!r}; add a chain or "
                                   "currency column", file=str(path), line=i, field="chain", value=a)
        items.append((i, t))
    header = {"title": f"Tags from {path.name}", "creator": ", ".join(sorted(creators)) or "csv import"}
    return _named_pack(build_pack(header, items, kind="csv", file=str(path), uri=path.name,
                                  content_hash=ident.content_hash, taxonomy=taxonomy, tlp=tlp), path, ident)


# -- registry -----------------------------------------------------------------------------------------
def _tagpack(path: Path, *, taxonomy: Taxonomy, max_bytes: int = MAX_PACK_BYTES, tlp: str | None = None) -> ParsedPack:
    return read_tagpack(path, taxonomy=taxonomy, max_bytes=max_bytes, tlp=tlp)


def _actorpack(path: Path, *, taxonomy: Taxonomy, max_bytes: int = MAX_PACK_BYTES,
               tlp: str | None = None) -> ParsedActorPack:
    return read_actorpack(path, taxonomy=taxonomy, max_bytes=max_bytes)   # actors carry no TLP


def _named(*suffixes: str) -> Callable[[Path], bool]:
    def claims(path: Path) -> bool:
        return path.name.lower().endswith(suffixes)

    return claims


def _is_actorpack(path: Path) -> bool:
    name = path.name.lower()
    return ".actorpack." in name or name.startswith("actorpack.")


def _is_etherscan_csv(path: Path) -> bool:
    if not path.name.lower().endswith((".csv", ".csv.gz")):
        return False
    with path.open("rb") as f:
        return b"Address,Name Tag" in f.readline(4096)


IMPORTERS: Registry[TagImporter] = Registry("tag importer")
for _imp in (
    TagImporter("actorpack", _actorpack, _is_actorpack),
    TagImporter("tagpack", _tagpack, _named(".yaml", ".yml", ".yaml.gz", ".yml.gz")),
    TagImporter("ofac", read_ofac_list, lambda path: _OFAC_RE.match(path.name) is not None),
    TagImporter("etherscan-json", read_etherscan_json, _named(".json", ".json.gz")),
    TagImporter("etherscan-csv", read_etherscan_csv, _is_etherscan_csv),
    TagImporter("csv", read_csv_tags, _named(".csv", ".csv.gz")),
):
    IMPORTERS.add(_imp.name, _imp)

_SUFFIXES = (".yaml", ".yml", ".yaml.gz", ".yml.gz", ".txt", ".txt.gz", ".json", ".json.gz", ".csv", ".csv.gz")


def detect_importer(path: Path) -> str:
    """The first registered importer (in registration order) that claims the file, by its name (and a CSV's
    header line); ``actorpack`` for ActorPacks."""
    for name, importer in IMPORTERS.items():
        if importer.claims(path):
            return name
    raise InvalidInput(f"{path}: unknown tag file type; expected TagPack .yaml[.gz], an ActorPack, OFAC "
                       "sanctioned_addresses_<ASSET>.txt, Etherscan labels .json[.gz]/.csv, or a tag .csv",
                       file=str(path), value=path.name)


def discover_files(paths: list[Path]) -> list[Path]:
    """Files to import: files as given; directories searched recursively for known suffixes, sorted."""
    return [f for f, _ in discover_named(paths)]


def discover_named(paths: list[Path]) -> list[tuple[Path, str]]:
    """As :func:`discover_files`, each with the portable name its pack is stored under: the file name for a
    file given, the path relative to the directory given (``packs/ransomware.yaml``) for a file found in it;
    never the absolute path, which names a directory of this machine only."""
    out: list[tuple[Path, str]] = []
    for p in paths:
        if p.is_dir():
            out += [(f, f.relative_to(p).as_posix()) for f in sorted(
                f for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(_SUFFIXES)
                and not f.name.startswith(".") and "taxonomy" not in f.relative_to(p).parts
                and not f.name.endswith("_schema.yaml"))]
        elif p.is_file():
            out.append((p, p.name))
        else:
            raise InvalidInput(f"{p}: no such file or directory", file=str(p))
    return out


def _parse_one(path: Path, kind: str, max_bytes: int, tlp: str | None) -> ParsedPack | ParsedActorPack:
    return IMPORTERS.get(kind).read(path, taxonomy=Taxonomy.packaged(), max_bytes=max_bytes, tlp=tlp)


def parse_files(jobs: list[tuple[Path, str]], *, max_bytes: int = MAX_PACK_BYTES, tlp: str | None = None,
                workers: int = 1) -> Iterator[tuple[Path, ParsedPack | ParsedActorPack]]:
    """Parse (path, importer) jobs, yielding results in job order; the first failing file raises when its
    turn comes (files before it have been yielded). With ``workers > 1`` files are parsed ahead in worker
    processes while the caller stores the earlier ones; pending work is cancelled on error or early exit."""
    if workers <= 1 or len(jobs) < 2:
        for path, kind in jobs:
            yield path, _parse_one(path, kind, max_bytes, tlp)
        return
    # spawn, not fork: the caller holds a DuckDB connection with its own threads, and forking a
    # multi-threaded process can deadlock the child
    ex = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures: list[Future[ParsedPack | ParsedActorPack]] = [
            ex.submit(_parse_one, path, kind, max_bytes, tlp) for path, kind in jobs]
        for (path, _), fut in zip(jobs, futures, strict=True):
            yield path, fut.result()
    finally:
        ex.shutdown(wait=True, cancel_futures=True)
