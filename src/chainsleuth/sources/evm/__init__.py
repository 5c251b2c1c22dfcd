"""EVM chains over JSON-RPC: the client (:mod:`.rpc`), pure mappers of node JSON (:mod:`.mappers`) and the
source (:mod:`.source`): a live node (:func:`open_rpc_source`) or recorded responses (:func:`open_replay_source`),
picked from the URI scheme by :func:`chainsleuth.sources.registry.open_evm_source`."""

from chainsleuth.sources.evm.source import (
    TRACE_MODES,
    AccountSource,
    EvmRpcSource,
    open_replay_source,
    open_rpc_source,
)

__all__ = ["TRACE_MODES", "AccountSource", "EvmRpcSource", "open_replay_source", "open_rpc_source"]
