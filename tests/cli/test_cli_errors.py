"""The CLI as a user meets it: exit codes, stderr messages, one JSON document on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
