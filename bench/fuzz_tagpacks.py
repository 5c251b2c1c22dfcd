"""Fuzz the TagPack parser with mutated real packs (seeded).

Each case takes a real GraphSense TagPack (its header and a window of its tags, now and then the whole pack),
applies one to three mutations (flipped characters, deleted / doubled / swapped / re-indented lines, YAML
syntax dropped in: anchors, aliases, tags, flow collections, directives, document markers, tabs, BOMs,
NULs, bidi controls, deep nesting, impossible dates, unknown currencies, long values, duplicate keys,
truncation) and parses the result, as text (``parse_tagpack``) or, for one case in ten, as a file, plain or
gzipped, under a random size limit (``read_tagpack``). What is checked:

- only the project's own errors come out (``ChainsleuthError`` subclasses; anything else is a finding);
- no case takes longer than ``--max-case-seconds`` (2 s);
- the process's peak RSS stays under ``--max-rss-mb`` (1 GB).

``python bench/fuzz_tagpacks.py --count 100000`` is the long form (``--budget-seconds`` stops it early);
``tests/attribution/test_attr_fuzz.py`` runs 300 cases. Findings are written to ``--out`` (one file per
case, with the seed to replay it: ``--seed S --count 1 --first N``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import resource
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from chainsleuth.attribution.tagpack import parse_tagpack, read_tagpack
from chainsleuth.attribution.taxonomy import Taxonomy
from chainsleuth.errors import ChainsleuthError

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "graphsense-tagpacks"
#: Tags in a window of a pack (most cases); whole packs are used only when smaller than FULL_PACK_BYTES.
WINDOW_TAGS = 120
FULL_PACK_BYTES = 300_000

SNIPPETS = [
    "&a ", "*a", "&a [x, x, x]", "[*a, *a, *a]", "!!python/object/apply:os.system ['true']", "!!binary AAAA",
    "!!seq ", "!!map ", "!!timestamp 2021-99-99", "<<: *a", "? complex key\n: value", "- [", "{", "]", "}",
    "'", '"', "\t", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "---\n", "...\n", "key: value\n", "  nested:\n    - x\n",
    "lastmod: 2021-13-45\n", "lastmod: 2021-02-30 25:61:00\n", "currency: DOGECOINZ\n", "network: \n",
    "label: " + "x" * 5000 + "\n", "\x00", "\ufeff", "\u202e", "\x1b[2J", "confidence: 1e309\n",
    "is_cluster_definer: maybe\n", "context: {a: [1, {b: 2}]}\n", "[" * 80 + "]" * 80, "{" * 40,
    "label: a\nlabel: b\n", "tags:\n", "tags: []\n", "- \n", "-\n  - x\n", "address: \n", "tx_hash: ab\n",
    "concepts: [" + ", ".join(["exchange"] * 100) + "]\n", "context: '" + "{" * 10 + "'\n", "0x", "~", "null",
    "\\u0000", '"\\x1b\\ud800"', "é漢字🙂", "\r\n", "\r", "#", " #", ": ", "-", "|\n  block\n", ">-\n  folded\n",
]
VALUES = ["", "~", "null", "true", "no", "0", "-1", "0x1F", "1e400", ".nan", "2021-01-01", "2021-13-45",
          "2021-01-01 10:00:00+25:00", "[]", "{}", "[a, b]", "{a: b}", "'quoted'", '"dq \\n"', "x" * 3000,
          "&x v", "*x", "!!str 1", "\u202eevil", "é", "BTC", "DOGECOINZ", "exchange", "exchnage", "forensic"]
KEYS = ["address", "tx_hash", "label", "source", "currency", "network", "confidence", "category", "abuse",
        "actor", "context", "lastmod", "is_cluster_definer", "concepts", "tag_type", "title", "creator",
        "description", "is_public", "tags", "unknown_field", "lable"]


def load_corpus(directory: Path) -> list[tuple[str, str]]:
    out = []
    for p in sorted((directory / "packs").rglob("*")):
        if p.name.endswith((".yaml", ".yaml.gz")):
            raw = p.read_bytes()
            out.append((p.name, (gzip.decompress(raw) if p.name.endswith(".gz") else raw).decode("utf-8")))
    if not out:
        raise SystemExit(f"no TagPacks under {directory / 'packs'}")
    return out


def window(text: str, rng: random.Random) -> str:
    """The pack's header and a random run of its tags (keeps cases fast and the header's defaults)."""
    i = text.find("\ntags:")
    if i < 0 or (len(text) <= FULL_PACK_BYTES and rng.random() < 0.1):
        return text
    head, body = text[:i + 7], text[i + 7:]
    starts = [m.start() for m in re.finditer(r"^- ", body, re.M)]
    if len(starts) <= WINDOW_TAGS:
        return text
    a = rng.randrange(0, len(starts) - WINDOW_TAGS)
    b = a + rng.randint(1, WINDOW_TAGS)
    return head + body[starts[a]:starts[b] if b < len(starts) else len(body)]


def _lines(text: str) -> list[str]:
    return text.split("\n")


def mutate(text: str, rng: random.Random) -> str:
    lines = _lines(text)
    op = rng.randrange(12)
    n = len(lines)
    j = rng.randrange(n)
    if op == 0:      # flip characters
        chars = list(text)
        for _ in range(rng.randint(1, 8)):
            if chars:
                chars[rng.randrange(len(chars))] = chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 32),
                                                                   rng.randrange(0x80, 0x3000)]))
        return "".join(chars)
    if op == 1:
        del lines[j]
    elif op == 2:
        lines.insert(j, lines[j])
    elif op == 3:
        k = rng.randrange(n)
        lines[j], lines[k] = lines[k], lines[j]
    elif op == 4:    # YAML syntax dropped in at a line start or inside a line
        s = rng.choice(SNIPPETS)
        line = lines[j]
        pos = rng.choice([0, len(line), rng.randrange(len(line) + 1)])
        lines[j] = line[:pos] + s + line[pos:]
    elif op == 5:    # indentation
        d = rng.choice([-4, -2, -1, 1, 2, 4])
        lines[j] = (" " * d + lines[j]) if d > 0 else lines[j][-d:] if lines[j][:-d].strip() == "" else lines[j]
    elif op == 6:    # a value replaced
        if ": " in lines[j]:
            k, _, _ = lines[j].partition(": ")
            lines[j] = k + ": " + rng.choice(VALUES)
    elif op == 7:    # truncation
        return text[:rng.randrange(len(text) + 1)]
    elif op == 8:    # a key replaced
        m = re.match(r"^(\s*-?\s*)([A-Za-z_]+):", lines[j])
        if m:
            lines[j] = m.group(1) + rng.choice(KEYS) + ":" + lines[j][m.end():]
    elif op == 9:    # a key doubled
        if ": " in lines[j]:
            ind = re.match(r"^\s*-?\s*", lines[j]).group(0)  # type: ignore[union-attr]
            lines.insert(j + 1, " " * len(ind) + lines[j][len(ind):])
    elif op == 10:   # a run of lines repeated (growth)
        k = min(n, j + rng.randint(1, 20))
        lines[j:j] = lines[j:k] * rng.randint(2, 50)
    else:            # a new field on a tag
        lines.insert(j, f"  {rng.choice(KEYS)}: {rng.choice(VALUES)}")
    return "\n".join(lines)


def _error_class(e: BaseException) -> str:
    msg = str(getattr(e, "message", e))
    msg = re.sub(r"^\S*?:\d+: |^\S+?\.(?:yaml|yml|gz): ", "", msg)
    msg = re.sub(r"'[^']*'|\"[^\"]*\"|[\d,]+", "_", msg)
    return f"{type(e).__name__}: {msg[:70]}"


def run(count: int, seed: int, directory: Path = DEFAULT_DIR, *, first: int = 0, max_case_seconds: float = 2.0,
        max_rss_mb: int = 1024, budget_seconds: float | None = None, out: Path | None = None,
        progress: bool = False) -> dict[str, Any]:
    corpus = load_corpus(directory)
    tax = Taxonomy.packaged()
    classes: Counter[str] = Counter()
    findings: list[dict[str, Any]] = []
    slowest = (0.0, -1, "")
    t_start = time.perf_counter()
    done = 0
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-tagpacks-"))
    for case in range(first, first + count):
        if budget_seconds is not None and time.perf_counter() - t_start > budget_seconds:
            break
        rng = random.Random(f"{seed}:{case}")
        name, text = rng.choice(corpus)
        doc = window(text, rng)
        for _ in range(rng.randint(1, 3)):
            doc = mutate(doc, rng)
        as_file = rng.random() < 0.1
        t0 = time.perf_counter()
        try:
            if as_file:
                gz = rng.random() < 0.5
                p = tmp / (f"case{case}.yaml" + (".gz" if gz else ""))
                data = doc.encode("utf-8", "surrogatepass")
                if rng.random() < 0.3:   # invalid UTF-8 too
                    k = rng.randrange(len(data) + 1)
                    data = data[:k] + bytes([rng.randrange(0x80, 0x100)]) + data[k:]
                p.write_bytes(gzip.compress(data) if gz else data)
                read_tagpack(p, taxonomy=tax, max_bytes=rng.choice([1 << 10, 1 << 16, 32 << 20]))
                p.unlink()
            else:
                parse_tagpack(doc, file=name, uri=name, content_hash="", taxonomy=tax)
            classes["accepted"] += 1
        except ChainsleuthError as e:
            classes[_error_class(e)] += 1
        except Exception as e:  # a finding: not one of ours
            classes["UNEXPECTED " + type(e).__name__] += 1
            findings.append({"case": case, "seed": seed, "pack": name, "kind": "unexpected error",
                             "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(), "doc": doc})
        dt = time.perf_counter() - t0
        if dt > slowest[0]:
            slowest = (dt, case, name)
        if dt > max_case_seconds:
            findings.append({"case": case, "seed": seed, "pack": name, "kind": "slow", "seconds": dt, "doc": doc})
        done += 1
        if progress and done % 1000 == 0:
            print(f"{done} cases, {time.perf_counter() - t_start:.0f} s, {len(findings)} findings", file=sys.stderr)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    if peak > max_rss_mb:
        findings.append({"kind": "memory", "peak_rss_mb": peak})
    if out is not None and findings:
        out.mkdir(parents=True, exist_ok=True)
        for f in findings:
            (out / f"finding-{f.get('case', 'rss')}.json").write_text(json.dumps(f, indent=1), encoding="utf-8")
    return {"cases": done, "seed": seed, "seconds": round(time.perf_counter() - t_start, 1),
            "slowest": {"seconds": round(slowest[0], 3), "case": slowest[1], "pack": slowest[2]},
            "peak_rss_mb": peak, "findings": [{k: v for k, v in f.items() if k not in ("doc", "traceback")}
                                              for f in findings],
            "classes": dict(classes.most_common())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--first", type=int, default=0, help="Number of the first case (to replay one).")
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="graphsense-tagpacks directory.")
    ap.add_argument("--budget-seconds", type=float, default=None, help="Stop after this long.")
    ap.add_argument("--max-case-seconds", type=float, default=2.0)
    ap.add_argument("--max-rss-mb", type=int, default=1024)
    ap.add_argument("--out", type=Path, default=None, help="Directory for findings (one JSON file each).")
    a = ap.parse_args()
    r = run(a.count, a.seed, a.dir, first=a.first, max_case_seconds=a.max_case_seconds, max_rss_mb=a.max_rss_mb,
            budget_seconds=a.budget_seconds, out=a.out, progress=True)
    print(json.dumps(r, indent=1))
    sys.exit(1 if r["findings"] else 0)


if __name__ == "__main__":
    main()
