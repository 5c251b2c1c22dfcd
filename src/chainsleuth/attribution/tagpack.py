"""GraphSense TagPack YAML (plain or .gz) -> :class:`ParsedPack`, validated like GraphSense's tagpack-tool.

A TagPack is a YAML mapping: header fields (``title``, ``creator``, ``description``, ``is_public``) plus
defaults for any tag field, and ``tags:``, a list of tags. A tag field set on a tag overrides the header
default; absent, it inherits the header's (:func:`parse_tagpack`). Fields and their types come from the
schema in ``taxonomy/tagpack_schema.yaml``; ``category``/``abuse``/``concepts`` must be concepts of the
taxonomy, ``confidence`` a confidence id, ``tag_type`` a tag type.

What the TagPack tool rejects, we reject (the whole pack, naming file, line, field and the allowed values):
a missing mandatory field, a field the schema does not know, an empty value, a wrong type, a value outside
its taxonomy, both or neither of ``address``/``tx_hash``; also a value over its length limit
(:data:`FIELD_LIMITS`), a date that does not exist, and what the YAML reader refuses (aliases, duplicate
keys, too many nodes, :mod:`~chainsleuth.attribution.safety`). Tags of a currency or network that is no
known ticker are skipped with a warning. What it only warns about, we import and report:
tags without an actor, a missing confidence (set to the lowest level, ``unknown``), addresses with
surrounding whitespace (stripped), addresses that fail their checksum (kept as written), token tickers
used as the network, duplicate tags (merged: same identifier, currency, network, label and source).

Parsing: the tag list of a pack is nearly always a block sequence of one-line ``key: scalar`` fields. A
line scanner reads that form directly (several times faster than a YAML parser, and it knows every tag's
line); anything else in a tag (multi-line or flow values, comments, anchors) is handed to the YAML parser
for that tag alone, and a document the scanner does not recognise goes to the YAML parser whole. Both
paths give the same values (a test compares them on every shared pack).
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from yaml.resolver import Resolver

from chainsleuth.attribution.addresses import (
    chain_for,
    evm_checksum_problem,
    is_evm_chain,
    known_currency,
    normalise_address,
    problem_checker,
)
from chainsleuth.attribution.records import TAG_SCHEMA, PackIssue, ParsedActorPack, ParsedPack
from chainsleuth.attribution.safety import MAX_PACK_BYTES, load_yaml, read_text_limited
from chainsleuth.attribution.taxonomy import Taxonomy
from chainsleuth.errors import InvalidInput

__all__ = ["DEFAULT_TLP", "FIELD_LIMITS", "MAX_FIELD_CHARS", "MAX_LIST_ITEMS", "build_pack", "parse_actorpack", "parse_tagpack", "read_actorpack", "read_tagpack", "scan_tagpack",
           "yaml_tagpack"]

#: Sharing level given to imported tags whose pack does not say ``is_public: true`` (then ``clear``).
DEFAULT_TLP = "amber"
#: Schema errors listed in one refusal before the rest are counted only.
_MAX_ERRORS = 20
#: Tags with the same address above which the TagPack tool suggests aggregating them.
_SAME_ADDRESS_WARN = 100
_COMPLEX = object()
#: Longest text a field may hold, in characters (the shared packs' longest label is 214); a pack with a longer
#: value is refused, naming the field and its line. ``context`` counts its JSON text.
MAX_FIELD_CHARS = 2_000
FIELD_LIMITS: dict[str, int] = {"source": 4_000, "description": 20_000, "context": 65_536, "address": 256,
                                "tx_hash": 256, "currency": 32, "network": 32}
#: Most items in a list field (``concepts``).
MAX_LIST_ITEMS = 64


# ----------------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------------
def read_tagpack(path: str | Path, *, taxonomy: Taxonomy | None = None, max_bytes: int = MAX_PACK_BYTES,
                 uri: str | None = None, tlp: str | None = None) -> ParsedPack:
    """Read and validate one TagPack file (``.yaml``, ``.yml`` or either gzipped). The pack is named
    ``uri`` (default: the file name; never a local path, which would not mean anything elsewhere)."""
    p = Path(path)
    text, ident = read_text_limited(p, max_bytes)
    pack = parse_tagpack(text, file=str(p), uri=uri or p.name, content_hash=ident.content_hash,
                         taxonomy=taxonomy or Taxonomy.packaged(), tlp=tlp)
    return dataclasses.replace(pack, sha256=ident.sha256)


def parse_tagpack(text: str, *, file: str, uri: str, content_hash: str, taxonomy: Taxonomy,
                  tlp: str | None = None) -> ParsedPack:
    """Validate TagPack text and return its tags as an Arrow table (see the module doc for the rules)."""
    scanned = scan_tagpack(text, file=file)
    header, header_lines, items = scanned if scanned is not None else yaml_tagpack(text, file=file)
    return _build(header, header_lines, items, file=file, uri=uri, content_hash=content_hash, taxonomy=taxonomy,
                  tlp=tlp, locate=_locator(text))


def _locator(text: str) -> Callable[[int, str], int]:
    """(tag line, field) -> the line of that field in the tag, for error messages (computed on demand)."""
    cache: list[list[str]] = []

    def locate(line: int, field: str) -> int:
        if not cache:
            cache.append(text.split("\n"))
        lines = cache[0]
        start = line - 1
        if not 0 <= start < len(lines):
            return line
        indent = len(lines[start]) - len(lines[start].lstrip(" "))
        for j in range(start, min(len(lines), start + 500)):
            s = lines[j]
            body = s.lstrip(" ")
            if j > start and body and (len(s) - len(body)) <= indent and body.startswith("- "):
                break
            if body.removeprefix("- ").startswith(f"{field}:"):
                return j + 1
        return line

    return locate


# ----------------------------------------------------------------------------------------------------
# the two parsers: fast line scanner and the YAML parser (with line numbers)
# ----------------------------------------------------------------------------------------------------
_RESOLVERS = Resolver.yaml_implicit_resolvers
_TAGS_LINE = re.compile(r"^tags:[ \t]*(?:#.*)?$", re.M)
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INDICATORS = frozenset("-?:,[]{}#&*!|>%@`'\"")
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}


def _scalar(v: str) -> Any:
    """A one-line YAML scalar with SafeLoader's meaning, or _COMPLEX when the YAML parser must decide."""
    if not v:
        return _COMPLEX
    c = v[0]
    if c == "'":
        if len(v) >= 2 and v[-1] == "'":
            inner = v[1:-1]
            if "'" not in inner.replace("''", ""):
                return inner.replace("''", "'")
        return _COMPLEX
    if c == '"':
        if len(v) >= 2 and v[-1] == '"' and "\\" not in v and '"' not in v[1:-1]:
            return v[1:-1]
        return _COMPLEX
    if c in _INDICATORS or " #" in v or ": " in v or "\t" in v or v[-1] == ":":
        return _COMPLEX
    v = v.rstrip(" ")
    b = _BOOLS.get(v)
    if b is not None:
        return b
    for tag, regexp in _RESOLVERS.get(c, ()):
        if regexp.match(v):
            return _COMPLEX if tag != "tag:yaml.org,2002:str" else v
    return v


def scan_tagpack(text: str, *, file: str) -> tuple[dict[str, Any], dict[str, int], list[tuple[int, dict[str, Any]]]] | None:
    """The fast path: (header, header key -> line, [(line, tag fields)]), or None when the document is not
    in the plain block form it reads (the caller then uses :func:`yaml_tagpack`)."""
    m = _TAGS_LINE.search(text)
    if m is None:
        return None
    lines = text[m.end():].split("\n")
    first_line = text.count("\n", 0, m.end()) + 2          # 1-based line of lines[1]
    # indentation of the sequence: the first non-blank, non-comment line
    indent = None
    for ln in lines[1:]:
        s = ln.lstrip(" ")
        if s and not s.startswith("#"):
            indent = len(ln) - len(s)
            if not s.startswith("- "):
                return None
            break
    if indent is None:
        return None
    item_prefix = " " * indent + "- "
    field_prefix = " " * (indent + 2)
    items: list[tuple[int, dict[str, Any]]] = []
    cur: dict[str, Any] | None = None
    cur_start = 0
    complex_item = False
    list_key: str | None = None
    end = len(lines)
    for i in range(1, len(lines)):
        ln = lines[i]
        if ln.startswith(item_prefix):
            if cur is not None:
                items.append((cur_start, cur) if not complex_item else (cur_start, {"__raw__": (cur_start, i)}))
            cur, cur_start, complex_item, list_key = {}, i, False, None
            body = ln[len(item_prefix):]
        elif ln.startswith(field_prefix) and cur is not None:
            body = ln[len(field_prefix):]
            if body.startswith("- ") and list_key is not None:
                val = _scalar(body[2:].strip())
                if val is _COMPLEX or not isinstance(val, str):
                    complex_item = True
                else:
                    cur[list_key].append(val)
                continue
            if body.startswith((" ", "#")):
                complex_item = True
                continue
        else:
            st = ln.strip()
            if not st or st.startswith("#"):
                continue
            if ln.startswith(" "):                            # deeper or odd indentation: YAML decides
                if cur is None:
                    return None
                complex_item = True
                continue
            end = i                                           # a top-level key after the tag list
            break
        if complex_item:
            continue
        key, sep, val_text = body.partition(": ")
        if not sep:
            if body.endswith(":") and _KEY_RE.match(body[:-1]):
                list_key = body[:-1]
                if list_key in cur:
                    complex_item = True
                cur[list_key] = []
                continue
            complex_item = True
            continue
        if not _KEY_RE.match(key) or key in cur:
            complex_item = True
            continue
        list_key = None
        val = _scalar(val_text.strip(" "))
        if val is _COMPLEX:
            complex_item = True
            continue
        cur[key] = val
    if cur is not None:
        items.append((cur_start, cur) if not complex_item else (cur_start, {"__raw__": (cur_start, end)}))
    # the header: everything outside the tag list, parsed by YAML (small)
    rest = "\n".join(lines[end:]) if end < len(lines) else ""
    header_text = text[:m.start()] + rest
    header, header_lines = _yaml_header(header_text, file=file, rest_offset=(first_line - 2 + end, m.start()))
    if "tags" in header:
        return None
    out: list[tuple[int, dict[str, Any]]] = []
    for start, fields in items:
        if "__raw__" in fields:
            a, b = fields["__raw__"]
            chunk = "\n".join(lines[a:b]) + "\n"
            loaded = load_yaml(chunk, file=file, first_line=first_line - 1 + a, what=" in a tag")[1]
            if not (isinstance(loaded, list) and len(loaded) == 1):
                return None
            fields = loaded[0]
        out.append((first_line - 1 + start, fields))
    return header, header_lines, out


def _yaml_header(text: str, *, file: str, rest_offset: tuple[int, int]) -> tuple[dict[str, Any], dict[str, int]]:
    node, data = load_yaml(text, file=file, what=" in the header")
    if node is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput(f"{file}: a TagPack must be a YAML mapping with a 'tags' list", file=file, line=1)
    lines: dict[str, int] = {}
    if node is not None and isinstance(node, yaml.MappingNode):
        tags_line0, tags_char = rest_offset
        before = text[:tags_char].count("\n")
        for k, _v in node.value:
            ln = k.start_mark.line
            lines[str(k.value)] = ln + 1 if ln < before else ln + 1 + (tags_line0 - before)
    return data, lines


def yaml_tagpack(text: str, *, file: str) -> tuple[dict[str, Any], dict[str, int], list[tuple[int, dict[str, Any]]]]:
    """The full YAML path with line numbers (for documents the scanner does not read)."""
    node, data = load_yaml(text, file=file)
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise InvalidInput(f"{file}: a TagPack must be a YAML mapping with a 'tags' list", file=file, line=1)
    header_lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value if k.value != "tags"}
    tags = data.pop("tags", None)
    tag_node = next((v for k, v in node.value if k.value == "tags"), None)
    if not isinstance(tags, list) or not isinstance(tag_node, yaml.SequenceNode):
        raise InvalidInput(f"{file}: mandatory header field 'tags' is missing or not a list", file=file,
                           line=header_lines.get("tags", 1), field="tags")
    items = [(n.start_mark.line + 1, t) for n, t in zip(tag_node.value, tags, strict=True)]
    return data, header_lines, items


# ----------------------------------------------------------------------------------------------------
# validation and the Arrow table
# ----------------------------------------------------------------------------------------------------
def _to_seconds(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.UTC).replace(tzinfo=None)
        return calendar.timegm(v.timetuple())
    if isinstance(v, dt.date):
        return calendar.timegm(v.timetuple())
    if isinstance(v, str):  # quoted dates, as the TagPack tool accepts them
        try:
            return _to_seconds(dt.datetime.fromisoformat(v.strip()))
        except ValueError:
            return None
    return None


class _Checker:
    """Type and taxonomy checks of one field value; returns an error message or None."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.tax = taxonomy
        schema = taxonomy.tagpack_schema
        self.header_fields = dict(schema["header"])
        self.tag_fields = dict(schema["tag"])
        self.mandatory_header = [k for k, v in self.header_fields.items() if v.get("mandatory")]
        # address/tx_hash are checked as a pair; network defaults to currency (as the TagPack tool does)
        self.mandatory_tag = [k for k, v in self.tag_fields.items() if v.get("mandatory") and k not in
                              ("network", "confidence")]
        self._ok: set[tuple[str, Any]] = set()
        self._plain_text = frozenset(k for k, v in {**self.header_fields, **self.tag_fields}.items()
                                     if v.get("type") == "text" and not v.get("taxonomy"))

    def check(self, name: str, value: Any) -> str | None:
        if value is None:
            return "must not be empty (null)"
        limit = FIELD_LIMITS.get(name, MAX_FIELD_CHARS)
        if name == "context" and isinstance(value, dict):  # YAML context is stored as JSON (as the tool does)
            n = len(json.dumps(value, default=str))
            return f"is {n:,} characters as JSON, over the limit of {limit:,}" if n > limit else None
        if isinstance(value, str) and len(value) > limit:
            return f"is {len(value):,} characters long, over the limit of {limit:,}"
        if isinstance(value, list) and len(value) > MAX_LIST_ITEMS:
            return f"has {len(value):,} items, over the limit of {MAX_LIST_ITEMS}"
        if name in self._plain_text:  # the common case, without taxonomy: non-empty text
            return None if type(value) is str and value.strip() else self._slow(name, value)
        return self._slow(name, value)

    def _slow(self, name: str, value: Any) -> str | None:
        try:
            key = (name, value)
            if key in self._ok:
                return None
        except TypeError:
            key = None
        d = self.tag_fields.get(name) or self.header_fields.get(name) or {}
        t = d.get("type")
        msg: str | None = None
        if t == "text":
            if not isinstance(value, str):
                msg = f"must be text, not {type(value).__name__}"
            elif not value.strip():
                msg = "must not be empty"
        elif t == "boolean" and not isinstance(value, bool):
            msg = "must be true or false"
        elif t == "datetime" and _to_seconds(value) is None:
            msg = f"must be a date or datetime (YYYY-MM-DD[ HH:MM:SS]), not {_shown(value)}"
        elif t == "list" and not (isinstance(value, list) and all(isinstance(x, str) for x in value)):
            msg = "must be a list of text"
        if msg is None:
            msg = self._taxonomy(name, d.get("taxonomy"), value)
        if msg is None and key is not None:
            self._ok.add(key)
        return msg

    def _taxonomy(self, name: str, taxonomy: Any, value: Any) -> str | None:
        if not taxonomy:
            return None
        values = value if isinstance(value, list) else [value]
        if taxonomy == "confidence":
            bad = [v for v in values if v not in self.tax.confidence]
            return (f"unknown confidence {bad[0]!r}; allowed: {self.tax.confidence_choices()}" if bad else None)
        if taxonomy == "tag_type":
            bad = [v for v in values if v not in self.tax.tag_types]
            return (f"unknown tag type {bad[0]!r}; allowed: {', '.join(sorted(self.tax.tag_types))}"
                    if bad else None)
        bad = [v for v in values if v not in self.tax.concepts]
        return f"unknown {name} {bad[0]!r}; allowed: {self.tax.concept_choices()}" if bad else None


def _shown(value: Any) -> str:
    r = repr(value)
    return r if len(r) <= 80 else r[:77] + "..."


def build_pack(header: dict[str, Any], items: list[tuple[int, dict[str, Any]]], *, kind: str, file: str, uri: str,
               content_hash: str, taxonomy: Taxonomy, tlp: str | None = None,
               header_lines: dict[str, int] | None = None) -> ParsedPack:
    """Validate header + (line, tag fields) items by the TagPack rules and build the pack. The other
    importers (OFAC, Etherscan, CSV) describe their rows as TagPack fields and use this too."""
    pack = _build(header, header_lines or {}, items, file=file, uri=uri, content_hash=content_hash,
                  taxonomy=taxonomy, tlp=tlp)
    return dataclasses.replace(pack, kind=kind)


def _build(header: dict[str, Any], header_lines: dict[str, int], items: list[tuple[int, dict[str, Any]]], *,
           file: str, uri: str, content_hash: str, taxonomy: Taxonomy, tlp: str | None,
           locate: Callable[[int, str], int] = lambda line, field: line) -> ParsedPack:
    ck = _Checker(taxonomy)
    errors: list[PackIssue] = []
    warnings: list[PackIssue] = []

    def err(line: int | None, field: str | None, value: Any, message: str) -> None:
        if len(errors) < _MAX_ERRORS:
            errors.append(PackIssue("error", file, line, field, value, message))
        else:
            errors.append(PackIssue("error", file, line, field, None, ""))

    def warn(line: int | None, field: str | None, value: Any, message: str) -> None:
        warnings.append(PackIssue("warning", file, line, field, value, message))

    # header
    for f in ck.mandatory_header:
        if f != "tags" and f not in header:
            err(1, f, None, "mandatory header field is missing")
    defaults: dict[str, Any] = {}
    for f, v in header.items():
        if not isinstance(f, str):
            f = "null" if f is None else str(f)
        line = header_lines.get(f)
        if f not in ck.header_fields and f not in ck.tag_fields:
            err(line, f, v, "is not allowed in the header; allowed: "
                            f"{', '.join(sorted(set(ck.header_fields) | set(ck.tag_fields)))}")
            continue
        msg = ck.check(f, v)
        if msg:
            err(line, f, v, msg)
        if f in ck.tag_fields:
            defaults[f] = v
    if "is_public" in header:
        warn(header_lines.get("is_public"), "is_public", header["is_public"],
             "is_public is deprecated in the TagPack format; kept as the pack's sharing level (TLP)")
    if "confidence" not in defaults and any("confidence" not in t for _, t in items):
        lowest = min(taxonomy.confidence.values(), key=lambda c: (c.level, c.id)).id
        defaults["confidence"] = lowest
        warn(None, "confidence", None, f"not every tag has a confidence; the pack default is set to the lowest, "
                                       f"{lowest!r}, as the TagPack tool does")
    if "network" not in defaults and "currency" in defaults:
        defaults["network"] = defaults["currency"]

    allowed = ck.tag_fields
    tag_mandatory = [f for f in ck.mandatory_tag if f not in defaults]
    for line, t in items:
        if not isinstance(t, dict):
            err(line, None, t, "a tag must be a mapping of fields")
            continue
        for f, v in t.items():
            if not isinstance(f, str):   # a key YAML reads as null, a number, a date: named as written
                f = "null" if f is None else str(f)
            if f not in allowed:
                err(locate(line, f), f, v, f"is not allowed in a tag; allowed: {', '.join(sorted(allowed))}")
                continue
            msg = ck.check(f, v)
            if msg:
                err(locate(line, f), f, v, msg)
        for f in tag_mandatory:
            if f not in t:
                err(line, f, None, "mandatory tag field is missing")
        has_a = t.get("address", defaults.get("address")) is not None
        has_t = t.get("tx_hash", defaults.get("tx_hash")) is not None
        if has_a == has_t:
            err(line, "address", None, "a tag needs exactly one of 'address' and 'tx_hash'")
    if errors:
        n = len(errors)
        first = errors[0]
        listed = [e for e in errors if e.message][:_MAX_ERRORS]
        raise InvalidInput(
            f"{first}" + (f" (and {n - 1} more problem(s))" if n > 1 else ""),
            file=file, line=first.line, field=first.field, value=first.value,
            problems=[str(e).split("; allowed: ")[0] for e in listed])

    items = _known_currencies(items, defaults, warn, locate, header_lines)
    return _table(header, defaults, items, warn, warnings, file=file, uri=uri, content_hash=content_hash,
                  taxonomy=taxonomy, tlp=tlp)


def _known_currencies(items: list[tuple[int, dict[str, Any]]], defaults: dict[str, Any], warn: Callable[..., None],
                      locate: Callable[[int, str], int], header_lines: dict[str, int]
                      ) -> list[tuple[int, dict[str, Any]]]:
    """Tags whose currency and network are known tickers; the others are skipped with one warning per
    unknown ticker (a typo such as DOGECOINZ must not create a chain of its own)."""
    known: dict[str, bool] = {}
    bad: dict[tuple[str, str], list[int]] = {}
    keep: list[tuple[int, dict[str, Any]]] = []
    for line, t in items:
        ok = True
        for f in ("currency", "network"):
            v = t.get(f, defaults.get(f))
            if v is None:
                continue
            k = str(v)
            hit = known.get(k)
            if hit is None:
                hit = known[k] = known_currency(k)
            if not hit:
                bad.setdefault((f, k), []).append(locate(line, f) if f in t else header_lines.get(f, line))
                ok = False
                break
        if ok:
            keep.append((line, t))
    for (f, k), lines in bad.items():
        warn(lines[0], f, k, f"unknown {f} {k!r} (not in taxonomy/currencies.csv): {len(lines)} tag(s) skipped"
                             + (f", first at line {lines[0]}" if len(lines) > 1 else ""))
    return keep


def _table(header: dict[str, Any], defaults: dict[str, Any], items: list[tuple[int, dict[str, Any]]],
           warn: Callable[..., None], warnings: list[PackIssue], *, file: str, uri: str, content_hash: str,
           taxonomy: Taxonomy, tlp: str | None) -> ParsedPack:
    """Column by column: a field no tag sets is the header's value repeated (most packs set 2-3 per tag)."""
    pack_tlp = tlp or ("clear" if header.get("is_public") is True else DEFAULT_TLP)
    creator = str(header.get("creator", ""))
    n0 = len(items)
    present: set[str] = set()
    for _, t in items:
        present.update(t)
    tags = [t for _, t in items]
    lines = [ln for ln, _ in items]

    def col(f: str, default: Any = None) -> list[Any]:
        dflt = defaults.get(f, default)
        if f not in present:
            return [dflt] * n0
        return [t.get(f, dflt) for t in tags]

    currency = col("currency")
    network = col("network")
    if "network" not in defaults:  # a tag's network defaults to its own currency
        network = [nw if nw is not None else cu for nw, cu in zip(network, currency, strict=True)]
    address = col("address")
    tx_hash = col("tx_hash")
    raw = [str(a if a is not None else h) for a, h in zip(address, tx_hash, strict=True)]
    chain_cache: dict[tuple[Any, Any], str | None] = {}
    chains: list[str] = []
    for cu, nw, r in zip(currency, network, raw, strict=True):
        k = (cu, nw)
        c = chain_cache.get(k, "")
        if c == "":
            probe = chain_for(cu, nw, None)
            c = chain_cache[k] = probe if probe == chain_for(cu, nw, "0x" + "0" * 40) else None
        chains.append(c if c is not None else chain_for(cu, nw, r))
    subject = ["address" if a is not None else "tx" for a in address]
    if tx_hash.count(None) == n0 and len(set(chains)) == 1 and is_evm_chain(chains[0]):  # the common EVM pack
        ident = [r.strip().lower() for r in raw]
    else:
        ident = [normalise_address(c, r) if s == "address" else r.strip().lower()
                 for c, r, s in zip(chains, raw, subject, strict=True)]
    label = [str(x).strip() for x in col("label", "")]
    source = [str(x) for x in col("source", "")]
    # duplicates: same identifier, currency, network, label and source (the TagPack tool's rule), merged
    keys = list(zip([i.lower() for i in ident], [str(x or "").lower() for x in currency],
                    [str(x or "").lower() for x in network], [x.lower() for x in label], [x.lower() for x in source],
                    strict=True))
    for i in range(n0):
        if subject[i] == "address" and raw[i] != raw[i].strip():
            warn(lines[i], "address", raw[i], "address has surrounding whitespace; stripped")
    keep = list(range(n0))
    dups = 0
    if len(set(keys)) != n0:
        seen: dict[tuple[str, ...], int] = {}
        keep = []
        for i, k in enumerate(keys):
            if k in seen:
                dups += 1
                warn(lines[i], "address" if subject[i] == "address" else "tx_hash", raw[i],
                     f"duplicate of the tag at line {lines[seen[k]]} (same identifier, currency, network, label "
                     "and source): merged")
            else:
                seen[k] = i
                keep.append(i)
    # address flaws the TagPack tool warns about: whitespace, checksum
    checkers: dict[str, Callable[[str], str | None] | None] = {}
    for i in keep:
        if subject[i] != "address":
            continue
        c = chains[i]
        check = checkers[c] if c in checkers else checkers.setdefault(c, problem_checker(c))
        if check is None:
            continue
        problem = check(ident[i])
        if problem:
            warn(lines[i], "address", ident[i], f"possibly invalid address: {problem}; kept as written")
        elif raw[i][:2] == "0x" and (why := evm_checksum_problem(raw[i].strip())):
            warn(lines[i], "address", raw[i].strip(), f"possibly invalid address: {why}; kept (lower-cased)")
    category = col("category")
    abuse = col("abuse")
    concepts_in = col("concepts")
    concepts: list[list[str]] = []
    for cs, ab, ca in zip(concepts_in, abuse, category, strict=True):
        out = list(cs or [])
        if ab and ab not in out:
            out.append(ab)
        if ca and ca not in out:
            out.append(ca)
        concepts.append(out)
    actor = col("actor")
    confidence = col("confidence")
    conf_level = {k: v.level for k, v in taxonomy.confidence.items()}
    lm_cache: dict[Any, int | None] = {}

    def secs(v: Any) -> int | None:
        try:
            if v not in lm_cache:
                lm_cache[v] = _to_seconds(v)
            return lm_cache[v]
        except TypeError:
            return _to_seconds(v)

    lastmod = [secs(v) for v in col("lastmod")]
    context: list[Any] = []
    tlps: list[str] = []
    for c in col("context"):
        if isinstance(c, dict):
            c = json.dumps(c, default=str, sort_keys=True)
        t = pack_tlp
        if c and '"tlp"' in c:
            try:
                v = json.loads(c).get("tlp")
                if isinstance(v, str):
                    t = v.lower()
            except (ValueError, AttributeError):
                pass
        context.append(c)
        tlps.append(t)
    icd = [bool(x) for x in col("is_cluster_definer", False)]
    cols: dict[str, list[Any]] = {
        "chain": chains, "subject": subject, "identifier": ident, "label": label, "category": category,
        "abuse": abuse, "concepts": concepts, "actor": actor, "source": source, "creator": [creator] * n0,
        "confidence": confidence, "confidence_level": [conf_level.get(c) for c in confidence],
        "lastmod": lastmod, "is_cluster_definer": icd, "tlp": tlps, "context": context,
        "tag_type": col("tag_type"),
        "currency": [None if x is None else str(x) for x in currency],
        "network": [None if x is None else str(x) for x in network], "line": lines,
    }
    if dups:
        cols = {k: [v[i] for i in keep] for k, v in cols.items()}
    n = len(keep)
    no_actor = sum(1 for a in cols["actor"] if a is None)
    if no_actor:
        warn(None, "actor", None, f"{no_actor}/{n} tags have no actor")
    token_net: dict[str, int] = {}
    for nw in cols["network"]:
        if nw is not None and nw.upper() in ("USDT", "USDC", "DAI", "BUSD"):
            token_net[nw.upper()] = token_net.get(nw.upper(), 0) + 1
    for net, cnt in token_net.items():
        warn(None, "network", net, f"{cnt} tag(s) have network {net}, a token, not a chain; the chain is "
                                   "inferred from the address form")
    per_address: dict[str, int] = {}
    for a in cols["identifier"]:
        per_address[a] = per_address.get(a, 0) + 1
    for a, cnt in per_address.items():
        if cnt > _SAME_ADDRESS_WARN:
            warn(None, "address", a, f"{cnt} tags with the same address; consider aggregating them")
    table = pa.table(cols, schema=TAG_SCHEMA)
    return ParsedPack(kind="tagpack", uri=uri, content_hash=content_hash, title=str(header.get("title", "")),
                      creator=creator, description=str(header.get("description", "") or ""),
                      is_public=header.get("is_public") if isinstance(header.get("is_public"), bool) else None,
                      tags=table, issues=tuple(warnings), duplicates_merged=dups,
                      header={k: v for k, v in header.items() if k != "tags"})


# ----------------------------------------------------------------------------------------------------
# ActorPacks
# ----------------------------------------------------------------------------------------------------
def read_actorpack(path: str | Path, *, taxonomy: Taxonomy | None = None,
                   max_bytes: int = MAX_PACK_BYTES) -> ParsedActorPack:
    p = Path(path)
    text, ident = read_text_limited(p, max_bytes)
    pack = parse_actorpack(text, file=str(p), content_hash=ident.content_hash, taxonomy=taxonomy or Taxonomy.packaged())
    return dataclasses.replace(pack, uri=p.name, sha256=ident.sha256)


def _item_lines(text: str, key: str, n: int) -> list[int | None]:
    """1-based lines of the ``n`` items of the top-level block list ``key`` (a text scan; Nones when the list
    is not in plain block form)."""
    m = re.search(rf"^{re.escape(key)}:[ \t]*$", text, re.M)
    if m is None:
        return [None] * n
    first = text.count("\n", 0, m.end()) + 2
    body = text[m.end() + 1:].split("\n")
    item = next((ln[: len(ln) - len(ln.lstrip(" "))] + "- " for ln in body if ln.lstrip(" ").startswith("- ")), None)
    if item is None:
        return [None] * n
    out: list[int | None] = [first + i for i, ln in enumerate(body) if ln.startswith(item)]
    return out if len(out) == n else [None] * n


def parse_actorpack(text: str, *, file: str, content_hash: str, taxonomy: Taxonomy) -> ParsedActorPack:
    """An ActorPack: header (title, creator) and ``actors:``, each with id, uri, label, lastmod, categories
    (concepts), jurisdictions (country codes), context (JSON text) and aliases."""
    from chainsleuth.attribution.records import ACTOR_SCHEMA

    data = load_yaml(text, file=file)[1]
    if not isinstance(data, dict) or not isinstance(data.get("actors"), list):
        raise InvalidInput(f"{file}: an ActorPack must be a mapping with an 'actors' list", file=file, field="actors")
    lines = _item_lines(text, "actors", len(data["actors"]))
    schema = taxonomy.actorpack_schema
    errors: list[str] = []
    for f, d in schema["header"].items():
        if d.get("mandatory") and f not in data:
            errors.append(f"{file}:1: mandatory header field {f!r} is missing")
    cols: dict[str, list[Any]] = {n: [] for n in ACTOR_SCHEMA.names}
    issues: list[PackIssue] = []
    seen: set[str] = set()
    inherited = {k: v for k, v in data.items() if k != "actors" and k in schema["actor"]}
    for line, a0 in zip(lines, data["actors"], strict=True):
        if not isinstance(a0, dict):
            errors.append(f"{file}:{line}: an actor must be a mapping")
            continue
        a = {**inherited, **a0}
        for f, d in schema["actor"].items():
            if d.get("mandatory") and a.get(f) is None:
                errors.append(f"{file}:{line}: field {f!r}: mandatory actor field is missing")
        for f in a0:
            if f not in schema["actor"]:
                errors.append(f"{file}:{line}: field {f!r} is not allowed in an actor; allowed: "
                              f"{', '.join(sorted(schema['actor']))}")
        cats = [str(c) for c in a.get("categories") or []]
        for c in cats:
            if c not in taxonomy.concepts:  # the TagPack tool refuses this; an actor is context, so we warn
                issues.append(PackIssue("warning", file, line, "categories", c, "unknown concept; kept as written"))
        jur = [str(j) for j in a.get("jurisdictions") or []]
        for j in jur:
            if j not in taxonomy.countries:
                issues.append(PackIssue("warning", file, line, "jurisdictions", j, "unknown country code"))
        aid = str(a.get("id", ""))
        if aid in seen:
            issues.append(PackIssue("warning", file, line, "id", aid, "duplicate actor id: first kept"))
            continue
        seen.add(aid)
        ctx = a.get("context")
        cols["actor_id"].append(aid)
        cols["label"].append(str(a.get("label", "")))
        cols["uri"].append(None if a.get("uri") is None else str(a.get("uri")))
        cols["categories"].append(cats)
        cols["jurisdictions"].append(jur)
        cols["aliases"].append([str(x) for x in a.get("aliases") or []])
        cols["context"].append(ctx if isinstance(ctx, str) or ctx is None else json.dumps(ctx, default=str))
        cols["lastmod"].append(_to_seconds(a.get("lastmod")))
        cols["line"].append(line)
        if len(errors) > _MAX_ERRORS:
            break
    if errors:
        raise InvalidInput(errors[0] + (f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""),
                           file=file, problems=[e.split("; allowed: ")[0] for e in errors[:_MAX_ERRORS]])
    return ParsedActorPack(uri=file, content_hash=content_hash, title=str(data.get("title", "")),
                           creator=str(data.get("creator", "")), actors=pa.table(cols, schema=ACTOR_SCHEMA),
                           issues=tuple(issues))
