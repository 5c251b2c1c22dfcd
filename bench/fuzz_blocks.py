"""Seeded fuzzing of the Bitcoin block reader with mutated real blocks.

    python bench/fuzz_blocks.py [--count 1000000] [--seed 1] [--data ../shared/data]

Each case takes one real mainnet or testnet block (the first 439 mainnet blocks of bitcoinj's
``first-100k-blocks.dat`` and the single blocks beside it, rust-bitcoin's and btcd's blocks), mutates it
(flipped bits, bytes set to 0x00/0xff, a varint made huge, bytes inserted or removed, the block cut short,
two blocks spliced, a value field overwritten with -1 or 2^63-1), and parses it with the reader the ingest
uses (:class:`BlockParser`: ``parse_block`` then ``flush``, which builds the batch and checks its amounts).
Half the cases skip the proof-of-work check, so mutations reach the transactions instead of ending at the
header, and of those two in five get their merkle root recomputed over the mutated transactions
(python-bitcoinlib, where it can read them), so that a mutated amount or script reaches the checks after
the merkle root; one case in a hundred goes through :class:`BlockFileSource` (blk framing, a temporary file).

A case passes when it ends in a block or in one of the project's own errors (:class:`ChainsleuthError`); any
other exception is a finding, as is a case that takes more than 2 s (SIGALRM stops it) or a peak RSS over
1 GB. Printed: cases, outcomes by error class, the slowest case, peak RSS, findings (seed and case number
reproduce each). Exit 1 when there is a finding. ``tests/btc/test_btc_fuzz.py`` runs a short form.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from chainsleuth.errors import ChainsleuthError
from chainsleuth.sources.btc.files import BlockFileSource
from chainsleuth.sources.btc.parser import BlockParser

MAINNET_MAGIC = bytes.fromhex("f9beb4d9")
LIMIT_S = 2.0


class _Hang(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Hang


def load_blocks(data: Path) -> list[tuple[str, bytes]]:
    """(chain, raw block) of the real blocks in ``data``: the framed mainnet file and single raw blocks."""
    out: list[tuple[str, bytes]] = []
    framed = data / "btc-blocks-bitcoinj" / "first-100k-blocks.dat"
    buf = framed.read_bytes()
    p = 0
    while p + 8 <= len(buf) and buf[p:p + 4] == MAINNET_MAGIC:
        n = int.from_bytes(buf[p + 4:p + 8], "little")
        out.append(("btc", buf[p + 8:p + 8 + n]))
        p += 8 + n
    for f in sorted((data / "btc-blocks-bitcoinj").glob("block*.dat")):
        raw = f.read_bytes()
        if raw[:4] == MAINNET_MAGIC:
            raw = raw[8:]
        out.append(("btc-testnet" if "testnet" in f.name else "btc", raw))
    return out


def mutate(rng: random.Random, raw: bytes, other: bytes) -> bytes:
    b = bytearray(raw)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8))):
        kind = rng.randrange(9)
        if not b:
            b = bytearray(other)
        i = rng.randrange(len(b))
        if kind == 0:
            b[i] ^= 1 << rng.randrange(8)
        elif kind == 1:
            b[i] = rng.choice((0x00, 0xff, 0xfd, 0xfe))
        elif kind == 2:                     # a varint made huge, or a length prefix changed
            b[i:i + 1] = rng.choice((b"\xff" + b"\xff" * 8, b"\xfe" + b"\xff\xff\xff\x7f", b"\xfd\xff\xff"))
        elif kind == 3:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
        elif kind == 4:
            del b[i:i + rng.randrange(1, 9)]
        elif kind == 5:
            del b[i:]
        elif kind == 6:                     # splice: a prefix of one block and the rest of another
            j = rng.randrange(len(other))
            b = b[:i] + bytearray(other[j:])
        elif kind == 7 and len(b) > i + 8:  # a value-sized field set to -1 or 2^63-1
            b[i:i + 8] = rng.choice((b"\xff" * 8, b"\xff" * 7 + b"\x7f", (21_000_000 * 10**8 + 1).to_bytes(8, "little")))
        else:
            b[i] = rng.randrange(256)
    return bytes(b)


def fix_merkle(data: bytes) -> bytes:
    """``data`` with its header's merkle root recomputed over its (mutated) transactions, so that a mutation
    reaches the checks after the merkle root (structure, amounts); unchanged where python-bitcoinlib cannot
    read the block."""
    try:
        from bitcoin.core import CBlock

        blk = CBlock.deserialize(data)
        return data[:36] + blk.calc_merkle_root() + data[68:]
    except Exception:
        return data


def run_case(chain: str, data: bytes, check_pow: bool, via_file: bool, tmp: Path) -> str:
    if via_file:
        path = tmp / "blk00000.dat"
        path.write_bytes(MAINNET_MAGIC + len(data).to_bytes(4, "little") + data)
        src = BlockFileSource([path], chain="btc", allow_invalid_pow=not check_pow)
        for _batch in src.iter_batches():
            pass
        return "ok"
    p = BlockParser(chain, check_pow=check_pow)
    p.parse_block(data, 0, len(data), source_file="fuzz", source_offset=0, exact=True)
    p.flush()
    return "ok"


def _kind(e: Exception) -> str:
    """The reason of an error without its numbers and hashes, to count errors by kind."""
    msg = str(e).split(" (file=")[0]
    return re.sub(r"\b[0-9a-f]{16,}\b|0x[0-9a-f]+|-?\d[\d,]*", "#", msg)[:70]


def fuzz(blocks: list[tuple[str, bytes]], count: int, seed: int, *, report_every: int = 0) -> dict[str, Any]:
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    findings: list[str] = []
    slowest = (0.0, -1)
    old = signal.signal(signal.SIGALRM, _on_alarm)
    t_start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            for case in range(count):
                chain, raw = rng.choice(blocks)
                data = mutate(rng, raw, rng.choice(blocks)[1])
                check_pow = rng.random() < 0.5
                if not check_pow and rng.random() < 0.4:
                    data = fix_merkle(data)
                via_file = rng.random() < 0.01
                t0 = time.perf_counter()
                signal.setitimer(signal.ITIMER_REAL, LIMIT_S)
                try:
                    outcomes[run_case(chain if not via_file else "btc", data, check_pow, via_file, tmp)] += 1
                except _Hang:
                    findings.append(f"case {case}: over {LIMIT_S} s")
                except ChainsleuthError as e:
                    outcomes[f"{type(e).__name__}: {_kind(e)}"] += 1
                except Exception as e:   # a finding: not one of the project's errors
                    findings.append(f"case {case}: {type(e).__name__}: {e}")
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                dt = time.perf_counter() - t0
                if dt > slowest[0]:
                    slowest = (dt, case)
                if report_every and case and case % report_every == 0:
                    print(f"  {case:,} cases, {time.perf_counter() - t_start:.0f} s, {len(findings)} findings",
                          file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGALRM, old)
    return {"cases": count, "seed": seed, "seconds": round(time.perf_counter() - t_start, 1),
            "outcomes": dict(outcomes.most_common()), "slowest_s": round(slowest[0], 4), "slowest_case": slowest[1],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "findings": findings}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    args = ap.parse_args()
    blocks = load_blocks(args.data)
    r = fuzz(blocks, args.count, args.seed, report_every=50_000)
    print(f"{r['cases']:,} mutated blocks (seed {r['seed']}, {len(blocks)} real blocks) in {r['seconds']} s")
    print("outcomes (most frequent kinds):")
    for k, v in list(r["outcomes"].items())[:25]:
        print(f"  {v:>9,}  {k}")
    print(f"  ({len(r['outcomes'])} kinds in all)")
    print(f"slowest case: {r['slowest_s']} s (case {r['slowest_case']}); peak RSS {r['peak_rss_mb']} MB")
    print(f"findings: {len(r['findings'])}")
    for f in r["findings"][:50]:
        print("  " + f)
    ok = not r["findings"] and r["peak_rss_mb"] < 1024
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
