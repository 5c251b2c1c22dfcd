"""A seeded Bitcoin block builder: well-formed transactions and blocks for tests and the training simulator.

What it produces is *structurally* valid: correct serialization (legacy and BIP144 segwit), txids and
wtxids, merkle roots, the BIP141 witness commitment in the coinbase, BIP34 heights, blocks chained by
``prev_hash``, blk*.dat framing with the network magic and optional ``xor.dat`` obfuscation. What it does
NOT produce: real signatures (scriptSigs and witnesses hold well-formed dummy pushes), real keys (public
keys are deterministic pseudo keys, 0x02/0x03 + 32 bytes from SHA-256 of the seed: they are *not* points
on the curve and nothing here is spendable), or proof of work (``bits`` is the network's minimum-difficulty
value and ``nonce`` is 0; block hashes do not meet the target). Everything is a pure function of the seed
and the calls made, so the same script always gives the same bytes.

Everything here is bytes in, bytes out: the files Bitcoin Core would hold are returned as ``{file name:
content}`` (:func:`blk_files`, :meth:`BlockBuilder.raw_files`) for the caller to write where it wants.

>>> from chainsleuth.core.btc.builder import BlockBuilder, KeyRing, TxSpec
>>> keys = KeyRing(seed=7, chain="btc-regtest")
>>> bb = BlockBuilder("btc-regtest", seed=7)
>>> b1 = bb.add_block([], coinbase_to=keys.address(0, "p2wpkh"))
>>> b1.height, len(b1.txids)
(1, 1)
>>> cb = b1.txids[0]
>>> b2 = bb.add_block([TxSpec(inputs=[(cb, 0)], outputs=[(keys.address(1, "p2tr"), 49_0000_0000)])])
>>> b2.height, bb.tip == b2.hash, len(bb.raw_blocks())
(2, True, 3)
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256

from chainsleuth.core.btc.encoding import hash160, sha256d
from chainsleuth.core.btc.script import (
    classify_script,
    script_for_address,
    script_for_multisig,
    script_for_p2pk,
    script_for_witness,
)
from chainsleuth.core.chains import BtcNetwork, get_chain
from chainsleuth.errors import InvalidInput

__all__ = [
    "BlockBuilder",
    "BuiltBlock",
    "BuiltTx",
    "KeyRing",
    "TxSpec",
    "blk_files",
    "build_tx",
    "compact_size",
    "decode_tx",
    "genesis_block",
    "merkle_root",
]

_GENESIS_COINBASE = bytes.fromhex(
    "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d010445"
    "5468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f"
    "6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a671"
    "30b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf1"
    "1d5fac00000000")
# (time, bits, nonce) of the genesis blocks that share Satoshi's coinbase
_GENESIS_HEADERS = {
    "mainnet": (1231006505, 0x1D00FFFF, 2083236893),
    "testnet3": (1296688602, 0x1D00FFFF, 414098458),
    "regtest": (1296688602, 0x207FFFFF, 2),
    "signet": (1598918400, 0x1E0377AE, 52613770),
}
_MIN_BITS = {"mainnet": 0x1D00FFFF, "testnet3": 0x1D00FFFF, "testnet4": 0x1D00FFFF, "signet": 0x1E0377AE,
             "regtest": 0x207FFFFF}
_WITNESS_TYPES = {"p2wpkh", "p2wsh", "p2tr", "witness_unknown"}
_NULL_TXID = "00" * 32
_U32 = struct.Struct("<I").pack
_I32 = struct.Struct("<i").pack
_I64 = struct.Struct("<q").pack
_MAX_MONEY = 21_000_000 * 100_000_000


@functools.lru_cache(maxsize=1 << 16)
def _script_of(address: str, network: BtcNetwork) -> bytes:
    return script_for_address(address, network)


def compact_size(n: int) -> bytes:
    """Bitcoin's CompactSize (varint) encoding."""
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + struct.pack("<I", n)
    return b"\xff" + struct.pack("<Q", n)


def _push(data: bytes) -> bytes:
    n = len(data)
    if n < 0x4C:
        return bytes((n,)) + data
    if n <= 0xFF:
        return b"\x4c" + bytes((n,)) + data
    return b"\x4d" + struct.pack("<H", n) + data


def _script_num(n: int) -> bytes:
    """Script push of ``n`` as Bitcoin Core's ``CScript() << n`` writes it (OP_0, OP_1..OP_16, or minimal LE)."""
    if n == 0:
        return b"\x00"
    if 1 <= n <= 16:
        return bytes((0x50 + n,))
    out = bytearray()
    v = n
    while v:
        out.append(v & 0xFF)
        v >>= 8
    if out[-1] & 0x80:
        out.append(0)
    return _push(bytes(out))


def merkle_root(hashes: Sequence[bytes]) -> bytes:
    """Merkle root (internal byte order) of txids/wtxids in internal byte order."""
    level = list(hashes)
    if not level:
        raise InvalidInput("a merkle tree needs at least one hash")
    while len(level) > 1:
        if len(level) & 1:
            level.append(level[-1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


class KeyRing:
    """Deterministic pseudo keys and their addresses from a seed.

    The public keys are 33 bytes (0x02/0x03 prefix + 32 bytes of SHA-256 of seed and index): well-formed
    for scripts and addresses, but NOT valid curve points and without private keys - not spendable.

    >>> KeyRing(seed=1, chain="btc").address(0, "p2pkh")[0]
    '1'
    """

    def __init__(self, seed: int = 0, chain: str = "btc-regtest") -> None:
        self.seed = seed
        self.chain = chain
        net = get_chain(chain).btc_network
        if net is None:
            raise InvalidInput(f"{chain!r} is not a Bitcoin chain", field="chain", value=chain)
        self.network: BtcNetwork = net

    def pubkey(self, i: int, *, uncompressed: bool = False) -> bytes:
        """Pseudo public key number ``i`` (33 bytes, or 65 with ``uncompressed``)."""
        h = sha256(f"chainsleuth-key:{self.seed}:{i}".encode()).digest()
        if uncompressed:
            return b"\x04" + h + sha256(h).digest()
        return bytes((2 + (h[0] & 1),)) + h

    def script(self, i: int, kind: str = "p2wpkh") -> bytes:
        """scriptPubKey of key ``i`` for ``kind`` (p2pk, p2pkh, p2sh, p2wpkh, p2wsh, p2tr, multisig)."""
        pk = self.pubkey(i)
        if kind == "p2pk":
            return script_for_p2pk(pk)
        if kind == "p2pkh":
            return b"\x76\xa9\x14" + hash160(pk) + b"\x88\xac"
        if kind == "p2sh":  # P2SH of a 1-of-1 multisig redeem script
            return b"\xa9\x14" + hash160(script_for_multisig(1, [pk])) + b"\x87"
        if kind == "p2wpkh":
            return script_for_witness(0, hash160(pk))
        if kind == "p2wsh":
            return script_for_witness(0, sha256(script_for_p2pk(pk)).digest())
        if kind == "p2tr":
            return script_for_witness(1, pk[1:])
        if kind == "multisig":
            return script_for_multisig(1, [pk, self.pubkey(i + 1_000_000)])
        raise InvalidInput(f"unknown output kind {kind!r}", field="kind", value=kind)

    def address(self, i: int, kind: str = "p2wpkh") -> str:
        """Address text of key ``i`` for ``kind`` (P2PK gives the P2PKH text, as explorers show it)."""
        addr = classify_script(self.script(i, kind), self.network)[1]
        assert addr is not None
        return addr


@dataclass
class TxSpec:
    """What a transaction spends and pays; :func:`build_tx` turns it into bytes.

    ``inputs``: ``(prev_txid_hex, vout)`` or ``(prev_txid_hex, vout, spend_type)``; spend_type (a script type
    such as 'p2pkh' or 'p2wpkh') picks the shape of the dummy scriptSig/witness; without it the builder uses
    the type of the output it created, else 'p2wpkh' when ``segwit`` else 'p2pkh'.
    ``outputs``: ``(address_text_or_script_bytes, value_sat)``.
    ``segwit``: None = automatic (BIP144 serialization when any input carries a witness).
    """

    inputs: list[tuple[str, int] | tuple[str, int, str]]
    outputs: list[tuple[str | bytes, int]]
    version: int = 2
    locktime: int = 0
    sequence: int = 0xFFFFFFFF
    segwit: bool | None = None


@dataclass(frozen=True)
class BuiltTx:
    raw: bytes            # full serialization (with witness when segwit)
    stripped: bytes       # serialization without witness (what the txid hashes); empty for raw_txs
    txid: str             # display order hex
    wtxid: str
    has_witness: bool
    output_scripts: tuple[bytes, ...]
    output_values: tuple[int, ...]


@dataclass(frozen=True)
class BuiltBlock:
    hash: str
    height: int
    prev_hash: str
    raw: bytes
    txids: tuple[str, ...]
    wtxids: tuple[str, ...]
    merkle_root: str
    time: int


def _dummy_sig(tag: bytes) -> bytes:
    """A DER-shaped 71-byte dummy signature (0x30 len 0x02 0x20 r 0x02 0x20 s sighash)."""
    h = sha256(b"sig" + tag).digest()
    return b"\x30\x44\x02\x20" + h + b"\x02\x20" + sha256(h).digest() + b"\x01"


def _spend(spend_type: str, tag: bytes) -> tuple[bytes, list[bytes]]:
    """(scriptSig, witness items) for spending an output of ``spend_type`` (dummy data, well-formed)."""
    sig = _dummy_sig(tag)
    pk = b"\x02" + sha256(b"pk" + tag).digest()
    if spend_type == "p2pkh":
        return _push(sig) + _push(pk), []
    if spend_type in ("p2pk", "nonstandard", "op_return"):
        return _push(sig), []
    if spend_type == "multisig":
        return b"\x00" + _push(sig), []
    if spend_type == "p2sh":
        return b"\x00" + _push(sig) + _push(script_for_multisig(1, [pk])), []
    if spend_type == "p2wpkh":
        return b"", [sig, pk]
    if spend_type == "p2wsh":
        return b"", [sig, script_for_p2pk(pk)]
    if spend_type in ("p2tr", "witness_unknown"):
        return b"", [sig[4:68]]
    raise InvalidInput(f"unknown spend type {spend_type!r}", field="spend_type", value=spend_type)


def build_tx(spec: TxSpec, network: BtcNetwork, *, spend_types: Sequence[str] | None = None,
             coinbase_script: bytes | None = None, coinbase_witness: bool = False) -> BuiltTx:
    """Serialize ``spec``. ``coinbase_script`` makes it a coinbase (one null input with that scriptSig)."""
    ins = []
    wits: list[list[bytes]] = []
    seq = _U32(spec.sequence)
    if coinbase_script is not None:
        ins.append(bytes(32) + b"\xff\xff\xff\xff" + compact_size(len(coinbase_script)) + coinbase_script + seq)
        wits.append([bytes(32)] if coinbase_witness else [])
    else:
        if not spec.inputs:
            raise InvalidInput("a transaction needs at least one input", field="inputs")
        default = "p2wpkh" if spec.segwit else "p2pkh"
        for k, inp in enumerate(spec.inputs):
            prev, n = inp[0], inp[1]
            st = inp[2] if len(inp) > 2 else (spend_types[k] if spend_types else default)  # type: ignore[misc]
            try:
                prev_b = bytes.fromhex(prev)[::-1]
            except ValueError:
                raise InvalidInput(f"prev_txid {prev!r} is not hex", field="inputs", value=prev) from None
            if len(prev_b) != 32:
                raise InvalidInput(f"prev_txid {prev!r} is not 32 bytes", field="inputs", value=prev)
            outpoint = prev_b + _U32(n)
            ssig, wit = _spend(str(st), outpoint)
            ins.append(outpoint + compact_size(len(ssig)) + ssig + seq)
            wits.append(wit)
    if not spec.outputs:
        raise InvalidInput("a transaction needs at least one output", field="outputs")
    scripts = []
    outs = []
    values = []
    for dest, value in spec.outputs:
        if not 0 <= value <= _MAX_MONEY:
            raise InvalidInput(f"output value {value} is out of range", field="outputs", value=value)
        script = dest if isinstance(dest, bytes) else _script_of(dest, network)
        scripts.append(script)
        values.append(value)
        outs.append(_I64(value) + compact_size(len(script)) + script)
    has_wit = any(wits) if spec.segwit is None else bool(spec.segwit)
    if has_wit and not any(wits):
        wits[0] = [b"\x01"]
    body = compact_size(len(ins)) + b"".join(ins) + compact_size(len(outs)) + b"".join(outs)
    ver = _I32(spec.version)
    lock = _U32(spec.locktime)
    stripped = ver + body + lock
    txid = sha256d(stripped)[::-1].hex()
    if has_wit:
        w = b"".join(compact_size(len(items)) + b"".join(compact_size(len(x)) + x for x in items) for items in wits)
        raw = ver + b"\x00\x01" + body + w + lock
        wtxid = sha256d(raw)[::-1].hex()
    else:
        raw, wtxid = stripped, txid
    return BuiltTx(raw=raw, stripped=stripped, txid=txid, wtxid=wtxid, has_witness=has_wit,
                   output_scripts=tuple(scripts), output_values=tuple(values))


def genesis_block(network: BtcNetwork) -> bytes:
    """The raw genesis block of mainnet, testnet3, signet or regtest (they share Satoshi's coinbase)."""
    if network.name not in _GENESIS_HEADERS:
        raise InvalidInput(f"no built-in genesis block for {network.name}", field="network", value=network.name)
    t, bits, nonce = _GENESIS_HEADERS[network.name]
    header = (struct.pack("<i", 1) + bytes(32) + sha256d(_GENESIS_COINBASE)
              + struct.pack("<III", t, bits, nonce))
    raw = header + b"\x01" + _GENESIS_COINBASE
    assert sha256d(header)[::-1].hex() == network.genesis_hash
    return raw


class BlockBuilder:
    """Builds a chain of blocks from :class:`TxSpec` lists, tracking the outputs it created.

    Parameters
    ----------
    chain : str
        Store chain name ('btc', 'btc-testnet', 'btc-signet', 'btc-regtest', 'btc-testnet4').
    seed : int
        Seeds coinbase extra-nonce bytes and default keys; same seed and calls -> same bytes.
    include_genesis : bool
        Start with the network's real genesis block (heights then link from genesis). Otherwise the first
        block built has height ``start_height`` and its parent is the network's genesis hash (not written).
    start_time : int, optional
        Time of height 0; block ``h`` gets ``start_time + 600 * h`` unless ``time`` is passed.
    """

    def __init__(self, chain: str = "btc-regtest", *, seed: int = 0, include_genesis: bool = True,
                 start_height: int = 1, start_time: int | None = None) -> None:
        net = get_chain(chain).btc_network
        if net is None:
            raise InvalidInput(f"{chain!r} is not a Bitcoin chain", field="chain", value=chain)
        self.chain = chain
        self.network: BtcNetwork = net
        self.seed = seed
        self.keys = KeyRing(seed, chain)
        self.blocks: list[BuiltBlock] = []
        #: (txid, n) -> (value, script_type) of every output created and not yet spent by a built tx
        self.utxos: dict[tuple[str, int], tuple[int, str]] = {}
        self._halving = 150 if net.name == "regtest" else 210_000
        gen_time = _GENESIS_HEADERS.get(net.name, (1_700_000_000, 0, 0))[0]
        self.start_time = gen_time if start_time is None else start_time
        self.tip = net.genesis_hash
        self.height = start_height - 1
        if include_genesis:
            raw = genesis_block(net)
            cb_txid = sha256d(_GENESIS_COINBASE)[::-1].hex()
            self.blocks.append(BuiltBlock(net.genesis_hash, 0, _NULL_TXID, raw, (cb_txid,), (cb_txid,),
                                          sha256d(_GENESIS_COINBASE)[::-1].hex(), self.start_time))
            self.height = 0

    def subsidy(self, height: int) -> int:
        halvings = height // self._halving
        return 0 if halvings >= 64 else (50 * 100_000_000) >> halvings

    def add_block(self, txs: Sequence[TxSpec], *, time: int | None = None, coinbase_to: str | bytes | None = None,
                  fees: int | None = None, version: int = 0x20000000,
                  raw_txs: Sequence[bytes] = ()) -> BuiltBlock:
        """Append a block holding a coinbase plus ``txs``; returns its hash, height and txids.

        The coinbase pays subsidy + fees to ``coinbase_to`` (address or script; default: a seeded P2WPKH
        key). ``fees=None`` sums input minus output values over inputs the builder created (unknown prevouts
        count as zero fee). Inputs must not spend outputs created later in the same block (order matters).
        ``raw_txs`` are already-serialized transactions (e.g. real ones) appended after ``txs`` as they are;
        their outputs are tracked, their inputs are not looked up.
        """
        height = self.height + 1
        built: list[BuiltTx] = []
        fee_total = 0
        popped: list[tuple[tuple[str, int], tuple[int, str]]] = []
        added: list[tuple[str, int]] = []
        try:
            for spec in txs:
                types = []
                in_val = 0
                known = True
                for inp in spec.inputs:
                    u = self.utxos.pop((inp[0], inp[1]), None)
                    if u is None:
                        known = False
                        types.append("p2wpkh" if spec.segwit else "p2pkh")
                    else:
                        popped.append(((inp[0], inp[1]), u))
                        in_val += u[0]
                        types.append(u[1])
                tx = build_tx(spec, self.network, spend_types=types)
                if known:
                    fee = in_val - sum(tx.output_values)
                    if fee < 0:
                        raise InvalidInput(f"transaction {tx.txid} pays {sum(tx.output_values)} but spends {in_val}",
                                           field="outputs", value=fee)
                    fee_total += fee
                added.extend(self._track(tx))
                built.append(tx)
            for raw in raw_txs:
                tx = decode_tx(raw)
                added.extend(self._track(tx))
                built.append(tx)
        except Exception:
            for k in added:                 # leave the builder as it was
                self.utxos.pop(k, None)
            self.utxos.update(popped)
            raise
        segwit_block = any(t.has_witness for t in built)
        reward = self.subsidy(height) + (fee_total if fees is None else fees)
        dest = coinbase_to if coinbase_to is not None else self.keys.script(height, "p2wpkh")
        dest_script = dest if isinstance(dest, bytes) else script_for_address(dest, self.network)
        cb_outputs: list[tuple[str | bytes, int]] = [(dest_script, reward)]
        if segwit_block:
            wroot = merkle_root([bytes(32)] + [bytes.fromhex(t.wtxid)[::-1] for t in built])
            commitment = sha256d(wroot + bytes(32))
            cb_outputs.append((b"\x6a\x24\xaa\x21\xa9\xed" + commitment, 0))
        extra = sha256(f"cb:{self.seed}:{height}".encode()).digest()[:8]
        cb_script = _script_num(height) + _push(extra)
        cb = build_tx(TxSpec(inputs=[], outputs=cb_outputs, version=1), self.network, coinbase_script=cb_script,
                      coinbase_witness=segwit_block)
        self._track(cb)
        all_txs = [cb, *built]
        root = merkle_root([bytes.fromhex(t.txid)[::-1] for t in all_txs])
        t = self.start_time + 600 * height if time is None else time
        header = (struct.pack("<i", version) + bytes.fromhex(self.tip)[::-1] + root
                  + struct.pack("<III", t, _MIN_BITS[self.network.name], 0))
        raw = header + compact_size(len(all_txs)) + b"".join(x.raw for x in all_txs)
        bh = sha256d(header)[::-1].hex()
        block = BuiltBlock(bh, height, self.tip, raw, tuple(x.txid for x in all_txs),
                           tuple(x.wtxid for x in all_txs), root[::-1].hex(), t)
        self.blocks.append(block)
        self.tip = bh
        self.height = height
        return block

    def _track(self, tx: BuiltTx) -> list[tuple[str, int]]:
        added = []
        for n, (script, value) in enumerate(zip(tx.output_scripts, tx.output_values, strict=True)):
            st = classify_script(script, None)[0]
            if st != "op_return":
                self.utxos[(tx.txid, n)] = (value, st)
                added.append((tx.txid, n))
        return added

    def raw_blocks(self) -> list[bytes]:
        """Raw serialized blocks in chain order (genesis first when included)."""
        return [b.raw for b in self.blocks]

    def blk_files(self, *, max_file_size: int = 128 * 1024 * 1024,
                  xor_key: bytes | None = None) -> dict[str, bytes]:
        """blk00000.dat, blk00001.dat, ... (and xor.dat with ``xor_key``) of the chain; see :func:`blk_files`."""
        return blk_files(self.raw_blocks(), self.network, max_file_size=max_file_size, xor_key=xor_key)

    def raw_files(self, *, hex_text: bool = False) -> dict[str, bytes]:
        """One file per block: ``<height>-<hash>.raw`` (bare bytes) or ``.hex`` (hex text and a newline)."""
        return {f"{b.height:08d}-{b.hash}.{'hex' if hex_text else 'raw'}":
                (b.raw.hex() + "\n").encode() if hex_text else b.raw for b in self.blocks}


def decode_tx(raw: bytes) -> BuiltTx:
    """A :class:`BuiltTx` for one serialized transaction (legacy or BIP144): txid, wtxid and outputs.

    Raises InvalidInput naming the byte where the serialization is cut short, and when bytes follow it.

    >>> keys = KeyRing(seed=3, chain="btc-regtest")
    >>> spec = TxSpec(inputs=[("11" * 32, 0, "p2wpkh")], outputs=[(keys.address(0, "p2tr"), 5_000)])
    >>> built = build_tx(spec, keys.network)
    >>> decoded = decode_tx(built.raw)
    >>> (decoded.txid, decoded.wtxid, decoded.output_values) == (built.txid, built.wtxid, (5_000,))
    True
    """
    pos = 0

    def read(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(raw):
            raise InvalidInput(f"raw transaction ends at byte {len(raw)}, inside a field starting at byte {pos}",
                               field="raw_txs", value=pos)
        pos += n
        return raw[pos - n:pos]

    def compact() -> int:
        first = read(1)[0]
        return first if first < 0xFD else int.from_bytes(read({0xFD: 2, 0xFE: 4, 0xFF: 8}[first]), "little")

    read(4)
    segwit = raw[4:6] == b"\x00\x01"
    if segwit:
        read(2)
    body_start = pos
    n_in = compact()
    for _ in range(n_in):
        read(36)
        read(compact())
        read(4)
    scripts, values = [], []
    for _ in range(compact()):
        values.append(int.from_bytes(read(8), "little"))
        scripts.append(read(compact()))
    body_end = pos
    if segwit:
        for _ in range(n_in):
            for _ in range(compact()):
                read(compact())
    read(4)
    if pos != len(raw):
        raise InvalidInput("raw transaction has trailing bytes", field="raw_txs", value=len(raw))
    txid = sha256d(raw[:4] + raw[body_start:body_end] + raw[-4:])[::-1].hex()
    return BuiltTx(raw=raw, stripped=b"", txid=txid, wtxid=sha256d(raw)[::-1].hex() if segwit else txid,
                   has_witness=segwit, output_scripts=tuple(scripts), output_values=tuple(values))


def blk_files(blocks: Sequence[bytes], network: BtcNetwork, *, max_file_size: int = 128 * 1024 * 1024,
              xor_key: bytes | None = None) -> dict[str, bytes]:
    """Raw blocks framed as Bitcoin Core stores them: ``magic + u32le size + block`` records in blk%05d.dat.

    A new file starts when the next record would pass ``max_file_size``. With ``xor_key`` (8 bytes) every
    blk file is XOR-obfuscated from file offset 0 with the key repeating and ``xor.dat`` holds the key
    (Bitcoin Core 28+); an all-zero key means no obfuscation. Returns file name -> content, in file order.

    >>> from chainsleuth.core.chains import get_chain
    >>> files = blk_files([bytes(80)], get_chain("btc").btc_network, xor_key=bytes(8))
    >>> list(files), files["blk00000.dat"][:4].hex(), len(files["blk00000.dat"])
    (['blk00000.dat', 'xor.dat'], 'f9beb4d9', 88)
    """
    if xor_key is not None and len(xor_key) != 8:
        raise InvalidInput("xor key must be 8 bytes", field="xor_key", value=xor_key.hex())
    files: list[bytearray] = [bytearray()]
    for raw in blocks:
        rec = network.magic + struct.pack("<I", len(raw)) + raw
        if files[-1] and len(files[-1]) + len(rec) > max_file_size:
            files.append(bytearray())
        files[-1] += rec
    obfuscate = xor_key is not None and any(xor_key)
    out = {f"blk{i:05d}.dat": _xor(bytes(data), xor_key) if obfuscate and xor_key else bytes(data)
           for i, data in enumerate(files)}
    if xor_key is not None:
        out["xor.dat"] = xor_key
    return out


def _xor(data: bytes, key: bytes, start: int = 0) -> bytes:
    """XOR ``data`` (found at file offset ``start``) with ``key`` repeating from file offset 0."""
    if not data:
        return data
    k = key[start % 8:] + key[:start % 8]
    rep = (k * (len(data) // 8 + 1))[:len(data)]
    return (int.from_bytes(data, "little") ^ int.from_bytes(rep, "little")).to_bytes(len(data), "little")
