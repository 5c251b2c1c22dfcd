"""The registry of ingest sources ("ingest source"): every kind of chain data the workspace can ingest.

The built-ins register here through the same call a plugin would use, and the workspace's ingest jobs look
them up by name (``btc-blocks``, ``etl``) or, for node endpoints, by URI scheme (:func:`source_for_uri`):

==============  ========  ==============  ====================================================================
name            model     URI schemes     what it reads
==============  ========  ==============  ====================================================================
btc-blocks      utxo                      Bitcoin Core blk*.dat (xor.dat beside them), raw or hex blocks, dirs
etl             account                   an ethereum-etl export (CSV or JSON lines), one batch per partition
evm-rpc         account   http, https     an EVM JSON-RPC node: blocks, receipts, traces, token metadata
evm-replay      account   replay          recorded JSON-RPC responses (``replay:DIR``), same client code path
btc-rpc         utxo      (by name)       a Bitcoin Core JSON-RPC node (``ingest btc-rpc URL``)
btc-replay      utxo      (by name)       bitcoin-etl's recorded node responses (``ingest btc-rpc replay:DIR``)
==============  ========  ==============  ====================================================================

The Bitcoin node kinds take no URI scheme (``http`` and ``replay`` already name the EVM ones): the
``btc-rpc`` job opens them by name, ``btc-replay`` for a ``replay:`` URI.

Opening a built-in imports its module only then, so listing the sources stays cheap.

>>> SOURCES.names()
['btc-blocks', 'btc-replay', 'btc-rpc', 'etl', 'evm-replay', 'evm-rpc']
>>> source_for_uri("replay:tests/data").name, source_for_uri("HTTPS://node.example").name
('evm-replay', 'evm-rpc')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainsleuth.core.chains import Model
from chainsleuth.core.registry import Registry
from chainsleuth.errors import Unsupported

__all__ = ["SOURCES", "SourceKind", "open_evm_source", "source_for_uri"]


@dataclass(frozen=True)
class SourceKind:
    """One kind of ingest source.

    ``model`` is the ledger model of the chains it holds (it decides which store part the batches go to and
    which chains it may be ingested as); ``open`` builds the source from its target (paths or a URI) and
    options; ``schemes`` are the URI schemes it answers to (node endpoints only).
    """

    name: str
    model: Model
    summary: str
    open: Callable[..., Any]
    schemes: tuple[str, ...] = ()


SOURCES: Registry[SourceKind] = Registry("ingest source")


def source_for_uri(uri: str) -> SourceKind:
    """The registered source answering to the scheme of ``uri`` (case-insensitive); Unsupported otherwise."""
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    for _, kind in SOURCES.items():
        if scheme in kind.schemes:
            return kind
    raise Unsupported(f"cannot ingest from {uri!r}: use an http(s):// JSON-RPC URL or replay:DIR "
                      "(websocket and IPC endpoints are not supported)", field="URL", value=uri)


def open_evm_source(uri: str, chain: str, *, transport: Any = None, **options: Any) -> Any:
    """An EVM node source from the kind registered for the URI's scheme: ``http(s)://`` a live node,
    ``replay:DIR`` recorded responses (ethereum-etl's file naming) served through the same client code path.
    With an injected ``transport`` (an httpx transport, as in tests) any other URI is taken for a live node's.
    ``options`` go to the source (traces, timeout, retries, max_batch, rate_limit, blocks_per_batch, ...)."""
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    kind = SOURCES.get("evm-rpc") if transport is not None and scheme != "replay" else source_for_uri(uri)
    return kind.open(uri, chain, transport=transport, **options)


def _block_files(paths: Sequence[Path], *, chain: str | None = None, skip_bad: bool = False,
                 allow_invalid_pow: bool = False, batch_txs: int = 50_000) -> Any:
    from chainsleuth.sources.btc.files import BlockFileSource

    return BlockFileSource(list(paths), chain=chain, skip_bad=skip_bad, allow_invalid_pow=allow_invalid_pow,
                           batch_txs=batch_txs)


def _etl_export(path: Path, chain: str) -> Any:
    from chainsleuth.sources.etl.ethereum import EthereumEtlSource

    return EthereumEtlSource(path, chain)


def _rpc_node(uri: str, chain: str, **options: Any) -> Any:
    from chainsleuth.sources.evm.source import open_rpc_source

    return open_rpc_source(uri, chain, **options)


def _replay(uri: str, chain: str, **options: Any) -> Any:
    from chainsleuth.sources.evm.source import open_replay_source

    return open_replay_source(uri, chain, **options)


def _btc_node(uri: str, chain: str, **options: Any) -> Any:
    from chainsleuth.sources.btc.rpc import open_btc_rpc_source

    return open_btc_rpc_source(uri, chain, **options)


def _btc_replay(uri: str, chain: str, **options: Any) -> Any:
    from chainsleuth.sources.btc.rpc import open_btc_replay_source

    return open_btc_replay_source(uri, chain, **options)


for _kind in (
    SourceKind("btc-blocks", Model.UTXO, "Bitcoin Core blk*.dat files, raw or hex blocks", _block_files),
    SourceKind("etl", Model.ACCOUNT, "ethereum-etl exports", _etl_export),
    SourceKind("evm-rpc", Model.ACCOUNT, "EVM JSON-RPC nodes", _rpc_node, schemes=("http", "https")),
    SourceKind("evm-replay", Model.ACCOUNT, "recorded JSON-RPC responses", _replay, schemes=("replay",)),
    SourceKind("btc-rpc", Model.UTXO, "Bitcoin Core JSON-RPC nodes", _btc_node),
    SourceKind("btc-replay", Model.UTXO, "recorded Bitcoin node responses (bitcoin-etl naming)", _btc_replay),
):
    SOURCES.add(_kind.name, _kind)
