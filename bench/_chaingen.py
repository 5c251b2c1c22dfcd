"""A fast, seeded, streaming generator of large synthetic Bitcoin chains in blk*.dat framing (regtest magic).

For the ingest benchmarks: millions of transactions without holding the chain in memory. Each block has a
BIP34 coinbase and ordinary transactions that spend earlier outputs (mostly recent ones, some old ones, as
on the real chain), pay one to four outputs to new or reused P2PKH/P2SH addresses and leave a small fee.
Structure only: dummy scriptSigs, no signatures, no proof of work (bits = regtest minimum), the same as
the project's seeded block writer; every txid and merkle root is real.

    python bench/_chaingen.py --txs 500000 --out /tmp/chain-500k      # writes blk00000.dat, ...
"""

from __future__ import annotations

import argparse
import struct
from hashlib import sha256
from pathlib import Path

import numpy as np

from chainsleuth.core.btc.builder import genesis_block

REGTEST_MAGIC = bytes.fromhex("fabfb5da")
REGTEST_GENESIS = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
_BITS = 0x207FFFFF
_U32 = struct.Struct("<I").pack
_U64 = struct.Struct("<Q").pack
_SIG = b"\x6b" + b"\x48" + bytes(range(72)) + b"\x21\x02" + bytes(range(32))   # 1 + 107 bytes: sig + pubkey pushes


def _sha256d(b: bytes) -> bytes:
    return sha256(sha256(b).digest()).digest()


def _varint(n: int) -> bytes:
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    return b"\xfe" + _U32(n)


def _merkle(hashes: list[bytes]) -> bytes:
    level = hashes
    while len(level) > 1:
        if len(level) % 2:
            level = [*level, level[-1]]
        level = [_sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


class ChainGenerator:
    """Streams blocks of about ``txs_per_block`` transactions until ``n_txs`` transactions are written."""

    def __init__(self, n_txs: int, *, seed: int = 1, txs_per_block: int = 1000, new_address_share: float = 0.6,
                 old_spend_share: float = 0.1) -> None:
        self.n_txs = n_txs
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.txs_per_block = txs_per_block
        self.new_share = new_address_share
        self.old_share = old_spend_share
        self.pool_txid: list[bytes] = []      # unspent outputs: txid (internal byte order), n, value
        self.pool_n: list[int] = []
        self.pool_v: list[int] = []
        self.n_addr = 0
        self._scripts: dict[int, bytes] = {}

    def _script(self, i: int) -> bytes:
        s = self._scripts.get(i)
        if s is None:
            h = sha256(f"bench-addr:{self.seed}:{i}".encode()).digest()[:20]
            s = (b"\x76\xa9\x14" + h + b"\x88\xac") if i % 5 else (b"\xa9\x14" + h + b"\x87")
            if len(self._scripts) < 2_000_000:
                self._scripts[i] = s
        return s

    def _address(self, new: bool, r: float) -> int:
        if new or self.n_addr == 0:
            self.n_addr += 1
            return self.n_addr - 1
        return int(self.n_addr * (1.0 - r ** 3)) % self.n_addr   # reuse, biased to recent addresses

    def _take(self, recent: bool, r: float) -> tuple[bytes, int, int]:
        k = len(self.pool_v)
        i = (k - 1 - int(r * min(k, 2000))) if recent else int(r * k)
        i = min(max(i, 0), k - 1)
        out = (self.pool_txid[i], self.pool_n[i], self.pool_v[i])
        for lst in (self.pool_txid, self.pool_n, self.pool_v):    # swap-remove
            lst[i] = lst[-1]
            lst.pop()
        return out

    def blocks(self):
        """Yield raw blocks: the regtest genesis, then generated blocks."""
        yield genesis_block_bytes()
        prev = bytes.fromhex(REGTEST_GENESIS)[::-1]
        height, written, t = 0, 0, 1_296_688_602
        while written < self.n_txs:
            height += 1
            t += 600
            pending: list[tuple[bytes, int, int]] = []
            n = min(self.txs_per_block, max(0, len(self.pool_v) // 3), self.n_txs - written)
            rnd = self.rng.random((n, 12))
            n_in = np.where(rnd[:, 0] < 0.6, 1, np.where(rnd[:, 0] < 0.85, 2, 3))
            n_out = np.where(rnd[:, 1] < 0.2, 1, np.where(rnd[:, 1] < 0.85, 2, np.where(rnd[:, 1] < 0.95, 3, 4)))
            raws, txids = [], []
            fees = 0
            for j in range(n):
                ins = [self._take(rnd[j, 2 + m] > self.old_share, rnd[j, 5 + m]) for m in range(int(n_in[j]))]
                total = sum(v for _, _, v in ins)
                fee = min(1000, total // 10)
                k = int(n_out[j]) if total - fee >= int(n_out[j]) else 1
                rest = total - fee
                cuts = sorted(int(x) for x in self.rng.integers(1, rest, size=k - 1)) if k > 1 and rest > k else []
                vals = [b - a for a, b in zip([0, *cuts], [*cuts, rest], strict=True)]
                if any(v <= 0 for v in vals):
                    vals = [rest]
                addrs = [self._address(rnd[j, 8] < self.new_share, rnd[j, 9 + (m % 3)]) for m in range(len(vals))]
                raw = (b"\x02\x00\x00\x00" + _varint(len(ins))
                       + b"".join(tx + _U32(vout) + _SIG + b"\xff\xff\xff\xff" for tx, vout, _ in ins)
                       + _varint(len(vals))
                       + b"".join(_U64(v) + _varint(len(s)) + s for v, s in
                                  ((v, self._script(a)) for v, a in zip(vals, addrs, strict=True)))
                       + b"\x00\x00\x00\x00")
                txid = _sha256d(raw)
                raws.append(raw)
                txids.append(txid)
                fees += fee
                pending.extend((txid, m, v) for m, v in enumerate(vals))
            # coinbase: BIP34 height, pays 50 BTC (constant: the bench needs value, not the schedule) + fees
            hb = height.to_bytes((height.bit_length() + 8) // 8, "little")
            cb_out = self._script(self._address(True, 0.0))
            cb_script = bytes((len(hb),)) + hb + b"\x04" + _U32(self.seed)
            cb = (b"\x01\x00\x00\x00\x01" + bytes(32) + b"\xff\xff\xff\xff" + _varint(len(cb_script)) + cb_script
                  + b"\xff\xff\xff\xff\x01" + _U64(50 * 100_000_000 + fees) + _varint(len(cb_out)) + cb_out
                  + b"\x00\x00\x00\x00")
            cb_txid = _sha256d(cb)
            pending.append((cb_txid, 0, 50 * 100_000_000 + fees))
            root = _merkle([cb_txid, *txids])
            header = b"\x00\x00\x00\x20" + prev + root + struct.pack("<III", t, _BITS, 0)
            prev = _sha256d(header)
            yield header + _varint(n + 1) + cb + b"".join(raws)
            written += n + 1
            for txid, m, v in pending:
                self.pool_txid.append(txid)
                self.pool_n.append(m)
                self.pool_v.append(v)


def genesis_block_bytes() -> bytes:
    from chainsleuth.core.chains import get_chain

    net = get_chain("btc-regtest").btc_network
    assert net is not None
    return genesis_block(net)


def write_chain(n_txs: int, out: Path, *, seed: int = 1, max_file_size: int = 128 << 20) -> dict[str, int]:
    """Write the chain as blk*.dat files into ``out`` (created); return counts."""
    out.mkdir(parents=True, exist_ok=True)
    gen = ChainGenerator(n_txs, seed=seed)
    fileno, size, blocks = 0, 0, 0
    fh = (out / f"blk{fileno:05d}.dat").open("wb")
    try:
        for raw in gen.blocks():
            rec = REGTEST_MAGIC + _U32(len(raw)) + raw
            if size and size + len(rec) > max_file_size:
                fh.close()
                fileno += 1
                size = 0
                fh = (out / f"blk{fileno:05d}.dat").open("wb")
            fh.write(rec)
            size += len(rec)
            blocks += 1
    finally:
        fh.close()
    return {"blocks": blocks, "files": fileno + 1, "addresses": gen.n_addr}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--txs", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    print(write_chain(a.txs, a.out, seed=a.seed))


if __name__ == "__main__":
    main()
