"""Reading untrusted pack files with bounded resources.

- **Size** (:func:`read_text_limited`, :func:`pack_identity`): a file over the limit is refused before it is
  read (its size on disk), a gzip file is decompressed in 1 MiB steps and refused as soon as its content
  passes the limit, so neither a large file nor a gzip bomb reaches memory beyond the limit.
- **YAML** (:func:`load_yaml`): PyYAML's C parser produces the events; our own composer builds the nodes and
  refuses, with the file and line, any alias (``*name``: TagPacks use none, and aliases are how a 600-byte
  "billion laughs" document expands to 10^8 nodes, whether under ``context:``, behind ``!!seq`` or anywhere
  else), duplicate keys in a mapping (PyYAML keeps the last silently), more than :data:`MAX_YAML_NODES` nodes
  and nesting deeper than :data:`MAX_YAML_DEPTH`. A date that does not exist (``2021-13-45``) is kept as text
  for the field check to refuse, instead of ending in a Python ``ValueError``.

>>> load_yaml("a: [1, 2]\\nb: x\\n", file="t.yaml")[1]
{'a': [1, 2], 'b': 'x'}
>>> load_yaml("a: &x [1, 2]\\nb: *x\\n", file="t.yaml")
Traceback (most recent call last):
...
chainsleuth.errors.InvalidInput: t.yaml:2: YAML alias '*x' refused: aliases are not accepted in packs (they can expand a small file into an enormous document) (file=t.yaml, line=2, field=yaml alias, value=x)
>>> load_yaml("label: a\\nlabel: b\\n", file="t.yaml")
Traceback (most recent call last):
...
chainsleuth.errors.InvalidInput: t.yaml:2: duplicate key 'label' (first at line 1); refused (file=t.yaml, line=2, field=label)
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.resolver import Resolver

from chainsleuth.errors import InvalidInput, ParseError

__all__ = ["MAX_PACK_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "PackIdentity", "load_yaml", "pack_identity",
           "read_text_limited"]

#: Largest pack accepted, in bytes of (decompressed) content; ``import_tags(max_bytes=)`` changes it. Parsing
#: holds about 20 bytes of Python objects per byte of pack (measured: a 32 MB TagPack peaks at about 0.7 GB),
#: so this bounds the memory of an import. The largest shared pack is 2.3 MB.
MAX_PACK_BYTES = 32 << 20
#: Most YAML nodes composed from one document (or one tag handed to the parser); each costs about 0.4 KB.
MAX_YAML_NODES = 1_000_000
#: Deepest nesting of YAML collections (TagPacks nest three deep; the composer recurses per level).
MAX_YAML_DEPTH = 64
_CHUNK = 1 << 20

try:   # libyaml's parser produces the events; our composer builds the nodes
    from yaml.cyaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None


def _too_big(path: Path, what: str, size: int | None, max_bytes: int) -> InvalidInput:
    shown = f" is {size:,} bytes," if size is not None else " is"
    return InvalidInput(f"{path}: {what}{shown} over the limit of {max_bytes:,} bytes; refused (a larger pack "
                        "needs a higher max_bytes)", file=str(path), field="size", value=size)


def _chunks(path: Path, max_bytes: int) -> Any:
    """The file's content in chunks (gunzipped when it ends in .gz), refused as soon as it passes
    ``max_bytes``; also yields the raw bytes read, for the file's own hash: (content chunk, raw chunk)."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise InvalidInput(f"{path}: cannot read: {e.strerror or e}", file=str(path)) from None
    gz = path.name.endswith(".gz")
    if size > max_bytes and not gz:
        raise _too_big(path, "file", size, max_bytes)
    total = 0
    d = zlib.decompressobj(16 + zlib.MAX_WBITS) if gz else None
    try:
        with path.open("rb") as f:
            while raw := f.read(_CHUNK):
                if d is None:
                    total += len(raw)
                    if total > max_bytes:   # the file grew after stat, or is not a regular file
                        raise _too_big(path, "file", None, max_bytes)
                    yield raw, raw
                    continue
                data, first = raw, True
                while data:
                    out = d.decompress(data, _CHUNK)   # at most 1 MiB out per step, whatever the ratio
                    total += len(out)
                    if total > max_bytes:
                        raise _too_big(path, "decompressed content", None, max_bytes)
                    yield out, (raw if first else b"")
                    first = False
                    if d.eof:                           # end of a gzip member; another may follow
                        data = d.unused_data
                        if data:
                            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    else:
                        data = d.unconsumed_tail
            if d is not None and not d.eof:
                raise ParseError(f"{path}: not a valid gzip file: it ends before its compressed data does",
                                 file=path, offset=total)
    except zlib.error as e:
        raise ParseError(f"{path}: not a valid gzip file: {e}", file=path, offset=total) from None
    except OSError as e:
        raise InvalidInput(f"{path}: cannot read: {e.strerror or e}", file=str(path)) from None


class PackIdentity:
    """How a pack is named and recognised: ``content_hash`` (sha256 over the file name without .gz and the
    decompressed content: the identity re-imports are recognised by) and ``sha256`` (of the file's bytes as
    they are, what ``sha256sum FILE`` prints, for anyone checking the evidence)."""

    __slots__ = ("content_hash", "sha256")

    def __init__(self, content_hash: str, sha256: str) -> None:
        self.content_hash = content_hash
        self.sha256 = sha256


def _identity_hashers(path: Path) -> tuple[Any, Any]:
    return hashlib.sha256(path.name.removesuffix(".gz").encode("utf-8") + b"\0"), hashlib.sha256()


def pack_identity(path: Path, max_bytes: int = MAX_PACK_BYTES) -> PackIdentity:
    """The pack's hashes, streamed (nothing of the content is kept); refused over ``max_bytes``."""
    ident, raw_h = _identity_hashers(path)
    for content, raw in _chunks(path, max_bytes):
        ident.update(content)
        raw_h.update(raw)
    return PackIdentity(ident.hexdigest(), raw_h.hexdigest())


def read_text_limited(path: Path, max_bytes: int = MAX_PACK_BYTES, *, encoding: str = "utf-8"
                      ) -> tuple[str, PackIdentity]:
    """The file's content as text (gunzipped when it ends in .gz) and its :class:`PackIdentity`; content
    over ``max_bytes`` is refused before it is all in memory."""
    ident, raw_h = _identity_hashers(path)
    buf = bytearray()
    for content, raw in _chunks(path, max_bytes):
        ident.update(content)
        raw_h.update(raw)
        buf += content
    try:
        text = buf.decode(encoding)
    except UnicodeDecodeError as e:
        raise ParseError(f"{path}: not UTF-8 text: {e.reason} at byte {e.start}", file=path, offset=e.start) from None
    return text, PackIdentity(ident.hexdigest(), raw_h.hexdigest())


# ----------------------------------------------------------------------------------------------------
# YAML with a bounded composer
# ----------------------------------------------------------------------------------------------------
class _BoundedComposer(Composer):
    """PyYAML's composer with the limits of the module doc; ``file`` and ``first_line`` place errors."""

    file = ""
    first_line = 1
    max_nodes = MAX_YAML_NODES
    _count = 0
    _depth = 0

    def _where(self, mark: Any) -> int:
        return self.first_line + (mark.line if mark is not None else 0)

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(AliasEvent):
            ev = self.get_event()
            line = self._where(ev.start_mark)
            raise InvalidInput(f"{self.file}:{line}: YAML alias '*{ev.anchor}' refused: aliases are not accepted in "
                               "packs (they can expand a small file into an enormous document)", file=self.file,
                               line=line, field="yaml alias", value=ev.anchor)
        n = self._count = self._count + 1
        depth = self._depth = self._depth + 1
        if n > self.max_nodes:
            line = self._where(self.peek_event().start_mark)
            raise InvalidInput(f"{self.file}:{line}: more than {self.max_nodes:,} YAML nodes; refused (a TagPack "
                               "in plain block form has no such limit)", file=self.file, line=line,
                               field="yaml nodes")
        if depth > MAX_YAML_DEPTH:
            line = self._where(self.peek_event().start_mark)
            raise InvalidInput(f"{self.file}:{line}: YAML nested more than {MAX_YAML_DEPTH} levels deep; refused",
                               file=self.file, line=line, field="yaml nesting")
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node: MappingNode = super().compose_mapping_node(anchor)
        seen: dict[str, int] = {}
        for k, _v in node.value:
            if isinstance(k, ScalarNode):
                line = self._where(k.start_mark)
                if k.value in seen:
                    raise InvalidInput(f"{self.file}:{line}: duplicate key {k.value!r} (first at line "
                                       f"{seen[k.value]}); refused", file=self.file, line=line, field=str(k.value))
                seen[k.value] = line
        return node


class _Constructor(SafeConstructor):
    def construct_yaml_timestamp(self, node: ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, AttributeError):   # looks like a date but is none (2021-13-45), or an explicit
            return str(node.value)            # !!timestamp on any text: the field check names it


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)

if _CParser is not None:
    class _Loader(_BoundedComposer, _CParser, _Constructor, Resolver):
        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            _Constructor.__init__(self)
            Resolver.__init__(self)
            self.anchors: dict[str, Node] = {}
else:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Loader(Reader, Scanner, Parser, _BoundedComposer, _Constructor, Resolver):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)
            _Constructor.__init__(self)
            Resolver.__init__(self)


def load_yaml(text: str, *, file: str, first_line: int = 1, max_nodes: int = MAX_YAML_NODES,
              what: str = "") -> tuple[Node | None, Any]:
    """Compose and construct one YAML document within the limits above: (root node, value). ``first_line``
    is the line of the text's first line in its file (for a part of a file); ``what`` names the part in a
    syntax error ("in a tag")."""
    loader = _Loader(text)
    loader.file, loader.first_line, loader.max_nodes = file, first_line, max_nodes
    try:
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        except yaml.YAMLError as e:
            mk = getattr(e, "problem_mark", None)
            line = first_line + mk.line if mk is not None else None
            problem = getattr(e, "problem", None) or str(e)
            raise ParseError(f"{file}{'' if line is None else f':{line}'}: YAML syntax error{what}: {problem}",
                             file=file, line=line) from None
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as e:
            # explicit tags on values they do not fit: !!int abc, !!bool maybe (PyYAML raises these)
            raise InvalidInput(f"{file}: a YAML value cannot be read{what}: {e}", file=file) from None
    finally:
        loader.dispose()
    return node, data
