"""Recorded Esplora answers served as an httpx transport: the API's JSON kept in files, one per request path.

A request for ``/tx/TXID/outspends`` (below any base path, such as ``/api``) is answered from
``DIR/tx_TXID_outspends.json`` (``.txt`` for the plain
text answers: ``/block-height/H``, ``/blocks/tip/height``); a path with no file is answered 404 naming the file
it looked for. The client, the checks and the store see exactly what a live server would send, so tests,
demos and training run the same code path as a live lookup. ``served`` counts the answers per path.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx

__all__ = ["EsploraReplayTransport", "recording_name"]


def recording_name(path: str) -> str:
    """The file name (without extension) of the recording for a request path.

    >>> recording_name("/address/bc1qexample/txs/chain/" + "ab" * 32)[:34]
    'address_bc1qexample_txs_chain_abab'
    """
    return "_".join(p for p in path.split("?")[0].split("/") if p)


class EsploraReplayTransport(httpx.BaseTransport):
    """Answers requests from the recordings in ``directory`` (see the module docstring)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.served: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        parts = [p for p in request.url.path.split("/") if p]
        for skip in range(len(parts)):      # the API's base path (``/api``) is not part of the names
            name = "_".join(parts[skip:])
            for ext, ctype in ((".json", "application/json"), (".txt", "text/plain")):
                f = self.directory / (name + ext)
                if f.is_file():
                    self.served[request.url.path] += 1
                    return httpx.Response(200, content=f.read_bytes(), headers={"content-type": ctype})
        name = recording_name(request.url.path)
        return httpx.Response(404, text=f"no recording {name}.json or {name}.txt in {self.directory}")
