"""The CLI as a user meets it: exit codes, stderr messages, one JSON document on stdout."""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from chainsleuth.core.btc.builder import BlockBuilder
from chainsleuth.errors import SourceError
from chainsleuth.store import db
from chainsleuth.store.runs import KILLED_NOTE
from chainsleuth.training.output import write_files
from chainsleuth.workspace import Workspace


def run(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(ws), *args],
                          capture_output=True, text=True, check=False, timeout=120)


def _empty_workspace(path: Path) -> None:
    with Workspace(path) as ws:
        ws.queries.stats()


def test_query_on_missing_workspace_says_what_to_do(tmp_path: Path) -> None:
    r = run(tmp_path / "nope", "stats", "--json")
    assert r.returncode == 3
    assert "no workspace at" in r.stderr and "ingest" in r.stderr
    assert r.stdout == ""
    assert not (tmp_path / "nope").exists(), "a read-only query must not create a workspace"


def test_bad_txid_is_invalid_input(tmp_path: Path) -> None:
    _empty_workspace(tmp_path)
    r = run(tmp_path, "show", "tx", "xyz")
    assert r.returncode == 2, r.stderr
    assert "'xyz' is not a transaction id" in r.stderr


def test_unknown_txid_is_not_found(tmp_path: Path) -> None:
    _empty_workspace(tmp_path)
    r = run(tmp_path, "show", "tx", "ab" * 32)
    assert r.returncode == 3, r.stderr
    assert "not in this workspace" in r.stderr


def test_unreadable_path_names_the_file(tmp_path: Path) -> None:
    r = run(tmp_path, "ingest", "btc-blocks", str(tmp_path / "missing.dat"))
    assert r.returncode == 2, r.stderr
    assert "missing.dat" in r.stderr


def test_stats_json_is_one_document(tmp_path: Path) -> None:
    _empty_workspace(tmp_path)
    r = run(tmp_path, "stats", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema_version"] >= 2 and doc["chains"] == {}


def test_usage_error_exit_code(tmp_path: Path) -> None:
    r = run(tmp_path, "show", "block")
    assert r.returncode == 2
    assert "Missing argument" in r.stderr


# -- interruptions, killed runs, workspace creation, full disk ------------------------------------------

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def big_chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A synthetic chain big enough to be stopped mid-ingest, and the stats of a clean ingest of it."""
    spec = importlib.util.spec_from_file_location("_chaingen", REPO / "bench" / "_chaingen.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    d = tmp_path_factory.mktemp("chain")
    gen.write_chain(60_000, d / "blocks")
    clean = d / "clean"
    r = run(clean, "ingest", "btc-blocks", "--allow-invalid-pow", str(d / "blocks"))
    assert r.returncode == 0, r.stderr
    return d / "blocks", json.loads(run(clean, "stats", "--json").stdout)


def _start_and_stop(ws: Path, blocks: Path, sig: int) -> subprocess.CompletedProcess[str]:
    """Start an ingest, send ``sig`` once its first batch is committed (the write-ahead log appears)."""
    p = subprocess.Popen([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(ws), "ingest",
                          "btc-blocks", "--allow-invalid-pow", str(blocks)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    wal = ws / "chainsleuth.duckdb.wal"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None and not (wal.exists() and wal.stat().st_size > 1 << 20):
        time.sleep(0.05)
    assert p.poll() is None, "the ingest ended before it could be interrupted: make the chain bigger"
    p.send_signal(sig)
    out, err = p.communicate(timeout=120)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_ingest_exits_cleanly_and_rerun_completes(big_chain: tuple[Path, dict], tmp_path: Path,
                                                            sig: int, code: int) -> None:
    blocks, clean = big_chain
    ws = tmp_path / "ws"
    r = _start_and_stop(ws, blocks, sig)
    assert r.returncode == code, r.stderr
    assert "interrupted; the workspace is consistent; run the same command to resume" in r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    part = run(ws, "stats", "--json")
    assert part.returncode == 0, part.stderr
    with Workspace(ws) as w:
        [stopped] = w.store.runs.list()
        assert stopped.finished_at is not None and "interrupted" in stopped.notes
    again = run(ws, "ingest", "btc-blocks", "--allow-invalid-pow", "--json", str(blocks))
    assert again.returncode == 0, again.stderr
    assert _figures(json.loads(run(ws, "stats", "--json").stdout)) == _figures(clean)


def _figures(stats: dict) -> dict:
    """Stats without the line naming the runs (an interrupted workspace has one run more)."""
    return {c: {k: v for k, v in d.items() if k != "proof_of_work"} for c, d in stats["chains"].items()}


def test_killed_run_is_marked_on_next_open(big_chain: tuple[Path, dict], tmp_path: Path) -> None:
    blocks, clean = big_chain
    ws = tmp_path / "ws"
    r = _start_and_stop(ws, blocks, signal.SIGKILL)
    assert r.returncode == -signal.SIGKILL
    assert run(ws, "stats").returncode == 0
    with Workspace(ws) as w:      # a writer: no other process holds the workspace
        [killed] = w.store.runs.list()
        assert killed.finished_at is not None and KILLED_NOTE in killed.notes
    assert run(ws, "ingest", "btc-blocks", "--allow-invalid-pow", str(blocks)).returncode == 0
    assert _figures(json.loads(run(ws, "stats", "--json").stdout)) == _figures(clean)


def test_workspace_creation_is_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = db.migration_files()
    monkeypatch.setattr(db, "migration_files", lambda: [*real, (999, "broken", "CREATE TABLE broken (")])
    with pytest.raises(Exception, match=r"(?i)syntax|parser"):
        _ = Workspace(tmp_path / "ws").store
    monkeypatch.undo()
    r = run(tmp_path / "ws", "stats")
    assert r.returncode == 3, r.stderr
    assert "holds no schema" in r.stderr and "internal error" not in r.stderr
    r = run(tmp_path / "ws", "show", "block", "0")
    assert r.returncode == 3, r.stderr
    _empty_workspace(tmp_path / "ws")            # a writer creates it
    assert run(tmp_path / "ws", "stats").returncode == 0


@pytest.mark.parametrize("path", ["/proc/xx", "/proc/self/nope/ws"])
def test_workspace_that_cannot_be_created_is_a_usage_error(path: str) -> None:
    r = run(Path(path), "ingest", "btc-blocks", str(REPO / "pyproject.toml"))
    assert r.returncode == 2, r.stderr
    assert f"cannot create the workspace directory {path}" in r.stderr and "internal error" not in r.stderr


@pytest.mark.parametrize("make", [lambda: OSError(errno.ENOSPC, "No space left on device"),
                                  lambda: duckdb.IOException('Could not write file "x.wal": No space left on device')])
def test_full_disk_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make) -> None:
    bb = BlockBuilder("btc-regtest", seed=8)
    bb.add_block([])
    write_files(tmp_path / "blk", bb.blk_files())
    with Workspace(tmp_path / "ws") as ws:
        before = ws.queries.stats()
        real = ws.store.utxo.writer.write_batch

        def full(batch, run_id):   # the disk fills while the batch is written, inside its transaction
            with ws.store.db.transaction() as con:
                con.execute("INSERT INTO ingest_runs (run_id, chain, source_kind, endpoint, software_version, "
                            "content_hash, started_at) VALUES (999, 'x', 'x', 'x', 'x', 'x', 0)")
                raise make()
            return real(batch, run_id)

        monkeypatch.setattr(ws.store.utxo.writer, "write_batch", full)
        with pytest.raises(SourceError) as ei:
            ws.ingest.btc_blocks([tmp_path / "blk"], allow_invalid_pow=True)
        assert "the disk holding the workspace" in ei.value.message and str(tmp_path / "ws") in ei.value.message
        assert "MB free" in ei.value.message and ei.value.details["free_bytes"] > 0 and ei.value.exit_code == 7
        assert ws.queries.stats() == before
        assert 999 not in [r.run_id for r in ws.store.runs.list()]     # the batch's transaction rolled back


def test_piped_progress_prints_a_line_every_interval_with_total_and_time_left(big_chain: tuple[Path, dict],
                                                                             tmp_path: Path) -> None:
    blocks, _ = big_chain
    env = {**os.environ, "CHAINSLEUTH_PROGRESS_INTERVAL": "0.05"}
    r = subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(tmp_path / "ws"), "ingest",
                        "btc-blocks", "--allow-invalid-pow", str(blocks)], capture_output=True, text=True,
                       check=False, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("ingest ")]
    assert len(lines) >= 3, r.stderr                           # a pipe sees the job move
    assert all(" MB of " in x and "%" in x and "MB/s" in x and "elapsed" in x for x in lines)
    assert any("left" in x for x in lines[:-1]) and lines[-1].split(": ", 1)[1].startswith("done, ")
    quiet = subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(tmp_path / "ws2"),
                            "--progress", "never", "ingest", "btc-blocks", "--allow-invalid-pow", str(blocks)],
                           capture_output=True, text=True, check=False, timeout=120, env=env)
    assert quiet.returncode == 0 and not [x for x in quiet.stderr.splitlines() if x.startswith("ingest ")]
