"""Our own raw Bitcoin block parser: bytes -> columnar :class:`~chainsleuth.core.records.UtxoBatch`.

The hot path is one walk over the block bytes (indexing, ``struct.unpack_from``, one slice per output
script), appending to plain Python lists (one tuple per transaction; for inputs and output values only
their positions in the buffer). Everything else is done per batch with numpy/Arrow when the batch is built:
prevouts, sequences and values gathered from the recorded positions, sizes, weights, output sums, block
hash/txid repetition, hex columns, script types and address text. The garbage collector is paused while a
block is parsed (the loop allocates many small acyclic objects).

What is checked: every length and count against the bytes that remain (a count or length that cannot
fit raises :class:`~chainsleuth.errors.ParseError` naming the file and byte offset), the BIP144 marker and
flag, the merkle root (computed from the txids, compared with the header), the proof of work (the header
hash at most the target its ``bits`` encode, and that target a valid compact number within the network's
proof-of-work limit; off with ``check_pow=False`` for synthetic blocks), the block's weight (at most
4,000,000 weight units) and, per batch on the value column, every output amount and every transaction's
output sum within 0..21,000,000 BTC. What is not checked: difficulty retargeting (whether ``bits`` is the
value the chain demanded at that height), timestamps, signatures, scripts, amounts against prevouts, or the
witness commitment.

>>> from chainsleuth.core.btc.builder import BlockBuilder
>>> bb = BlockBuilder("btc-regtest", seed=1); _ = bb.add_block([])
>>> p = BlockParser("btc-regtest", check_pow=False)   # built blocks carry no proof of work
>>> for raw in bb.raw_blocks():
...     _ = p.parse_block(raw, 0, len(raw), source_file="mem", source_offset=0)
>>> batch = p.flush()
>>> batch.blocks["height"].to_pylist(), batch.blocks["height_source"].to_pylist()
([0, 1], ['genesis', 'genesis'])
"""

from __future__ import annotations

import gc
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.core.btc.addresses import script_columns
from chainsleuth.core.btc.encoding import sha256_small
from chainsleuth.core.chains import BtcNetwork, get_chain
from chainsleuth.core.records import BLOCK_SCHEMA, INPUT_SCHEMA, OUTPUT_SCHEMA, TX_SCHEMA, UtxoBatch
from chainsleuth.errors import InvalidInput, ParseError

__all__ = ["BIP34_HEIGHTS", "MAX_BLOCK_WEIGHT", "MAX_MONEY", "POW_LIMITS", "BlockHeader", "BlockParser",
           "bip34_height", "bits_to_target", "parse_header", "pow_error"]

#: the largest amount, in satoshi, one output or one transaction's outputs together may carry (21M BTC)
MAX_MONEY = 21_000_000 * 100_000_000
#: consensus limit on a block's weight (stripped size x 3 + total size); a pre-segwit block: 1,000,000 bytes
MAX_BLOCK_WEIGHT = 4_000_000
#: the easiest target (proof-of-work limit) each network allows, as in Bitcoin Core's chainparams
POW_LIMITS = {
    "mainnet": (1 << 224) - 1,
    "testnet3": (1 << 224) - 1,
    "testnet4": (1 << 224) - 1,
    "signet": 0x00000377AE << 216,
    "regtest": (1 << 255) - 1,
}

#: first height at which BIP34 (height in coinbase) is enforced for every block, per network.
BIP34_HEIGHTS = {"mainnet": 227_931, "testnet3": 21_111, "testnet4": 1, "signet": 1, "regtest": 1}
#: mainnet: from this height on, every version>=2 block had to carry its height (BIP34's 75% rule);
#: earlier version-2 blocks may carry other bytes there, so a smaller candidate is not trusted.
_MAINNET_V2_ENFORCED = 224_413
_MAINNET_GENESIS_TIME = 1_231_006_505

_NULL32 = bytes(32)
_U32 = struct.Struct("<I").unpack_from
_U16 = struct.Struct("<H").unpack_from
_U64 = struct.Struct("<Q").unpack_from
_PREV = struct.Struct("<32sI").unpack_from
_I64 = struct.Struct("<q").unpack_from
_AR = np.arange(32, dtype=np.int64)
_HDR = struct.Struct("<i32s32sIII").unpack_from


def _plain(e: Exception) -> str:
    """What a low-level read error means in a block, in the reader's words (not Python's)."""
    text = str(e)
    if isinstance(e, OverflowError) or "cannot fit" in text or "too large" in text:
        return "a length or count field holds a number too large for any block"
    if isinstance(e, (IndexError, struct.error)):
        return "a length or count field points past the end of the data (the bytes end inside a field)"
    return "a field holds a value that cannot be read"


@dataclass(frozen=True)
class BlockHeader:
    hash: str
    version: int
    prev_hash: str
    merkle_root: str
    time: int
    bits: int
    nonce: int


def parse_header(header: bytes) -> BlockHeader:
    """Fields of an 80-byte block header (hashes in display order)."""
    if len(header) != 80:
        raise InvalidInput(f"a block header is 80 bytes, got {len(header)}", value=len(header))
    v, prev, merkle, t, bits, nonce = _HDR(header, 0)
    h = sha256(sha256(header).digest()).digest()
    return BlockHeader(h[::-1].hex(), v, prev[::-1].hex(), merkle[::-1].hex(), t, bits, nonce)


def bits_to_target(bits: int) -> tuple[int, str | None]:
    """The target a header's compact ``bits`` encode, and why it is invalid (None when it is not).

    As Bitcoin Core's ``arith_uint256::SetCompact``: exponent in the top byte, 23-bit mantissa, bit 23 the
    sign. A negative, zero or overflowing (above 2**256) value is invalid.

    >>> hex(bits_to_target(0x1D00FFFF)[0])
    '0xffff0000000000000000000000000000000000000000000000000000'
    >>> bits_to_target(0x04923456)[1]
    'bits 0x04923456 encode a negative target'
    """
    exp, mant = bits >> 24, bits & 0x007FFFFF
    target = mant >> (8 * (3 - exp)) if exp <= 3 else mant << (8 * (exp - 3))
    if mant and bits & 0x00800000:
        return 0, f"bits {bits:#010x} encode a negative target"
    if mant and (exp > 34 or (mant > 0xFF and exp > 33) or (mant > 0xFFFF and exp > 32)):
        return 0, f"bits {bits:#010x} encode a target above 2**256"
    if target == 0:
        return 0, f"bits {bits:#010x} encode a zero target"
    return target, None


def pow_error(block_hash: bytes, bits: int, network: str) -> str | None:
    """Why a header with hash ``block_hash`` (internal byte order) fails its own ``bits``, or None.

    The target must be valid, at most the network's proof-of-work limit (:data:`POW_LIMITS`) and at least
    the hash read as a little-endian 256-bit number. Whether ``bits`` is the difficulty the chain demanded at
    that height (retargeting) needs the chain before it and is not checked.

    >>> genesis = bytes.fromhex("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")[::-1]
    >>> pow_error(genesis, 0x1D00FFFF, "mainnet") is None
    True
    >>> pow_error(genesis, 0x207FFFFF, "mainnet")
    'bits 0x207fffff encode a target above the mainnet proof-of-work limit'
    """
    target, why = bits_to_target(bits)
    if why is not None:
        return why
    if target > POW_LIMITS[network]:
        return f"bits {bits:#010x} encode a target above the {network} proof-of-work limit"
    if int.from_bytes(block_hash, "little") > target:
        return f"the header hash is above the target its bits {bits:#010x} encode (no valid proof of work)"
    return None


def bip34_height(version: int, coinbase_script: bytes, network: str | None = None,
                 time: int | None = None) -> int | None:
    """Height from a coinbase scriptSig by BIP34 rules, or None when the block does not carry one.

    Accepted: block version >= 2 and the scriptSig starts with OP_1..OP_16 or a minimally encoded
    positive script number of 1-4 bytes. Version-1 blocks (all blocks before 2012 and the pre-BIP34
    block 0000...13b8a) carry arbitrary bytes there and get None. On mainnet the candidate must also be
    at least 224,413 (from there on BIP34 made every version-2 block carry its height) and plausible for
    the block time (between one block per 20 and one per 5 minutes on average since genesis), so that
    bytes of an early version-2 coinbase are never taken for a height.

    >>> bip34_height(2, bytes.fromhex("03fc7903062f"), "mainnet", 1364140204)
    227836
    >>> bip34_height(2, bytes.fromhex("03fc7903062f"), "mainnet", 1264140204) is None   # implausible time
    True
    >>> bip34_height(1, bytes.fromhex("04ffff001d0104")) is None
    True
    """
    if version < 2 or not coinbase_script:
        return None
    op = coinbase_script[0]
    if 0x51 <= op <= 0x60:
        return op - 0x50
    if 1 <= op <= 4 and len(coinbase_script) > op:
        num = coinbase_script[1:1 + op]
        if num[-1] & 0x80:            # negative
            return None
        if num[-1] == 0 and (op == 1 or not num[-2] & 0x80):   # not minimal
            return None
        h = int.from_bytes(num, "little")
        if op == 1 and h <= 16:       # Core writes 0..16 as OP_0..OP_16, never as a one-byte push
            return None
        if network == "mainnet":
            if h < _MAINNET_V2_ENFORCED:
                return None
            if time is not None and not (time - _MAINNET_GENESIS_TIME) // 1200 - 1000 <= h \
                    <= (time - _MAINNET_GENESIS_TIME) // 300 + 1000:
                return None
        return h
    return None


class BlockParser:
    """Parses raw blocks into column lists; :meth:`flush` turns them into one :class:`UtxoBatch`.

    Keeps per-stream state for heights: the network's genesis block gets height 0 and every block whose
    parent was linked to genesis earlier in the stream gets parent + 1 (``height_source='genesis'``);
    other blocks get their BIP34 height (``'bip34'``) or null.
    """

    def __init__(self, chain: str = "btc", *, check_pow: bool = True, drop_invalid: bool = False) -> None:
        c = get_chain(chain)
        if c.btc_network is None:
            raise InvalidInput(f"{chain!r} is not a Bitcoin chain", field="chain", value=chain)
        self.chain = chain
        self.network: BtcNetwork = c.btc_network
        self._linked: dict[bytes, int] = {}   # block hash (internal order) -> height, linked from genesis
        self._genesis = bytes.fromhex(self.network.genesis_hash)[::-1]
        self._chain_scalar = pa.scalar(chain, pa.string())    # building a scalar costs ~0.2 ms: once
        #: check each header's proof of work against its own bits (off for synthetic blocks)
        self.check_pow = check_pow
        #: a block whose amounts are out of range is dropped from its batch (noted in :attr:`rejected`)
        #: instead of failing :meth:`flush`
        self.drop_invalid = drop_invalid
        #: notes on blocks :meth:`flush` dropped (file, offset, hash, reason); the caller empties it
        self.rejected: list[str] = []
        #: where the block that last failed a block-level check (proof of work, weight) ends in its buffer:
        #: its bytes parsed, so a reader of back-to-back blocks can go on after it; None otherwise
        self.invalid_end: int | None = None
        self._targets: dict[int, int] = {}   # bits -> target (-1: bits invalid or above the pow limit)
        self._reset()

    # -- column lists ---------------------------------------------------------------------------------
    def _reset(self) -> None:
        # blocks
        self.b_hash: list[str] = []
        self.b_height: list[int | None] = []
        self.b_hsrc: list[str | None] = []
        self.b_prev: list[str] = []
        self.b_merkle: list[str] = []
        self.b_time: list[int] = []
        self.b_version: list[int] = []
        self.b_bits: list[int] = []
        self.b_nonce: list[int] = []
        self.b_ntx: list[int] = []
        self.b_size: list[int] = []
        self.b_stripped: list[int] = []
        self.b_file: list[str] = []
        self.b_offset: list[int] = []
        self.b_bip34: list[int | None] = []
        # txs
        self.t_txid: list[bytes] = []      # internal byte order; hex (display order) built per batch
        self.t_wtxid: list[bytes] = []
        #: (version, locktime, size, stripped_size, has_witness, n_in, n_out) per tx
        self.t_rows: list[tuple[int, int, int, int, bool, int, int]] = []
        # outputs
        self.o_vpos: list[int] = []        # position of each output's value in its buffer
        self.o_script: list[bytes] = []
        # inputs
        # inputs: positions in their buffer of the outpoint and of the sequence; prevout txids, indexes and
        # sequences are gathered per batch with numpy from these positions (see _gather)
        self.i_pos: list[int] = []
        self.i_sqpos: list[int] = []
        self.i_sslen: list[int] = []
        self.i_wit: list[int] = []
        self.cb_inputs: list[int] = []     # indexes (in i_pos) of coinbase inputs
        self.segments: list[tuple[bytes, int, int]] = []   # (buffer, inputs end, outputs end), in order

    def _marks(self) -> tuple[int, int, int, int]:
        # the lists of each group (blocks, txs, outputs, inputs) have equal lengths between blocks
        return len(self.b_hash), len(self.t_txid), len(self.o_vpos), len(self.i_pos)

    @property
    def n_txs(self) -> int:
        return len(self.t_txid)

    @property
    def n_blocks(self) -> int:
        return len(self.b_hash)

    # -- parsing --------------------------------------------------------------------------------------
    def parse_block(self, buf: bytes, pos: int, limit: int, *, source_file: str, source_offset: int,
                    exact: bool = False) -> int:
        """Parse one block starting at ``buf[pos]`` and ending at or before ``limit``; return its end.

        With ``exact`` the block must end exactly at ``limit`` (a framed record holds one whole block).
        On any error nothing of this block stays in the column lists and ParseError names
        ``source_file`` and the byte offset (``source_offset`` is the file offset of ``buf[pos]``).
        """
        marks = self._marks()
        self.invalid_end = None
        gc_was_on = gc.isenabled()
        gc.disable()        # the loop allocates many small acyclic objects: collect once per block, not per 700
        try:
            end = self._parse_block(buf, pos, limit, source_file, source_offset)
            if exact and end != limit:
                raise ParseError(f"the record holds {limit - pos} bytes but its block ends after {end - pos} bytes "
                                 f"({limit - end} bytes left over)", file=source_file, offset=source_offset)
            self._segment(buf)
            return end
        except (IndexError, struct.error, ValueError) as e:
            self._rollback(marks)
            raise ParseError(f"block bytes are malformed: {_plain(e)}", file=source_file,
                             offset=source_offset) from None
        except ParseError:
            self._rollback(marks)
            raise
        finally:
            if gc_was_on:
                gc.enable()

    def _segment(self, buf: bytes) -> None:
        """Note that the inputs and outputs parsed so far (since the previous segment) live in ``buf``."""
        segs = self.segments
        if segs and segs[-1][0] is buf:
            segs[-1] = (buf, len(self.i_pos), len(self.o_vpos))
        else:
            segs.append((buf, len(self.i_pos), len(self.o_vpos)))

    def _rollback(self, marks: tuple[int, int, int, int]) -> None:
        group = {"b_": marks[0], "t_": marks[1], "o_": marks[2], "i_": marks[3]}
        for k, v in vars(self).items():
            if k[:2] in group:
                del v[group[k[:2]]:]
        while self.cb_inputs and self.cb_inputs[-1] >= marks[3]:
            self.cb_inputs.pop()

    def _parse_block(self, buf: bytes, pos: int, limit: int, source_file: str, source_offset: int) -> int:
        if limit - pos < 81:
            raise ParseError(f"block needs at least 81 bytes, {limit - pos} remain", file=source_file,
                             offset=source_offset)
        header = buf[pos:pos + 80]
        version, prev, merkle, btime, bits, nonce = _HDR(header, 0)
        bhash = sha256(sha256(header).digest()).digest()
        p = pos + 80
        ntx = buf[p]
        p += 1
        if ntx >= 0xFD:
            ntx, p = _big_varint(buf, p, ntx)
        if ntx < 1 or ntx * 60 > limit - p:
            raise ParseError(f"block claims {ntx} transactions but only {limit - p} bytes remain",
                             file=source_file, offset=source_offset + (p - pos))
        t0 = len(self.t_txid)
        txids_raw: list[bytes] = []
        txs_start = p
        p, stripped_total, cb_script = self._parse_txs(buf, p, limit, ntx, txids_raw, source_file,
                                                        source_offset - pos)
        # merkle root
        sha, sha2 = sha256, sha256_small
        level = txids_raw
        while len(level) > 1:
            if len(level) & 1:
                level.append(level[-1])
            level = [sha2(sha(level[i] + level[i + 1]).digest()).digest() for i in range(0, len(level), 2)]
        if level[0] != merkle:
            raise ParseError(f"merkle root mismatch in block {bhash[::-1].hex()}: header has {merkle[::-1].hex()}, "
                             f"transactions give {level[0][::-1].hex()}", file=source_file, offset=source_offset)
        if self.check_pow:
            target = self._targets.get(bits)
            if target is None:
                target = self._targets[bits] = self._target(bits)
            if int.from_bytes(bhash, "little") > target:
                self.invalid_end = p
                why = pow_error(bhash, bits, self.network.name)
                raise ParseError(f"block {bhash[::-1].hex()} fails its proof of work: {why}", file=source_file,
                                 offset=source_offset, block_hash=bhash[::-1].hex())
        if (txs_start - pos + stripped_total) * 3 + (p - pos) > MAX_BLOCK_WEIGHT:
            self.invalid_end = p
            raise ParseError(f"block {bhash[::-1].hex()} weighs {(txs_start - pos + stripped_total) * 3 + p - pos:,} "
                             f"weight units ({p - pos:,} bytes), above the consensus limit of "
                             f"{MAX_BLOCK_WEIGHT:,}", file=source_file, offset=source_offset,
                             block_hash=bhash[::-1].hex())
        # heights
        linked = self._linked
        claim = None if bhash == self._genesis else bip34_height(version, cb_script, self.network.name, btime)
        if bhash == self._genesis:
            height: int | None = 0
            hsrc: str | None = "genesis"
        elif prev in linked:
            height, hsrc = linked[prev] + 1, "genesis"
        else:
            height = claim
            hsrc = None if height is None else "bip34"
        if hsrc == "genesis":
            linked[bhash] = height  # type: ignore[assignment]
        self.b_hash.append(bhash[::-1].hex())
        self.b_height.append(height)
        self.b_hsrc.append(hsrc)
        self.b_prev.append(prev[::-1].hex())
        self.b_merkle.append(merkle[::-1].hex())
        self.b_time.append(btime)
        self.b_version.append(version)
        self.b_bits.append(bits)
        self.b_nonce.append(nonce)
        self.b_ntx.append(len(self.t_txid) - t0)
        self.b_size.append(p - pos)
        self.b_stripped.append((txs_start - pos) + stripped_total)
        self.b_file.append(source_file)
        self.b_offset.append(source_offset)
        self.b_bip34.append(claim)
        return p

    def _target(self, bits: int) -> int:
        target, why = bits_to_target(bits)
        return -1 if why is not None or target > POW_LIMITS[self.network.name] else target

    def parse_transactions(self, buf: bytes, ntx: int, *, source_file: str) -> int:
        """Parse ``ntx`` transactions laid end to end (no block around them); returns the end offset.

        They are kept in the tx/output/input lists with an empty block hash; for tests and tools.
        """
        marks = self._marks()
        try:
            p, _, _ = self._parse_txs(buf, 0, len(buf), ntx, [], source_file, 0)
            self._segment(buf)
        except (IndexError, struct.error, ValueError) as e:
            self._rollback(marks)
            raise ParseError(f"transaction bytes are malformed: {_plain(e)}", file=source_file,
                             offset=0) from None
        except ParseError:
            self._rollback(marks)
            raise
        return p

    def _parse_txs(self, buf: bytes, p: int, limit: int, ntx: int, txids_raw: list[bytes], source_file: str,
                   file_delta: int) -> tuple[int, int, bytes]:
        """The hot loop. ``file_delta`` maps a position in ``buf`` to a file offset (pos + delta).

        Per transaction one tuple goes to ``t_rows``; per input and output only positions and lengths are
        kept, the fixed-size fields are gathered per batch with numpy (:meth:`_gather`).
        """
        u32 = _U32
        sha = sha256
        sha2 = sha256_small          # second round (32 bytes): cheaper than OpenSSL for one block
        t_txid = self.t_txid.append
        t_wtxid = self.t_wtxid.append
        t_row = self.t_rows.append
        o_vpos = self.o_vpos.append
        o_script = self.o_script.append
        i_pos = self.i_pos.append
        i_sqpos = self.i_sqpos.append
        i_sslen = self.i_sslen.append
        i_wit = self.i_wit.append
        i_wit_ext = self.i_wit.extend
        txid_append = txids_raw.append
        stripped_total = 0
        cb_script = b""
        for ti in range(ntx):
            start = p
            if limit - p < 10:
                raise ParseError(f"transaction {ti} needs at least 10 bytes, {limit - p} remain",
                                 file=source_file, offset=p + file_delta)
            version = u32(buf, p)[0]
            p += 4
            segwit = buf[p] == 0
            if segwit:
                if buf[p + 1] == 0:
                    raise ParseError(f"transaction {ti}: segwit marker 0 followed by flag 0", file=source_file,
                                     offset=p + file_delta)
                p += 2
            body = p
            n_in = buf[p]
            p += 1
            if n_in >= 0xFD:
                n_in, p = _big_varint(buf, p, n_in)
            if n_in * 41 > limit - p:
                raise ParseError(f"transaction {ti} claims {n_in} inputs but only {limit - p} bytes remain",
                                 file=source_file, offset=p + file_delta)
            for _ in range(n_in):
                ls = buf[p + 36]
                i_pos(p)
                if ls < 0xFD:
                    p += 37 + ls
                else:
                    ls, p = _big_varint(buf, p + 37, ls)
                    p += ls
                i_sslen(ls)
                i_sqpos(p)
                p += 4
            if ti == 0 and n_in == 1:
                pv, pn = _PREV(buf, self.i_pos[-1])
                if pn == 0xFFFFFFFF and pv == _NULL32:       # the coinbase input
                    self.cb_inputs.append(len(self.i_pos) - 1)
                    cb_script = buf[p - 4 - ls:p - 4]
            if p > limit:
                raise ParseError(f"transaction {ti}: input scripts run past the end of the block",
                                 file=source_file, offset=start + file_delta)
            n_out = buf[p]
            p += 1
            if n_out >= 0xFD:
                n_out, p = _big_varint(buf, p, n_out)
            if n_out * 9 > limit - p:
                raise ParseError(f"transaction {ti} claims {n_out} outputs but only {limit - p} bytes remain",
                                 file=source_file, offset=p + file_delta)
            for _ in range(n_out):
                o_vpos(p)
                ls = buf[p + 8]
                p += 9
                if ls >= 0xFD:
                    ls, p = _big_varint(buf, p, ls)
                o_script(buf[p:p + ls])
                p += ls
            body_end = p
            if p > limit:
                raise ParseError(f"transaction {ti}: output scripts run past the end of the block",
                                 file=source_file, offset=start + file_delta)
            if segwit:
                for _ in range(n_in):
                    nw = buf[p]
                    p += 1
                    if nw >= 0xFD:
                        nw, p = _big_varint(buf, p, nw)
                    if nw > limit - p:
                        raise ParseError(f"transaction {ti} claims {nw} witness items but only {limit - p} bytes "
                                         "remain", file=source_file, offset=p + file_delta)
                    for _ in range(nw):
                        lw = buf[p]
                        if lw < 0xFD:
                            p += lw + 1
                        else:
                            lw, p = _big_varint(buf, p + 1, lw)
                            p += lw
                    i_wit(nw)
                if p > limit:
                    raise ParseError(f"transaction {ti}: witness data runs past the end of the block",
                                     file=source_file, offset=start + file_delta)
                p += 4
                if p > limit:
                    raise ParseError(f"transaction {ti} runs past the end of the block", file=source_file,
                                     offset=start + file_delta)
                stripped = buf[start:start + 4] + buf[body:body_end] + buf[p - 4:p]
                h = sha2(sha(stripped).digest()).digest()
                t_wtxid(sha2(sha(buf[start:p]).digest()).digest())
                sl = len(stripped)
            else:
                i_wit_ext([0] * n_in)
                p += 4
                if p > limit:
                    raise ParseError(f"transaction {ti} runs past the end of the block", file=source_file,
                                     offset=start + file_delta)
                h = sha2(sha(buf[start:p]).digest()).digest()
                t_wtxid(h)
                sl = p - start
            t_txid(h)
            txid_append(h)
            stripped_total += sl
            t_row((version, u32(buf, p - 4)[0], p - start, sl, segwit, n_in, n_out))
        return p, stripped_total, cb_script

    def _gather(self, ni: int, no: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Output values, prevout txids (N x 32), prevout indexes and sequences from the buffers."""
        values = np.empty(no, dtype=np.int64)
        prev = np.empty((ni, 32), dtype=np.uint8)
        prev_n = np.empty(ni, dtype=np.uint32)
        seq = np.empty(ni, dtype=np.uint32)
        vpos = np.asarray(self.o_vpos, dtype=np.int64)
        ipos = np.asarray(self.i_pos, dtype=np.int64)
        spos = np.asarray(self.i_sqpos, dtype=np.int64)
        i0 = o0 = 0
        for buf, i1, o1 in self.segments:
            if (i1 - i0) + (o1 - o0) < 64:       # small buffer (one small block): numpy's per-call cost dominates
                if o1 > o0:
                    values[o0:o1] = [_I64(buf, q)[0] for q in self.o_vpos[o0:o1]]
                if i1 > i0:
                    ip = self.i_pos[i0:i1]
                    prev[i0:i1] = np.frombuffer(b"".join([buf[q:q + 32] for q in ip]), dtype=np.uint8).reshape(-1, 32)
                    prev_n[i0:i1] = [_U32(buf, q + 32)[0] for q in ip]
                    seq[i0:i1] = [_U32(buf, q)[0] for q in self.i_sqpos[i0:i1]]
                i0, o0 = i1, o1
                continue
            arr = np.frombuffer(buf, dtype=np.uint8)
            if o1 > o0:
                values[o0:o1] = arr[vpos[o0:o1, None] + _AR[:8]].view("<i8").ravel()
            if i1 > i0:
                p = ipos[i0:i1, None]
                prev[i0:i1] = arr[p + _AR]
                prev_n[i0:i1] = arr[p + 32 + _AR[:4]].view("<u4").ravel()
                seq[i0:i1] = arr[spos[i0:i1, None] + _AR[:4]].view("<u4").ravel()
            i0, o0 = i1, o1
        return values, prev, prev_n, seq

    # -- batch ----------------------------------------------------------------------------------------
    def flush(self) -> UtxoBatch:
        """Build the Arrow tables of everything parsed since the last flush and clear the lists."""
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            return self._flush()
        finally:
            if gc_was_on:
                gc.enable()

    def _flush(self) -> UtxoBatch:
        nb, nt, no, ni = len(self.b_hash), len(self.t_txid), len(self.o_vpos), len(self.i_pos)
        t_cols: list[tuple[Any, ...]] = list(zip(*self.t_rows, strict=True)) if nt else [()] * 7
        t_version, t_locktime, t_size, t_stripped, t_witness, t_nin, t_nout = t_cols
        values, prev_raw, prev_n_np, seq = self._gather(ni, no)
        ntx_b = np.asarray(self.b_ntx, dtype=np.int64)
        block_hashes = pa.array(self.b_hash, pa.string())
        if int(ntx_b.sum()) == nt:
            tx_block_arr = block_hashes.take(pa.array(np.repeat(np.arange(nb, dtype=np.int64), ntx_b)))
            starts = np.cumsum(ntx_b) - ntx_b
            block_index = (np.arange(nt, dtype=np.int64) - np.repeat(starts, ntx_b)).astype(np.int32)
        else:  # transactions parsed without a block (parse_transactions)
            tx_block_arr = pa.array([""] * nt, pa.string())
            block_index = np.arange(nt, dtype=np.int32)
        size = np.asarray(t_size, dtype=np.int64)
        stripped = np.asarray(t_stripped, dtype=np.int64)
        weight = stripped * 3 + size
        n_in = np.asarray(t_nin, dtype=np.int64)
        n_out = np.asarray(t_nout, dtype=np.int64)
        out_cum = np.concatenate([[0], np.cumsum(values)]) if no else np.zeros(1, dtype=np.int64)
        out_end = np.cumsum(n_out)
        output_value = out_cum[out_end] - out_cum[out_end - n_out] if nt else np.zeros(0, dtype=np.int64)
        is_cb = block_index == 0
        txids = _hex_column(self.t_txid)
        bad_blocks = self._check_amounts(values, n_out, out_end, ntx_b, nb, nt)
        c = self._chain_scalar
        blocks = pa.table({
            "chain": pa.repeat(c, nb), "hash": block_hashes,
            "height": pa.array(self.b_height, pa.int64()), "height_source": pa.array(self.b_hsrc, pa.string()),
            "prev_hash": pa.array(self.b_prev, pa.string()), "merkle_root": pa.array(self.b_merkle, pa.string()),
            "time": pa.array(self.b_time, pa.int64()), "version": pa.array(self.b_version, pa.int64()),
            "bits": pa.array(self.b_bits, pa.int64()), "nonce": pa.array(self.b_nonce, pa.int64()),
            "tx_count": pa.array(self.b_ntx, pa.int32()), "size": pa.array(self.b_size, pa.int64()),
            "stripped_size": pa.array(self.b_stripped, pa.int64()),
            "weight": pa.array(np.asarray(self.b_stripped, dtype=np.int64) * 3
                               + np.asarray(self.b_size, dtype=np.int64), pa.int64()),
            "source_file": pa.array(self.b_file, pa.string()), "source_offset": pa.array(self.b_offset, pa.int64()),
            "bip34_height": pa.array(self.b_bip34, pa.int64()),
        }, schema=BLOCK_SCHEMA)
        txs = pa.table({
            "chain": pa.repeat(c, nt), "txid": txids,
            "wtxid": _hex_column(self.t_wtxid), "block_hash": tx_block_arr,
            "block_index": pa.array(block_index, pa.int32()), "version": pa.array(t_version, pa.int64()),
            "locktime": pa.array(t_locktime, pa.int64()), "size": pa.array(size, pa.int64()),
            "vsize": pa.array((weight + 3) // 4, pa.int64()), "weight": pa.array(weight, pa.int64()),
            "is_coinbase": pa.array(is_cb, pa.bool_()), "has_witness": pa.array(t_witness, pa.bool_()),
            "n_in": pa.array(n_in, pa.int32()), "n_out": pa.array(n_out, pa.int32()),
            "output_value": pa.array(output_value, pa.int64()),
        }, schema=TX_SCHEMA)
        tx_pos = np.arange(nt, dtype=np.int64)
        out_tx = pa.array(np.repeat(tx_pos, n_out))
        out_starts = np.repeat(out_end - n_out, n_out)
        types, addresses, scripts = script_columns(self.o_script, self.network)
        outputs = pa.table({
            "chain": pa.repeat(c, no), "txid": txids.take(out_tx), "block_hash": tx_block_arr.take(out_tx),
            "n": pa.array((np.arange(no, dtype=np.int64) - out_starts).astype(np.int32), pa.int32()),
            "value": pa.array(values, pa.int64()), "script_type": types, "address": addresses, "script": scripts,
        }, schema=OUTPUT_SCHEMA)
        in_end = np.cumsum(n_in)
        in_starts = np.repeat(in_end - n_in, n_in)
        in_tx = pa.array(np.repeat(tx_pos, n_in))
        coinbase = np.zeros(ni, dtype=bool)
        coinbase[self.cb_inputs] = True
        prev_n = pa.array(prev_n_np.astype(np.int64), pa.int64(), mask=coinbase)
        inputs = pa.table({
            "chain": pa.repeat(c, ni), "txid": txids.take(in_tx), "block_hash": tx_block_arr.take(in_tx),
            "n": pa.array((np.arange(ni, dtype=np.int64) - in_starts).astype(np.int32), pa.int32()),
            "prev_txid": _hex_rows(prev_raw, coinbase), "prev_n": prev_n,
            "sequence": pa.array(seq.astype(np.int64), pa.int64()),
            "script_sig_size": pa.array(self.i_sslen, pa.int32()),
            "witness_items": pa.array(self.i_wit, pa.int32()),
        }, schema=INPUT_SCHEMA)
        self._reset()
        if bad_blocks:
            bad = pa.array(bad_blocks, pa.string())
            blocks, txs, outputs, inputs = (t.filter(pc.invert(pc.is_in(t[col], value_set=bad))) for t, col in
                                            ((blocks, "hash"), (txs, "block_hash"), (outputs, "block_hash"),
                                             (inputs, "block_hash")))
        return UtxoBatch(blocks, txs, outputs, inputs)

    def _check_amounts(self, values: np.ndarray, n_out: np.ndarray, out_end: np.ndarray, ntx_b: np.ndarray,
                       nb: int, nt: int) -> list[str]:
        """Every output amount and every transaction's output sum within 0..:data:`MAX_MONEY`, on the columns.

        A block that breaks it raises ParseError (its file, offset, hash and the reason), or with
        ``drop_invalid`` is noted in :attr:`rejected` and its hash returned, for :meth:`_flush` to drop."""
        if not len(values):
            return []
        bad_out = (values < 0) | (values > MAX_MONEY)
        in_range = np.where(bad_out, 0, values).astype(np.float64)
        nz = n_out > 0
        sums = np.zeros(nt, dtype=np.float64)
        # float sums are exact below 2**53 (> MAX_MONEY) and only grow past it: the comparison is exact
        sums[nz] = np.add.reduceat(in_range, (out_end - n_out)[nz])
        bad_tx = sums > MAX_MONEY
        if bad_out.any():
            bad_tx[np.searchsorted(out_end, np.flatnonzero(bad_out), side="right")] = True
        if not bad_tx.any():
            return []
        tx_block = (np.repeat(np.arange(nb, dtype=np.int64), ntx_b) if int(ntx_b.sum()) == nt
                    else np.full(nt, -1, dtype=np.int64))
        out: list[str] = []
        seen: set[int] = set()
        for t in np.flatnonzero(bad_tx).tolist():
            b = int(tx_block[t])
            if b in seen:
                continue
            seen.add(b)
            o0, o1 = int(out_end[t] - n_out[t]), int(out_end[t])
            vals = values[o0:o1]
            txid = self.t_txid[t][::-1].hex()
            wrong = np.flatnonzero((vals < 0) | (vals > MAX_MONEY))
            if len(wrong):
                k = int(wrong[0])
                why = (f"output {k} of transaction {txid} carries {int(vals[k]):,} sat, outside "
                       f"0..{MAX_MONEY:,} sat (21,000,000 BTC)")
            else:
                why = (f"the outputs of transaction {txid} add up to {sum(int(v) for v in vals):,} sat, above "
                       f"{MAX_MONEY:,} sat (21,000,000 BTC)")
            if b < 0:
                raise ParseError(f"invalid amount: {why}", file="transactions", offset=0)
            bh = self.b_hash[b]
            err = ParseError(f"block {bh}: {why}", file=self.b_file[b], offset=self.b_offset[b], block_hash=bh)
            if not self.drop_invalid:
                self._reset()
                raise err
            self.rejected.append(f"{err.file} at offset {err.offset}: {err.message}; skipped the block")
            self._linked.pop(bytes.fromhex(bh)[::-1], None)
            out.append(bh)
        return out


def _hex_rows(rows: np.ndarray, null: np.ndarray) -> pa.Array:
    """Display-order hex of N x 32 hashes in internal order; rows where ``null`` is set are null."""
    n = rows.shape[0]
    if n == 0:
        return pa.array([], pa.string())
    data = pa.py_buffer(np.ascontiguousarray(rows[:, ::-1]).tobytes().hex().encode())
    offsets = pa.py_buffer(np.arange(0, 64 * (n + 1), 64, dtype=np.int32))
    validity = pa.py_buffer(np.packbits(~null, bitorder="little")) if null.any() else None
    return pa.Array.from_buffers(pa.string(), n, [validity, offsets, data])


def _hex_column(hashes: Sequence[bytes], valid: pa.Array | None = None) -> pa.Array:
    """Display-order hex strings of 32-byte hashes in internal order (reversed), as one Arrow column."""
    n = len(hashes)
    if n == 0:
        return pa.array([], pa.string())
    rev = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(n, 32)[:, ::-1]
    data = pa.py_buffer(rev.tobytes().hex().encode())
    offsets = pa.py_buffer(np.arange(0, 64 * (n + 1), 64, dtype=np.int32).tobytes())
    validity = None
    if valid is not None and valid.false_count:
        validity = pa.py_buffer(np.packbits(valid.to_numpy(zero_copy_only=False), bitorder="little").tobytes())
    return pa.Array.from_buffers(pa.string(), n, [validity, offsets, data])


def _big_varint(buf: bytes, p: int, first: int) -> tuple[int, int]:
    if first == 0xFD:
        return _U16(buf, p)[0], p + 2
    if first == 0xFE:
        return _U32(buf, p)[0], p + 4
    return _U64(buf, p)[0], p + 8
