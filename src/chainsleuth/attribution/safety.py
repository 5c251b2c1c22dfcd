"""Reading untrusted pack files safely: size limits before parsing (also for gzip), and a YAML alias
expansion limit (the "billion laughs" bomb).

>>> check_yaml_aliases("a: &x [1, 2]\\nb: *x\\n", file="t.yaml")
>>> bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\\n" + "".join(
...     f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\\n" for p, c in zip("abcdefg", "bcdefgh"))
>>> check_yaml_aliases(bomb, file="bomb.yaml")
Traceback (most recent call last):
...
chainsleuth.errors.InvalidInput: bomb.yaml: YAML aliases expand to more than 1000000 nodes (a YAML bomb?); refused (file=bomb.yaml, field=yaml aliases)
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from pathlib import Path

import yaml

from chainsleuth.errors import InvalidInput, ParseError

__all__ = ["MAX_ALIAS_NODES", "MAX_PACK_BYTES", "YamlLoader", "check_yaml_aliases", "read_limited"]

#: Largest pack accepted, in bytes of (decompressed) content. A pack over it is refused before parsing.
MAX_PACK_BYTES = 1 << 30
#: Most YAML nodes that alias expansion may produce (TagPacks use no aliases at all).
MAX_ALIAS_NODES = 1_000_000

YamlLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# anchors and aliases stand at the start of a node: line start, after "key:", "- ", or a flow indicator
_NODE_START = r"(?:^[ \t]*|:[ \t]+|-[ \t]+|[\[{,][ \t]*)"
_ALIAS_RE = re.compile(_NODE_START + r"\*[^\s,\[\]{}]", re.M)
_ANCHOR_RE = re.compile(_NODE_START + r"&[^\s,\[\]{}]", re.M)


def read_limited(path: Path, max_bytes: int = MAX_PACK_BYTES) -> tuple[bytes, str]:
    """The file's content (gunzipped when it ends in .gz) and the pack identity: sha256 over the file name
    (without .gz) and the content, since some formats carry meaning in the name (an OFAC list's asset).
    Refuse content over ``max_bytes``."""
    size = path.stat().st_size
    if size > max_bytes:
        raise InvalidInput(f"{path}: file is {size:,} bytes, over the limit of {max_bytes:,}; refused",
                           file=str(path), field="size", value=size)
    if path.name.endswith(".gz"):
        out = bytearray()
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    out += d.decompress(chunk, max_bytes + 1 - len(out))
                    if len(out) > max_bytes or d.unconsumed_tail:
                        raise InvalidInput(f"{path}: decompressed content is over the limit of {max_bytes:,} "
                                           "bytes; refused", file=str(path), field="size")
                out += d.flush()
        except (zlib.error, gzip.BadGzipFile, EOFError) as e:
            raise ParseError(f"{path}: not a valid gzip file: {e}", file=path, offset=len(out)) from e
        data = bytes(out)
    else:
        data = path.read_bytes()
    h = hashlib.sha256(path.name.removesuffix(".gz").encode("utf-8") + b"\0")
    h.update(data)
    return data, h.hexdigest()


def check_yaml_aliases(text: str, *, file: str, max_nodes: int = MAX_ALIAS_NODES) -> None:
    """Refuse YAML whose aliases expand to more than ``max_nodes`` nodes (or refer to themselves).

    Cheap for ordinary packs: the node graph is composed only when the text may contain an alias.
    """
    # an alias needs an anchor: without both tokens (outside of which '*' and '&' are just text) no expansion
    if "*" not in text or "&" not in text or not _ANCHOR_RE.search(text) or not _ALIAS_RE.search(text):
        return
    try:
        root = yaml.compose(text, Loader=YamlLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ParseError(f"{file}: YAML syntax error: {e}", file=file, line=(mark.line + 1) if mark else None) from e
    if root is None:
        return
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise InvalidInput(f"{file}: a YAML alias refers to itself; refused", file=file, field="yaml aliases")
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child)
                if total > max_nodes:
                    break
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
                if total > max_nodes:
                    break
        active.discard(key)
        sizes[key] = total
        if total > max_nodes:
            raise InvalidInput(f"{file}: YAML aliases expand to more than {max_nodes} nodes (a YAML bomb?); refused",
                               file=file, field="yaml aliases")
        return total

    size(root)
