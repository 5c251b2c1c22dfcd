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


# -- a fake JSON-RPC node on 127.0.0.1 serving a synthetic chain ------------------------------------------
GWEI = 10**9
ETHER = 10**18
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def fake_hash(label: str) -> str:
    return "0x" + keccak256(label.encode()).hex()


def fake_addr(label: str) -> str:
    return "0x" + keccak256(label.encode()).hex()[:40]


@dataclass
class Raw:
    """A whole HTTP answer in place of the JSON-RPC one (an error status, a body that is not JSON, a delay)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def synth_chain(n_blocks: int = 8) -> dict[str, Any]:
    """A consistent chain of ``n_blocks`` blocks as a node would serve it (full blocks, receipts, Parity
    traces): ETH payments, an ERC-20 transfer every third block, a contract paying on every second block
    (an internal transfer) and a beacon withdrawal every fourth block."""
    alice, bob, carol, dave, erin, frank = (fake_addr(n) for n in ("alice", "bob", "carol", "dave", "erin", "frank"))
    token, payer, miner = fake_addr("token"), fake_addr("payer"), fake_addr("miner")
    blocks, receipts, traces = [], [], []
    parent = "0x" + "00" * 32
    for k in range(n_blocks):
        bh = fake_hash(f"block {k}")
        base = 7 * GWEI + k
        txs: list[dict[str, Any]] = []
        rcs: list[dict[str, Any]] = []
        trs: list[dict[str, Any]] = []

        def add(frm: str, to: str, value: int, gas_used: int, logs: list[dict[str, Any]], internal: list[Any],
                bh: str = bh, k: int = k, base: int = base, txs: list[Any] = txs, rcs: list[Any] = rcs,
                trs: list[Any] = trs) -> None:
            i = len(txs)
            th = fake_hash(f"tx {k} {i}")
            txs.append({"hash": th, "blockHash": bh, "blockNumber": hex(k), "transactionIndex": hex(i), "from": frm,
                        "to": to, "value": hex(value), "nonce": hex(k * 3 + i), "type": "0x2", "gas": hex(100_000),
                        "gasPrice": hex(base + GWEI), "maxFeePerGas": hex(base + 2 * GWEI),
                        "maxPriorityFeePerGas": hex(GWEI), "input": "0x", "chainId": "0x7a69"})
            for j, lg in enumerate(logs):
                lg.update({"blockHash": bh, "blockNumber": hex(k), "transactionHash": th, "transactionIndex": hex(i),
                           "logIndex": hex(j), "removed": False})
            rcs.append({"transactionHash": th, "transactionIndex": hex(i), "blockHash": bh, "blockNumber": hex(k),
                        "from": frm, "to": to, "status": "0x1", "gasUsed": hex(gas_used),
                        "cumulativeGasUsed": hex(gas_used * (i + 1)), "effectiveGasPrice": hex(base + GWEI),
                        "contractAddress": None, "logs": logs, "logsBloom": "0x" + "00" * 256, "type": "0x2"})
            common = {"blockHash": bh, "blockNumber": k, "transactionHash": th, "transactionPosition": i}
            trs.append({"action": {"callType": "call", "from": frm, "to": to, "value": hex(value), "gas": "0x0",
                                   "input": "0x"}, "result": {"gasUsed": hex(gas_used), "output": "0x"},
                        "subtraces": len(internal), "traceAddress": [], "type": "call", **common})
            for s, (src, dst, v) in enumerate(internal):
                trs.append({"action": {"callType": "call", "from": src, "to": dst, "value": hex(v), "gas": "0x0",
                                       "input": "0x"}, "result": {"gasUsed": "0x0", "output": "0x"},
                            "subtraces": 0, "traceAddress": [s], "type": "call", **common})

        if k > 0:
            add(alice, bob, k * ETHER, 21_000, [], [])
            if k % 3 == 0:
                add(carol, token, 0, 50_000, [{"address": token, "data": "0x" + format(1000 + k, "064x"),
                                               "topics": [TRANSFER_TOPIC, "0x" + carol[2:].rjust(64, "0"),
                                                          "0x" + dave[2:].rjust(64, "0")]}], [])
            if k % 2 == 0:
                add(alice, payer, 2 * ETHER, 40_000, [], [(payer, frank, ETHER // 2)])
        withdrawals = ([{"index": hex(k), "validatorIndex": "0x5", "address": erin, "amount": hex(k * GWEI)}]
                       if k % 4 == 0 and k else [])
        blocks.append({"number": hex(k), "hash": bh, "parentHash": parent, "timestamp": hex(1_700_000_000 + 12 * k),
                       "miner": miner, "gasUsed": hex(sum(int(r["gasUsed"], 16) for r in rcs)),
                       "gasLimit": hex(30_000_000), "baseFeePerGas": hex(base), "size": hex(600 + k),
                       "transactionsRoot": fake_hash(f"root {k}"), "transactions": txs,
                       "withdrawals": withdrawals, "withdrawalsRoot": fake_hash(f"withdrawals {k}"), "nonce": "0x0000000000000000", "difficulty": "0x0",
                       "extraData": "0x"})
        receipts.append(rcs)
        traces.append(trs)
        parent = bh
    return {"chain_id": 31337, "blocks": blocks, "receipts": receipts, "traces": traces,
            "people": {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "erin": erin, "frank": frank}}


class FakeNode:
    """A threaded HTTP JSON-RPC server on 127.0.0.1 answering from :func:`synth_chain`.

    ``hook(method, params, result)`` may replace a result (return something else) or the whole HTTP answer
    (return a :class:`Raw`); it runs on every request, so a test can lie about one block or field."""

    def __init__(self, chain: dict[str, Any]) -> None:
        import http.server
        import threading

        self.data = chain
        self.hook: Any = None
        self.calls: list[tuple[str, list[Any]]] = []
        node = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                reqs = body if isinstance(body, list) else [body]
                out: list[Any] = []
                raw: Raw | None = None
                for r in reqs:
                    node.calls.append((r["method"], r["params"]))
                    res = node.answer(r["method"], r["params"])
                    if node.hook is not None and "error" not in res:
                        new = node.hook(r["method"], r["params"], res["result"])
                        if isinstance(new, Raw):
                            raw = raw or new
                        else:
                            res = {"result": new}
                    out.append({"jsonrpc": "2.0", "id": r["id"], **res})
                if raw is not None:
                    status, payload, headers = raw.status, raw.body, raw.headers
                    if raw.delay:
                        time.sleep(raw.delay)
                else:
                    status, headers = 200, {}
                    payload = json.dumps(out if isinstance(body, list) else out[0]).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *a: Any) -> None:
                pass

        self._srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._srv.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._srv.server_address[1]}/"
        self._thread = threading.Thread(target=self._srv.serve_forever, daemon=True)
        self._thread.start()

    def answer(self, method: str, params: list[Any]) -> dict[str, Any]:
        """The honest answer: ``{"result": ...}`` or ``{"error": ...}``."""
        d = self.data
        n = len(d["blocks"])

        def num(p: Any) -> int:
            return n - 1 if p == "latest" else int(p, 16)

        if method == "eth_chainId":
            return {"result": hex(d["chain_id"])}
        if method == "eth_blockNumber":
            return {"result": hex(n - 1)}
        if method == "eth_getBlockByNumber":
            k = num(params[0])
            if k >= n:
                return {"result": None}
            b = json.loads(json.dumps(d["blocks"][k]))
            if not params[1]:
                b["transactions"] = [t["hash"] for t in b["transactions"]]
            return {"result": b}
        if method in ("eth_getBlockReceipts", "trace_block"):
            k = num(params[0])
            if k >= n:
                return {"result": None}
            part = d["receipts" if method == "eth_getBlockReceipts" else "traces"][k]
            return {"result": json.loads(json.dumps(part))}
        if method == "eth_call":
            return {"error": {"code": 3, "message": "execution reverted"}}
        return {"error": {"code": -32601, "message": f"the method {method} does not exist/is not available"}}

    def close(self) -> None:
        self._srv.shutdown()
        self._srv.server_close()


FakeNode.Raw = Raw  # type: ignore[attr-defined]


@pytest.fixture
def fake_nodes() -> Iterator[Any]:
    """``make(n_blocks)`` -> a :class:`FakeNode` serving ``synth_chain(n_blocks)`` (``.Raw`` is :class:`Raw`);
    set ``.hook`` to make it lie. All are stopped at the end."""
    made: list[FakeNode] = []

    def make(n_blocks: int = 8) -> FakeNode:
        made.append(FakeNode(synth_chain(n_blocks)))
        return made[-1]

    try:
        yield make
    finally:
        for node in made:
            node.close()
