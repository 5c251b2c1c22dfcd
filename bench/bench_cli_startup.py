"""How long a command takes to start: ``--help`` and ``show`` against the interpreter's own floors.

    python bench/bench_cli_startup.py [--repeat 9]

A workspace is made once from a generated regtest chain (bench/_chaingen.py, 2,000 transactions). Then, in
turn and ``--repeat`` times each, fresh processes run:

- ``python -c pass`` (the interpreter's start: the floor of any Python tool),
- ``python -c "import duckdb"`` (the floor of any command that reads the store),
- ``chainsleuth --help``,
- ``chainsleuth show tx TXID`` and ``chainsleuth show address ADDRESS`` on that workspace.

Printed per command: median wall time and median CPU time (user + system of the child), and the ratio to
the floor it stands on. Targets: ``--help`` and ``show`` under 0.5 s on a quiet machine. On a busy machine
wall time follows the load; CPU time is steadier.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _chaingen import write_chain


def _run(cmd: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    py = sys.executable
    cli = [py, "-m", "chainsleuth.cli.main"]
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        info = write_chain(2_000, root / "blocks", seed=1)
        ws = root / "ws"
        subprocess.run([*cli, "--workspace", str(ws), "ingest", "btc-blocks", str(root / "blocks"),
                        "--allow-invalid-pow"], check=True, stdout=subprocess.DEVNULL)
        import duckdb

        con = duckdb.connect(str(ws / "chainsleuth.duckdb"), read_only=True)
        txid = con.execute("SELECT txid FROM txs ORDER BY tx_id DESC LIMIT 1").fetchone()[0]
        addr = con.execute("SELECT address FROM addresses ORDER BY id DESC LIMIT 1").fetchone()[0]
        con.close()
        cmds = {
            "python -c pass": [py, "-c", "pass"],
            "python -c 'import duckdb'": [py, "-c", "import duckdb"],
            "chainsleuth --help": [*cli, "--help"],
            "chainsleuth show tx": [*cli, "--workspace", str(ws), "show", "tx", txid],
            "chainsleuth show address": [*cli, "--workspace", str(ws), "show", "address", addr],
        }
        floors = {"chainsleuth --help": "python -c pass", "chainsleuth show tx": "python -c 'import duckdb'",
                  "chainsleuth show address": "python -c 'import duckdb'"}
        for c in cmds.values():       # warm the file cache and numba's cache once
            _run(c)
        walls: dict[str, list[float]] = {k: [] for k in cmds}
        cpus: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(args.repeat):  # alternate, so that load changes hit every command alike
            for k, c in cmds.items():
                w, u = _run(c)
                walls[k].append(w)
                cpus[k].append(u)
    print(f"chain: {info}; {args.repeat} runs each, alternating; load average {os.getloadavg()[0]:.1f}")
    print(f"{'command':<28} {'wall median':>12} {'CPU median':>11}   vs floor (CPU)   target")
    for k in cmds:
        w, u = statistics.median(walls[k]), statistics.median(cpus[k])
        floor = floors.get(k)
        ratio = f"{u / statistics.median(cpus[floor]):.1f}x {floor}" if floor else ""
        target = ("ok" if w < 0.5 else "OVER 0.5 s") if k.startswith("chainsleuth") else ""
        print(f"{k:<28} {w:>10.3f} s {u:>9.3f} s   {ratio:<34} {target}")


if __name__ == "__main__":
    main()
