"""Crash safety: `chainsleuth ingest btc-blocks` killed with SIGKILL at seeded random moments (mid-batch,
between batches while the database is closed for readers, during the workspace's creation) and resumed
with the same command gives a store identical, table by table, to one uninterrupted run. A second writer
meanwhile is refused and changes nothing.

``CHAINSLEUTH_KILL_POINTS`` sets how many random kills the main test makes (default 10; the long form in
docs/reliability.md used 50)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chainsleuth.store import DB_FILENAME, Store
from chainsleuth.store.runs import KILLED_NOTE

from ..store._canon import canonical_tables

REPO = Path(__file__).resolve().parents[2]
CHAIN = "btc-regtest"
POINTS = int(os.environ.get("CHAINSLEUTH_KILL_POINTS", "10"))
ENV = {**os.environ, "CHAINSLEUTH_PROGRESS": "never", "CHAINSLEUTH_BATCH_TXS": "400"}


def _ingest(ws: Path, blocks: Path, *, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(ws), "ingest",
                             "btc-blocks", "--allow-invalid-pow", str(blocks)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env or ENV)


def _finish(p: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = p.communicate(timeout=300)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def _tables(ws: Path) -> dict[str, Any]:
    s = Store(ws / DB_FILENAME, read_only=True)
    try:
        return canonical_tables(s, CHAIN)
    finally:
        s.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], float]:
    """A generated chain of small blocks (about 40 batches), its tables after one uninterrupted ingest and how
    long that ingest took."""
    spec = importlib.util.spec_from_file_location("_chaingen", REPO / "bench" / "_chaingen.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    d = tmp_path_factory.mktemp("kill")
    (d / "blocks").mkdir()
    g = gen.ChainGenerator(16_000, seed=5, txs_per_block=100)
    with (d / "blocks" / "blk00000.dat").open("wb") as fh:
        for raw in g.blocks():
            fh.write(gen.REGTEST_MAGIC + len(raw).to_bytes(4, "little") + raw)
    t0 = time.monotonic()
    r = _finish(_ingest(d / "clean", d / "blocks"))
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    return d / "blocks", _tables(d / "clean"), took


def test_killed_at_random_points_and_resumed_equals_one_run(world: tuple[Path, dict[str, Any], float],
                                                            tmp_path: Path) -> None:
    blocks, clean, took = world
    rng = np.random.default_rng(20261202)
    ws = tmp_path / "ws"
    kills = attempts = 0
    while kills < POINTS:
        attempts += 1
        assert attempts < POINTS * 4, f"only {kills} of {attempts} runs were still going when killed"
        p = _ingest(ws, blocks)
        time.sleep(float(rng.uniform(0.05, 1.0)) * took)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.communicate(timeout=60)
        if p.returncode == 0:       # it finished first: start over, so that later kills land mid-ingest too
            assert _tables(ws) == clean
            shutil.rmtree(ws)
    r = _finish(_ingest(ws, blocks))
    assert r.returncode == 0, r.stderr
    assert _tables(ws) == clean
    s = Store(ws / DB_FILENAME, read_only=True)
    try:
        notes = [n for (n,) in s.db.all("SELECT notes FROM ingest_runs ORDER BY run_id")]
    finally:
        s.close()
    assert sum(KILLED_NOTE in (n or "") for n in notes) >= 1
    assert r.stderr.count("Traceback") == 0


_IDLE_THEN_HANG = """
import sys, time
from chainsleuth.store import Store
from chainsleuth.workspace import Workspace
from chainsleuth.config import load_settings
done = [0]
def idle_forever(self, *, every=1.0):
    done[0] += 1
    if done[0] < int(sys.argv[3]):
        return False
    with self.idle():
        print("idle", flush=True)
        time.sleep(600)
    return True
Store.yield_to_readers = idle_forever
with Workspace(sys.argv[1], settings=load_settings(sys.argv[1])) as ws:
    ws.ingest.btc_blocks([sys.argv[2]], allow_invalid_pow=True)
"""


@pytest.mark.parametrize("after_batches", [1, 7])
def test_killed_while_the_database_is_closed_for_readers(world: tuple[Path, dict[str, Any], float], tmp_path: Path,
                                                        after_batches: int) -> None:
    """SIGKILL while the writer is inside Store.idle() (checkpointed, closed, lock held), then resumed."""
    blocks, clean, _ = world
    ws = tmp_path / "ws"
    p = subprocess.Popen([sys.executable, "-c", _IDLE_THEN_HANG, str(ws), str(blocks), str(after_batches)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line.strip() == "idle", p.stderr.read() if p.stderr else ""
    second = _finish(_ingest(ws, blocks))            # the idle writer still holds the workspace
    assert second.returncode == 5 and f"being written by pid {p.pid}" in second.stderr, second.stderr
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    r = _finish(_ingest(ws, blocks))
    assert r.returncode == 0, r.stderr
    assert _tables(ws) == clean


def test_killed_while_the_workspace_is_created(world: tuple[Path, dict[str, Any], float], tmp_path: Path) -> None:
    """SIGKILL a few milliseconds after the database file appears (the schema is being written)."""
    blocks, clean, _ = world
    rng = np.random.default_rng(7)
    for i in range(3):
        ws = tmp_path / f"ws{i}"
        p = _ingest(ws, blocks)
        deadline = time.monotonic() + 60
        while not (ws / DB_FILENAME).exists() and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(float(rng.uniform(0, 0.03)))
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=60)
        r = _finish(_ingest(ws, blocks))
        assert r.returncode == 0, r.stderr
        assert _tables(ws) == clean


def test_second_writer_is_refused_and_changes_nothing(world: tuple[Path, dict[str, Any], float],
                                                     tmp_path: Path) -> None:
    blocks, clean, _ = world
    ws = tmp_path / "ws"
    first = _ingest(ws, blocks)
    deadline = time.monotonic() + 60
    while not (ws / (DB_FILENAME + ".lock")).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    second = _finish(_ingest(ws, blocks))
    r = _finish(first)
    assert r.returncode == 0, r.stderr
    assert second.returncode == 5, second.stderr
    assert f"is being written by pid {first.pid} (" in second.stderr and "wait for it or stop it" in second.stderr
    assert _tables(ws) == clean
