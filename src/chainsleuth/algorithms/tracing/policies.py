"""Tracing policies: how a transaction (or an account's balance pool) passes taint from what comes in to
what goes out. Each policy is a :class:`Policy` registered in :data:`POLICIES`; built-ins register there too.

The five built-ins (definitions in DESIGN.md "Tracing semantics", background in docs/tracing.md):

========  =============  ===========================================================================
name      mode           rule
========  =============  ===========================================================================
poison    full           any tainted input taints every output fully (does not conserve value)
haircut   proportional   each output carries ``w_j * sum(t_i) / sum(v_i)``
fifo      positional     inputs end to end in input order (taint first inside an input), outputs in
                         output order, fee the tail; an output's taint is its overlap with the taint
lifo      positional     the mirror of fifo: inputs laid end to end in reverse input order
tiho      pooled         "taint in, highest out": the tainted total fills the largest outputs first
========  =============  ===========================================================================

>>> POLICIES.get("fifo").mode
'positional'
>>> POLICIES.names()
['fifo', 'haircut', 'lifo', 'poison', 'tiho']
"""

from __future__ import annotations

from dataclasses import dataclass

from chainsleuth.core.registry import Registry

__all__ = ["DEFAULT_STOP_AT", "POLICIES", "STOP_AT_ALIASES", "Policy", "get_policy", "normalise_stop_at"]


@dataclass(frozen=True)
class Policy:
    """One allocation rule.

    ``mode`` is how taint is placed: ``full`` (poison), ``proportional`` (haircut), ``positional`` (intervals
    on the value line, FIFO/LIFO) or ``pooled`` (one tainted interval filling the target line from its start,
    TIHO). ``reverse_inputs`` lays the input side in reverse order (LIFO); ``largest_first`` orders the target
    side by value, largest first (TIHO). ``conserves`` is False only for poison.
    """

    name: str
    mode: str
    description: str
    reverse_inputs: bool = False
    largest_first: bool = False
    conserves: bool = True
    account: bool = True          # defined on account chains (balance pools)


POLICIES: Registry[Policy] = Registry("tracing policy")

for _p in (
    Policy("poison", "full", "any tainted input taints every output fully; amounts grow (no conservation)",
           conserves=False),
    Policy("haircut", "proportional", "each output carries the transaction's tainted share of its value"),
    Policy("fifo", "positional", "first in, first out: inputs and outputs laid end to end in order"),
    Policy("lifo", "positional", "last in, first out: the mirror of fifo (inputs in reverse order)",
           reverse_inputs=True),
    Policy("tiho", "pooled", "taint in, highest out: the tainted total fills the largest outputs first",
           largest_first=True, account=False),
):
    POLICIES.add(_p.name, _p)


def get_policy(name: str) -> Policy:
    """The registered policy ``name`` (case-insensitive); InvalidInput listing the valid ones otherwise."""
    return POLICIES.get(name.strip().lower())


#: Categories (GraphSense taxonomy concept ids) where a trace stops by default: services that pool many
#: customers' funds, so following taint through them says nothing about the traced owner.
DEFAULT_STOP_AT: tuple[str, ...] = (
    "exchange", "mixing_service", "coinjoin", "defi_bridge", "gambling", "defi", "defi_dex", "defi_lending",
    "defi_derivatives", "wallet_service", "payment_processor", "market", "atm", "mining_service",
)

#: Everyday words accepted in ``--stop-at`` for the taxonomy ids.
STOP_AT_ALIASES: dict[str, str] = {
    "mixer": "mixing_service", "mixing": "mixing_service", "bridge": "defi_bridge", "dex": "defi_dex",
    "lending": "defi_lending", "casino": "gambling", "darknet": "market", "wallet": "wallet_service",
}


def normalise_stop_at(categories: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Stop categories as taxonomy ids. ``None`` gives the default; ``""`` or ``[]`` gives none.

    >>> normalise_stop_at("mixer, exchange")
    ('exchange', 'mixing_service')
    """
    if categories is None:
        return DEFAULT_STOP_AT
    items = categories.split(",") if isinstance(categories, str) else list(categories)
    out = {STOP_AT_ALIASES.get(c.strip().lower(), c.strip().lower()) for c in items if c and c.strip()}
    return tuple(sorted(out))
