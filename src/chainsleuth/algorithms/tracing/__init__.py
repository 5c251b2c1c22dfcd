"""Fund tracing over arrays: UTXO and account flow graphs, five allocation policies, exposure, path search
and peel-chain following. Pure numpy/scipy: no store, no I/O (the workspace feeds it arrays)."""

from chainsleuth.algorithms.tracing.account import AccountGraph, trace_account
from chainsleuth.algorithms.tracing.policies import (
    DEFAULT_STOP_AT,
    POLICIES,
    Policy,
    get_policy,
    normalise_stop_at,
)
from chainsleuth.algorithms.tracing.result import ENDPOINT_KINDS, TraceLimits, TraceResult
from chainsleuth.algorithms.tracing.utxo import UtxoGraph, trace_utxo

__all__ = [
    "DEFAULT_STOP_AT",
    "ENDPOINT_KINDS",
    "POLICIES",
    "AccountGraph",
    "Policy",
    "TraceLimits",
    "TraceResult",
    "UtxoGraph",
    "get_policy",
    "normalise_stop_at",
    "trace_account",
    "trace_utxo",
]
