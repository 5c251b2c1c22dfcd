"""Fixtures for the EVM tests: a real anvil node (npm @foundry-rs/anvil) on 127.0.0.1, contracts compiled at
test time with solcjs (npm solc), and a raw JSON-RPC helper using anvil's unlocked dev accounts."""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from chainsleuth.core.account import keccak256

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = Path(__file__).with_name("contracts.sol")


def _npm_tools() -> tuple[Path, Path]:
    """(anvil binary, solc package dir); installs them with `npm ci` when node_modules is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: the anvil tests need npm packages @foundry-rs/anvil and solc")
    anvil = REPO / "node_modules" / ".bin" / "anvil"
    solc = REPO / "node_modules" / "solc"
    if not anvil.exists() or not solc.exists():
        subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=REPO, check=True, timeout=300)
    if not anvil.exists():
        pytest.fail(f"npm ci did not install {anvil}")
    # prefer the native binary of the platform package (no node wrapper process in between)
    native = sorted((REPO / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil"))
    runnable = [p for p in native if os.access(p, os.X_OK) and platform.system().lower() in p.parent.parent.name]
    return (runnable[0] if runnable else anvil), solc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    """A running anvil and a raw JSON-RPC helper for it."""

    url: str
    proc: subprocess.Popen[bytes]
    accounts: list[str] = field(default_factory=list)

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        r = httpx.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []},
                       timeout=30)
        doc = r.json()
        if "error" in doc:
            raise RuntimeError(f"{method}: {doc['error']}")
        return doc["result"]

    def send(self, frm: str, to: str | None = None, value: int = 0, data: str = "0x", gas: int | None = None) -> str:
        tx: dict[str, Any] = {"from": frm, "value": hex(value), "data": data}
        if to is not None:
            tx["to"] = to
        if gas is not None:
            tx["gas"] = hex(gas)
        return str(self.rpc("eth_sendTransaction", [tx]))

    def mine(self, n: int = 1) -> None:
        for _ in range(n):
            self.rpc("evm_mine", [])

    def receipt(self, h: str) -> dict[str, Any]:
        return dict(self.rpc("eth_getTransactionReceipt", [h]))

    def head(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def balance(self, addr: str, block: int | str = "latest") -> int:
        return int(self.rpc("eth_getBalance", [addr, block if isinstance(block, str) else hex(block)]), 16)

    def call(self, to: str, data: str) -> str:
        return str(self.rpc("eth_call", [{"to": to, "data": data}, "latest"]))

    @staticmethod
    def calldata(sig: str, *args: int | str) -> str:
        return calldata(sig, *args)

    @staticmethod
    def word(v: int | str) -> str:
        return word(v)

    def deploy(self, frm: str, bytecode: str, value: int = 0, args: str = "") -> str:
        h = self.send(frm, None, value, "0x" + bytecode + args, gas=3_000_000)
        self.mine()
        rc = self.receipt(h)
        assert rc["status"] == "0x1", rc
        return str(rc["contractAddress"])


def selector(sig: str) -> str:
    return keccak256(sig.encode()).hex()[:8]


def word(v: int | str) -> str:
    """One ABI word: an int or an address."""
    if isinstance(v, str):
        return v.lower().removeprefix("0x").rjust(64, "0")
    return format(v, "064x")


def calldata(sig: str, *args: int | str) -> str:
    return "0x" + selector(sig) + "".join(word(a) for a in args)


@pytest.fixture(scope="session")
def compiled() -> dict[str, str]:
    """Contract name -> creation bytecode (hex), compiled offline by solcjs through node."""
    _, solc = _npm_tools()
    script = (
        "const solc=require(process.argv[1]);const fs=require('fs');"
        "const input={language:'Solidity',sources:{'c.sol':{content:fs.readFileSync(process.argv[2],'utf8')}},"
        "settings:{optimizer:{enabled:true,runs:200},outputSelection:{'*':{'*':['evm.bytecode.object']}}}};"
        "const out=JSON.parse(solc.compile(JSON.stringify(input)));"
        "const errs=(out.errors||[]).filter(e=>e.severity==='error');"
        "if(errs.length){console.error(JSON.stringify(errs));process.exit(1);}"
        "const res={};for(const [n,c] of Object.entries(out.contracts['c.sol'])) res[n]=c.evm.bytecode.object;"
        "console.log(JSON.stringify(res));"
    )
    r = subprocess.run(["node", "-e", script, str(solc), str(CONTRACTS)], capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout))


def _start_anvil(extra: list[str] | None = None) -> Node:
    anvil, _ = _npm_tools()
    port = _free_port()
    proc = subprocess.Popen([str(anvil), "--host", "127.0.0.1", "--port", str(port), "--silent",
                             "--chain-id", "31337", *(extra or [])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    node = Node(f"http://127.0.0.1:{port}", proc)
    deadline = time.monotonic() + 20
    while True:
        try:
            node.accounts = list(node.rpc("eth_accounts"))
            return node
        except (httpx.HTTPError, OSError):
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                _stop(node)
                pytest.fail(f"anvil did not start on port {port}: {err[:500]}")
            time.sleep(0.1)


def _stop(node: Node) -> None:
    """Stop the anvil we started: its own process group (it was started in a new session), by its pid."""
    if node.proc.poll() is None:
        os.killpg(node.proc.pid, signal.SIGTERM)
        try:
            node.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(node.proc.pid, signal.SIGKILL)
            node.proc.wait(timeout=10)


@pytest.fixture
def anvil() -> Iterator[Node]:
    """A fresh anvil node (auto-mining off: blocks are mined with evm_mine), stopped by its pid."""
    node = _start_anvil(["--no-mining"])
    try:
        yield node
    finally:
        _stop(node)


@pytest.fixture(scope="module")
def anvil_module() -> Iterator[Node]:
    node = _start_anvil(["--no-mining"])
    try:
        yield node
    finally:
        _stop(node)
