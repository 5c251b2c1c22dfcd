"""Block files on disk -> batches of parsed blocks.

Inputs are files or directories (searched recursively). Formats, recognised per file:

* ``blk*.dat`` framing as Bitcoin Core writes it: ``magic (4 bytes, per network) + u32le size + block``,
  repeated; the zero padding Bitcoin Core preallocates at the end of a file ends it quietly. When the
  directory holds ``xor.dat`` (Bitcoin Core 28+), the ``blk*.dat`` files there are de-obfuscated by XOR with
  its 8-byte key repeating from file offset 0 (an all-zero key means no obfuscation).
* bare raw blocks (one or more serialized blocks back to back, any extension; ``.dat/.raw/.blk`` in
  directories, extension-less files in directories only when they start with a network magic),
* hex text (``.hex`` files, or files whose content is hex): whitespace-separated hex of one or more blocks.

Order is deterministic: in each directory ``blk*.dat`` by number, then other files by name, then
sub-directories by name. In directories, files that are not block files are passed over (``xor.dat``,
``rev*.dat`` undo files, LevelDB index files, ``.md/.csv/.json/.txt``...); files named explicitly are
always read.

Errors: any record that does not parse raises :class:`~chainsleuth.errors.ParseError` naming the file and
the byte offset (in the hex-decoded bytes for hex files). Batches hold whole blocks only. Batches already
yielded before the bad record contain whole, valid blocks (the store writes them; a re-run after a fix
skips them). With ``skip_bad=True`` the bad record is skipped instead (framed files resync at the next
magic; raw and hex files skip the rest of the file), and a note naming the file and offset is added to
:attr:`BlockFileSource.skipped`.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from chainsleuth.core.chains import BTC_NETWORK_BY_MAGIC, get_chain
from chainsleuth.core.records import UtxoBatch
from chainsleuth.errors import InvalidInput, ParseError
from chainsleuth.sources.btc.parser import BlockParser

__all__ = ["BlockFileSource", "read_xor_key"]

_BLK = re.compile(r"^blk(\d+)\.dat$")
_SKIP_NAMES = re.compile(r"^(xor\.dat|rev\d+\.dat)$")
_DIR_SUFFIXES = {".dat", ".raw", ".blk", ".hex"}
_HEX_CHARS = frozenset(b"0123456789abcdefABCDEF \t\r\n")
_MAGICS = set(BTC_NETWORK_BY_MAGIC)


def read_xor_key(directory: Path) -> bytes | None:
    """The 8-byte key of ``directory/xor.dat``, or None when absent or all zero."""
    p = directory / "xor.dat"
    if not p.is_file():
        return None
    key = p.read_bytes()
    if len(key) != 8:
        raise ParseError(f"xor.dat must hold 8 bytes, it holds {len(key)}", file=str(p), offset=0)
    return key if any(key) else None


def _xor(data: bytes, key: bytes) -> bytes:
    """``data`` (from file offset 0) XOR the 8-byte ``key`` repeating, 8 bytes at a time."""
    n = len(data)
    body = n - n % 8
    out = (np.frombuffer(data, dtype="<u8", count=body // 8) ^ np.frombuffer(key, dtype="<u8")[0]).tobytes()
    return out + bytes(b ^ key[i] for i, b in enumerate(data[body:]))


def _looks_framed(data: bytes) -> bool:
    """Whether bytes without a known magic are laid out as blk*.dat records all the same: a record size at
    offset 4 whose record ends at the end of the data or where the next record starts with the same 4 bytes
    as the first or with a network magic (a raw block starts with its version: the sizes do not line up)."""
    if len(data) < 88:
        return False
    end = 8 + struct.unpack_from("<I", data, 4)[0]
    return end == len(data) or (end + 4 <= len(data) and (data[end:end + 4] == data[:4]
                                                          or data[end:end + 4] in _MAGICS))


def _sort_key(p: Path) -> tuple[int, int, str]:
    m = _BLK.match(p.name)
    return (0, int(m.group(1)), p.name) if m else (1, 0, p.name)


class BlockFileSource:
    """Reads block files and yields :class:`UtxoBatch` es of whole blocks (about ``batch_txs`` txs each).

    Attributes
    ----------
    chain : str
        Store chain name: from the blk magic when framed, else the ``chain`` argument, else 'btc'.
    total_bytes : int
        Sum of the input file sizes.
    bytes_done : int
        Bytes consumed so far (advanced as batches are yielded).
    skipped : list[str]
        Notes on records skipped with ``skip_bad``.
    """

    def __init__(self, paths: list[Path], *, chain: str | None = None, skip_bad: bool = False,
                 batch_txs: int = 50_000, allow_invalid_pow: bool = False) -> None:
        self.skip_bad = skip_bad
        self.allow_invalid_pow = allow_invalid_pow
        self.batch_txs = max(1, int(batch_txs))
        self.skipped: list[str] = []
        self.bytes_done = 0
        self._sha = hashlib.sha256()
        self._files = self._expand([Path(p) for p in paths])
        self.total_bytes = sum(f.stat().st_size for f in self._files)
        if chain is not None:
            c = get_chain(chain)
            if c.btc_network is None:
                raise InvalidInput(f"chain {chain!r} is not a Bitcoin chain", field="chain", value=chain)
        self.chain = self._detect_chain(chain)
        self._net = get_chain(self.chain).btc_network

    # -- inputs ---------------------------------------------------------------------------------------
    def _expand(self, paths: list[Path]) -> list[Path]:
        out: list[Path] = []
        for p in paths:
            if not p.exists():
                raise ParseError(f"no such file or directory: {p}", file=str(p), offset=0)
            if p.is_dir():
                out.extend(self._walk(p))
            elif p.is_file():
                out.append(p)
            else:
                raise ParseError(f"not a regular file or directory: {p}", file=str(p), offset=0)
        for f in out:
            try:
                with f.open("rb"):
                    pass
            except OSError as e:
                raise ParseError(f"cannot read {f}: {e.strerror or e}", file=str(f), offset=0) from None
        return out

    def _walk(self, d: Path) -> list[Path]:
        try:
            entries = list(d.iterdir())
        except OSError as e:
            raise ParseError(f"cannot read directory {d}: {e.strerror or e}", file=str(d), offset=0) from None
        files = sorted((e for e in entries if e.is_file() and self._is_block_file(e)), key=_sort_key)
        out = list(files)
        for sub in sorted((e for e in entries if e.is_dir()), key=lambda e: e.name):
            out.extend(self._walk(sub))
        return out

    @staticmethod
    def _is_block_file(p: Path) -> bool:
        if _SKIP_NAMES.match(p.name):
            return False
        if p.suffix.lower() in _DIR_SUFFIXES:
            return True
        if p.suffix == "":
            try:
                with p.open("rb") as fh:
                    return fh.read(4) in _MAGICS
            except OSError:
                return True   # reported as unreadable later
        return False

    def _head(self, f: Path, n: int) -> bytes:
        with f.open("rb") as fh:
            head = fh.read(n)
        key = read_xor_key(f.parent) if _BLK.match(f.name) else None
        return _xor(head, key) if key else head

    def _detect_chain(self, chain: str | None) -> str:
        for f in self._files:
            magic = self._head(f, 4)
            c = BTC_NETWORK_BY_MAGIC.get(magic)
            if c is not None:
                if chain is not None and c.name != chain:
                    raise ParseError(f"{f} starts with the magic of {c.name} ({magic.hex()}) but chain {chain} "
                                     "was asked for", file=str(f), offset=0)
                return c.name
        return chain or "btc"

    # -- batches --------------------------------------------------------------------------------------
    def content_hash(self) -> str:
        """SHA-256 (hex) over the bytes read so far, file after file, as stored on disk."""
        return self._sha.hexdigest()

    def iter_batches(self) -> Iterator[UtxoBatch]:
        parser = BlockParser(self.chain, check_pow=not self.allow_invalid_pow, drop_invalid=self.skip_bad)
        done_files = 0
        for f in self._files:
            try:
                data = f.read_bytes()
            except OSError as e:
                raise ParseError(f"cannot read {f}: {e.strerror or e}", file=str(f), offset=0) from None
            self._sha.update(data)
            for pos in self._blocks_of(f, data, parser):
                if parser.n_txs >= self.batch_txs:
                    self.bytes_done = done_files + pos
                    yield self._flush(parser)
            done_files += len(data)
            self.bytes_done = done_files
        if parser.n_blocks:
            yield self._flush(parser)
        self.bytes_done = done_files

    def _flush(self, parser: BlockParser) -> UtxoBatch:
        batch = parser.flush()   # amounts are checked here, on the batch's columns
        self.skipped += parser.rejected
        parser.rejected.clear()
        return batch

    def _blocks_of(self, f: Path, data: bytes, parser: BlockParser) -> Iterator[int]:
        """Parse every block of one file into ``parser``; yields the file position after each block."""
        name = str(f)
        key = read_xor_key(f.parent) if _BLK.match(f.name) else None
        if key is not None:
            data = _xor(data, key)
        head = data[:4]
        if head in _MAGICS:
            yield from self._framed(name, data, parser)
        elif (f.suffix.lower() == ".hex" or (data and _HEX_CHARS.issuperset(data[:256]))) and data.strip():
            if not _HEX_CHARS.issuperset(data):
                bad = next(i for i, b in enumerate(data) if b not in _HEX_CHARS)
                raise ParseError(f"{name} is not hex text: byte {data[bad]:#04x} at offset {bad}", file=name,
                                 offset=bad)
            text = b"".join(data.split())
            if len(text) % 2:
                raise ParseError(f"{name} holds an odd number of hex digits ({len(text)})", file=name,
                                 offset=len(data))
            yield from self._bare(name, bytes.fromhex(text.decode()), parser, hex_len=len(data))
        else:
            if data[:4] == b"\x00\x00\x00\x00" and not np.frombuffer(data, dtype=np.uint8).any():
                return   # an empty preallocated file
            if _looks_framed(data):
                assert self._net is not None
                err = ParseError(f"expected a network magic ({self._net.magic.hex()} for {self.chain}) at offset 0 "
                                 f"of {name}, found bytes {head.hex()}: the file is framed like blk*.dat but its "
                                 "magic is wrong", file=name, offset=0)
                nxt = min((i for i in (data.find(m, 1) for m in _MAGICS) if i >= 0), default=-1)
                self._bad(name, err, nxt if nxt >= 0 else None, len(data))
                if nxt >= 0:
                    yield from self._framed(name, data, parser, start=nxt)
                return
            yield from self._bare(name, data, parser)

    def _bad(self, name: str, err: ParseError, resume: int | None, end: int) -> None:
        if not self.skip_bad:
            raise err
        off = err.offset if err.offset is not None else 0
        if resume is None:
            self.skipped.append(f"{name} at offset {off}: {err.message}; skipped the rest of the file "
                                f"({end - off} bytes)")
        else:
            self.skipped.append(f"{name} at offset {off}: {err.message}; skipped to the next record at "
                                f"offset {resume}")

    def _framed(self, name: str, data: bytes, parser: BlockParser, start: int = 0) -> Iterator[int]:
        assert self._net is not None
        magic = self._net.magic
        n = len(data)
        pos = start
        while pos < n:
            rec = data[pos:pos + 4]
            if rec != magic:
                if rec == b"\x00\x00\x00\x00" and not np.frombuffer(data, dtype=np.uint8, offset=pos).any():
                    return   # preallocated zero padding at the end of a blk file
                got = BTC_NETWORK_BY_MAGIC.get(rec)
                what = (f"the magic of {got.name}" if got is not None else f"bytes {rec.hex()}")
                err = ParseError(f"expected the {self.chain} magic {magic.hex()} at offset {pos}, found {what}"
                                 + (" (garbage between records)" if got is None and pos else ""),
                                 file=name, offset=pos)
                nxt = data.find(magic, pos + 1)
                self._bad(name, err, nxt if nxt >= 0 else None, n)
                if nxt < 0:
                    return
                pos = nxt
                continue
            if pos + 8 > n:
                self._bad(name, ParseError(f"record header at offset {pos} is cut off: {n - pos} bytes remain",
                                           file=name, offset=pos), None, n)
                return
            size = struct.unpack_from("<I", data, pos + 4)[0]
            start, end = pos + 8, pos + 8 + size
            err = None
            parser.invalid_end = None
            if end > n:
                err = ParseError(f"record at offset {pos} declares a block of {size} bytes but only "
                                 f"{n - start} bytes remain in the file", file=name, offset=pos)
            else:
                try:
                    parser.parse_block(data, start, end, source_file=name, source_offset=start, exact=True)
                except ParseError as e:
                    err = e
            if err is not None:
                # a block that parsed but failed a validity check: its record's end is known
                nxt = end if parser.invalid_end is not None and end < n else data.find(magic, pos + 1)
                self._bad(name, err, nxt if nxt >= 0 else None, n)
                if nxt < 0:
                    return
                pos = nxt
                continue
            pos = end
            yield pos

    def _bare(self, name: str, data: bytes, parser: BlockParser, hex_len: int | None = None) -> Iterator[int]:
        n = len(data)
        pos = 0
        while pos < n:
            try:
                pos = parser.parse_block(data, pos, n, source_file=name, source_offset=pos)
            except ParseError as e:
                if hex_len is not None:
                    e = ParseError(e.message + " (offsets count hex-decoded bytes)", file=name, offset=e.offset,
                                   **{k: v for k, v in e.details.items() if k not in ("file", "offset")})
                end = parser.invalid_end    # the block parsed but failed a check: the next one follows it
                self._bad(name, e, end, n)
                if end is None:
                    return
                pos = end
                continue
            yield pos if hex_len is None else hex_len * pos // n
