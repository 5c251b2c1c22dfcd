"""EVM chains over JSON-RPC: the client (:mod:`.rpc`), pure mappers of node JSON (:mod:`.mappers`) and the
source (:mod:`.source`). The adapter is picked from the URI scheme by :func:`open_evm_source`."""

from chainsleuth.sources.evm.source import TRACE_MODES, AccountSource, EvmRpcSource, open_evm_source

__all__ = ["TRACE_MODES", "AccountSource", "EvmRpcSource", "open_evm_source"]
