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
    "progress": ("CHAINSLEUTH_PROGRESS", "'auto' (bar on a terminal), 'always' or 'never'"),
    "rpc_timeout": ("CHAINSLEUTH_RPC_TIMEOUT", "seconds before a node request times out (default 30)"),
    "rpc_retries": ("CHAINSLEUTH_RPC_RETRIES", "retries of a failed node request (default 5)"),
    "rpc_max_wait": ("CHAINSLEUTH_RPC_MAX_WAIT",
                     "longest wait in seconds before retrying a node request, also when the node's "
                     "Retry-After asks for more (default 30)"),
    "esplora_url": ("CHAINSLEUTH_ESPLORA_URL",
                    "base URL of an Esplora-compatible API (e.g. https://blockstream.info/api); when set, show and "
                    "trace fetch what the workspace lacks from it before answering (--esplora URL wins)"),
    "cluster_alert_size": ("CHAINSLEUTH_CLUSTER_ALERT_SIZE",
                           "alert when a clustering merge joins two clusters of at least this many addresses "
                           "(default 1000)"),
}


@dataclass(frozen=True)
class Settings:
    workspace: Path = field(default_factory=lambda: Path(DEFAULT_WORKSPACE))
    threads: int | None = None
    memory_limit: str | None = None
    progress: str = "auto"
    rpc_timeout: float = 30.0
    rpc_retries: int = 5
    rpc_max_wait: float = 30.0
    cluster_alert_size: int = 1000
    esplora_url: str | None = None


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
        rpc_timeout=float(e.get("CHAINSLEUTH_RPC_TIMEOUT", "30")),
        rpc_retries=int(e.get("CHAINSLEUTH_RPC_RETRIES", "5")),
        rpc_max_wait=float(e.get("CHAINSLEUTH_RPC_MAX_WAIT", "30")),
        cluster_alert_size=int(e.get("CHAINSLEUTH_CLUSTER_ALERT_SIZE", "1000")),
        esplora_url=e.get("CHAINSLEUTH_ESPLORA_URL") or None,
    )
