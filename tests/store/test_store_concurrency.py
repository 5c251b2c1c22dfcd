"""Reads while the chain is written: readers in other processes wait for the writer to let them in (between
batches, :meth:`Store.idle`) instead of being refused, a second writer is refused at once naming the first,
and readers only ever see whole committed batches. Real processes (the CLI), real DuckDB file locks."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chainsleuth.store import DB_FILENAME, Store

REPO = Path(__file__).resolve().parents[2]
CHAIN = "btc-regtest"


def cli(ws: Path, *args: str, env: dict[str, str] | None = None, wait: float = 30) -> subprocess.Popen[str]:
    e = {**os.environ, "CHAINSLEUTH_PROGRESS": "never", "CHAINSLEUTH_LOCK_WAIT": str(wait), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(ws), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)


def run(ws: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    p = cli(ws, *args, **kw)
    out, err = p.communicate(timeout=180)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def write_chain(n_txs: int, out: Path, *, txs_per_block: int, seed: int = 1) -> Path:
    """A synthetic regtest chain (bench/_chaingen.py) of small blocks in one blk00000.dat."""
    spec = importlib.util.spec_from_file_location("_chaingen", REPO / "bench" / "_chaingen.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    out.mkdir(parents=True, exist_ok=True)
    g = gen.ChainGenerator(n_txs, seed=seed, txs_per_block=txs_per_block)
    with (out / "blk00000.dat").open("wb") as fh:
        for raw in g.blocks():
            fh.write(gen.REGTEST_MAGIC + len(raw).to_bytes(4, "little") + raw)
    return out


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chain(16_000, tmp_path_factory.mktemp("conc") / "blocks", txs_per_block=150)


def _one_batch_store(ws: Path, chain: Path) -> Store:
    """A writer holding a workspace with the chain ingested, in this process."""
    from chainsleuth.workspace import Workspace

    with Workspace(ws) as w:
        w.ingest.btc_blocks([chain], allow_invalid_pow=True)
    return Store(ws / DB_FILENAME)


def test_second_writer_is_refused_at_once_naming_the_first_also_while_it_is_idle(chain: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    store = _one_batch_store(ws, chain)
    try:
        before = store.db.all("SELECT count(*), sum(output_value) FROM txs")
        for idle in (False, True):
            with store.idle() if idle else _nothing():
                t0 = time.monotonic()
                r = run(ws, "ingest", "btc-blocks", "--allow-invalid-pow", str(chain))
                assert r.returncode == 5, r.stderr
                assert time.monotonic() - t0 < 20, "refused at once, not after waiting"
                assert f"the workspace {ws} is being written by pid {os.getpid()} (" in r.stderr
                assert "wait for it or stop it" in r.stderr and "Traceback" not in r.stderr
                if idle:   # readers get in while the writer is idle
                    s = run(ws, "stats", "--json")
                    assert s.returncode == 0, s.stderr
                    assert json.loads(s.stdout)["chains"][CHAIN]["txs"] == before[0][0]
        assert store.db.all("SELECT count(*), sum(output_value) FROM txs") == before
    finally:
        store.close()
    assert run(ws, "ingest", "btc-blocks", "--allow-invalid-pow", str(chain)).returncode == 0   # lock released


def test_lock_file_names_no_secret_of_the_command_line(tmp_path: Path) -> None:
    code = ("import sys; from chainsleuth.store import Store; sys.argv = ['chainsleuth', 'ingest', "
            "'http://user:hunter2@127.0.0.1:1', '--rpc-password', 'hunter2']; "
            f"s = Store({str(tmp_path / 'x.duckdb')!r}); print(open({str(tmp_path / 'x.duckdb.lock')!r}).read()); s.close()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert r.stdout.startswith("pid ") and "(chainsleuth ingest ...)" in r.stdout and "hunter2" not in r.stdout


def test_reader_waits_for_the_writer_then_fails_naming_it(chain: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    store = _one_batch_store(ws, chain)
    try:
        t0 = time.monotonic()
        r = run(ws, "stats", wait=1.5)
        waited = time.monotonic() - t0
        assert r.returncode == 5, r.stderr
        assert f"the workspace is being written by pid {os.getpid()} (" in r.stderr
        assert "did not let readers in within 1.5 s" in r.stderr and "CHAINSLEUTH_LOCK_WAIT" in r.stderr
        assert waited >= 1.5
    finally:
        store.close()


def test_writer_lets_waiting_readers_in_and_keeps_its_state(chain: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    store = _one_batch_store(ws, chain)
    try:
        n = store.db.one("SELECT count(*) FROM txs")
        w = store.utxo.writer
        w._state(CHAIN)                    # the writer's in-memory indexes, built as by a batch
        assert not store.yield_to_readers(every=0), "nobody waits: nothing to do"
        readers = [cli(ws, "stats", "--json") for _ in range(3)]
        let_in = 0
        deadline = time.monotonic() + 60
        while any(p.poll() is None for p in readers) and time.monotonic() < deadline:
            let_in += store.yield_to_readers(every=0)
            store.db.one("SELECT count(*) FROM txs")       # the writer goes on working in between
            time.sleep(0.05)
        outs = [p.communicate(timeout=30) for p in readers]
        assert all(p.returncode == 0 for p in readers), [e for _, e in outs]
        assert all(json.loads(o)["chains"][CHAIN]["txs"] == n[0] for o, _ in outs)
        assert let_in >= 1
        assert CHAIN in w._states, "nothing changed the file meanwhile: the writer's indexes stay"
        # a program that ignores the writer lock changes the file while the writer is idle: the indexes go
        with store.idle():
            code = (f"import duckdb; c = duckdb.connect({str(ws / DB_FILENAME)!r}); "
                    "c.execute(\"UPDATE blocks SET time = time + 1 WHERE height = 0\"); c.execute('CHECKPOINT'); c.close()")
            subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
        assert CHAIN not in w._states
    finally:
        store.close()


def test_idle_refuses_inside_a_transaction_and_keeps_settings(tmp_path: Path) -> None:
    from chainsleuth.errors import InternalError

    store = Store(tmp_path / "x.duckdb", threads=1)
    try:
        with store.db.transaction(), pytest.raises(InternalError, match="inside a transaction"), store.idle():
            pass
        with store.bulk_load():
            with store.idle():
                pass
            row = store.db.one("SELECT current_setting('threads'), current_setting('checkpoint_threshold')")
            assert row is not None and row[0] == 1 and row[1] != "16.0 MiB"
        assert store.db.one("SELECT count(*) FROM schema_version") is not None
    finally:
        store.close()


def test_reads_continuously_while_an_ingest_writes_many_batches(chain: Path, tmp_path: Path) -> None:
    """`stats` and `show tx` in a loop while the CLI ingests the chain in about 100 batches: never refused,
    and every answer is a whole prefix of committed batches (blocks and transactions agree)."""
    ws = tmp_path / "ws"
    writer = cli(ws, "ingest", "btc-blocks", "--allow-invalid-pow", "--json", str(chain),
                 env={"CHAINSLEUTH_BATCH_TXS": "150"})
    seen: list[tuple[int, int]] = []
    shown = 0
    txid = None
    while writer.poll() is None:
        procs = [cli(ws, "stats", "--json")] + ([cli(ws, "show", "tx", txid, "--json")] if txid else [])
        results = [(p, *p.communicate(timeout=180)) for p in procs]     # two readers at once
        p, out, err = results[0]
        if p.returncode == 3 and ("no workspace" in err or "holds no schema" in err):
            continue     # before the writer's first commit
        assert p.returncode == 0, err
        c = json.loads(out)["chains"].get(CHAIN)
        if c:
            seen.append((c["blocks"], c["txs"]))
        for p, out, err in results[1:]:
            assert p.returncode == 0, err
            assert json.loads(out)["txid"] == txid
            shown += 1
        if txid is None and c:
            with _reader(ws) as st:     # a reader in this process waits its turn the same way
                row = st.db.one("SELECT txid FROM txs WHERE chain = ? ORDER BY tx_id DESC LIMIT 1", [CHAIN])
                assert row is not None
                txid = row[0]
    out, err = writer.communicate()
    assert writer.returncode == 0, err
    assert json.loads(out)["blocks_new"] > 50
    assert len(seen) >= 3, f"too few reads during the ingest ({seen}): make the chain bigger"
    assert seen == sorted(seen) and shown >= 2
    with _reader(ws) as store:
        per_height = dict(store.db.all("SELECT height, tx_count FROM blocks WHERE chain = ?", [CHAIN]))
    prefix = [0]
    for h in range(len(per_height)):
        prefix.append(prefix[-1] + per_height[h])
    for blocks, txs in seen:
        assert prefix[blocks] == txs, f"a reader saw {blocks} blocks with {txs} transactions: not whole batches"


class _reader:
    def __init__(self, ws: Path) -> None:
        self.store = Store(ws / DB_FILENAME, read_only=True)

    def __enter__(self) -> Store:
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.store.close()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
