"""Settings. This module is the only reader of the process environment.

Every setting has a default, an environment variable and (where it makes sense) a CLI flag that wins
over the environment. ``docs/settings.md`` lists them; a test fails when one is undocumented.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SETTINGS_DOC", "Settings", "load_settings"]

DEFAULT_WORKSPACE = "chainsleuth-workspace"

#: name -> (environment variable, description). Kept in sync with docs/settings.md by a test.
SETTINGS_DOC: dict[str, tuple[str, str]] = {
    "workspace": ("CHAINSLEUTH_WORKSPACE", "workspace directory (DuckDB file and case files)"),
    "threads": ("CHAINSLEUTH_THREADS", "DuckDB worker threads (default: all cores)"),
    "memory_limit": ("CHAINSLEUTH_MEMORY_LIMIT", "DuckDB memory limit, e.g. '4GB' (default: DuckDB's own)"),
    "progress": ("CHAINSLEUTH_PROGRESS", "'auto' (a bar on a terminal; when piped, a line every "
                 "progress_interval seconds), 'always' (the bar) or 'never'"),
    "progress_interval": ("CHAINSLEUTH_PROGRESS_INTERVAL",
                          "seconds between progress lines when stderr is not a terminal (default 5)"),
    "rpc_timeout": ("CHAINSLEUTH_RPC_TIMEOUT", "seconds before a node request times out (default 30)"),
    "rpc_retries": ("CHAINSLEUTH_RPC_RETRIES", "retries of a failed node request (default 5)"),
    "rpc_max_wait": ("CHAINSLEUTH_RPC_MAX_WAIT",
                     "longest wait in seconds before retrying a node request, also when the node's "
                     "Retry-After asks for more (default 30)"),
    "rpc_password": ("CHAINSLEUTH_RPC_PASSWORD",
                     "password for a Bitcoin node's RPC with --rpc-user (never printed or stored; default none)"),
    "esplora_parallel": ("CHAINSLEUTH_ESPLORA_PARALLEL",
                         "requests in flight at once to the Esplora API in on-demand lookups (default 8)"),
    "esplora_url": ("CHAINSLEUTH_ESPLORA_URL",
                    "base URL of an Esplora-compatible API (e.g. https://blockstream.info/api); when set, show and "
                    "trace fetch what the workspace lacks from it before answering (--esplora URL wins)"),
    "cluster_alert_size": ("CHAINSLEUTH_CLUSTER_ALERT_SIZE",
                           "alert when a clustering merge joins two clusters of at least this many addresses "
                           "(default 1000)"),
    "batch_txs": ("CHAINSLEUTH_BATCH_TXS",
                  "transactions per store transaction when ingesting block files (default 50000; smaller batches "
                  "use less memory and let readers in sooner, larger ones ingest faster)"),
    "lock_wait": ("CHAINSLEUTH_LOCK_WAIT",
                  "seconds a reading command waits for a running ingest to let it in before it fails naming the "
                  "writer (default 30; the writer waits up to 10 times as long for readers to close)"),
}


@dataclass(frozen=True)
class Settings:
    workspace: Path = field(default_factory=lambda: Path(DEFAULT_WORKSPACE))
    threads: int | None = None
    memory_limit: str | None = None
    progress: str = "auto"
    progress_interval: float = 5.0
    rpc_timeout: float = 30.0
    rpc_retries: int = 5
    rpc_max_wait: float = 30.0
    rpc_password: str | None = field(default=None, repr=False)
    cluster_alert_size: int = 1000
    lock_wait: float = 30.0
    batch_txs: int = 50_000
    esplora_url: str | None = None
    esplora_parallel: int = 8


def load_settings(workspace: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Settings from the environment, with explicit arguments winning."""
    e = os.environ if env is None else env
    ws = workspace if workspace is not None else e.get("CHAINSLEUTH_WORKSPACE", DEFAULT_WORKSPACE)
    threads = e.get("CHAINSLEUTH_THREADS")
    return Settings(
        workspace=Path(ws),
        threads=int(threads) if threads else None,
        memory_limit=e.get("CHAINSLEUTH_MEMORY_LIMIT") or None,
        progress=e.get("CHAINSLEUTH_PROGRESS", "auto"),
        progress_interval=float(e.get("CHAINSLEUTH_PROGRESS_INTERVAL", "5")),
        rpc_timeout=float(e.get("CHAINSLEUTH_RPC_TIMEOUT", "30")),
        rpc_retries=int(e.get("CHAINSLEUTH_RPC_RETRIES", "5")),
        rpc_max_wait=float(e.get("CHAINSLEUTH_RPC_MAX_WAIT", "30")),
        rpc_password=e.get("CHAINSLEUTH_RPC_PASSWORD") or None,
        cluster_alert_size=int(e.get("CHAINSLEUTH_CLUSTER_ALERT_SIZE", "1000")),
        lock_wait=float(e.get("CHAINSLEUTH_LOCK_WAIT", "30")),
        batch_txs=int(e.get("CHAINSLEUTH_BATCH_TXS", "50000")),
        esplora_url=e.get("CHAINSLEUTH_ESPLORA_URL") or None,
        esplora_parallel=int(e.get("CHAINSLEUTH_ESPLORA_PARALLEL", "8")),
    )
