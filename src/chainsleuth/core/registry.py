"""One registry type for every extension point (sources, heuristics, tracing policies, renderers,
scenario typologies). Built-ins register through it like plugins do."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from chainsleuth.errors import InvalidInput

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of extensions of one kind.

    >>> policies: Registry[int] = Registry("tracing policy")
    >>> policies.add("haircut", 1)
    1
    >>> policies.get("haircut")
    1
    >>> policies.get("nope")
    Traceback (most recent call last):
    ...
    chainsleuth.errors.InvalidInput: unknown tracing policy 'nope'; choose one of: haircut (field=tracing policy, value=nope)
    >>> policies.add("fifo", 2) and policies.items()
    [('haircut', 1), ('fifo', 2)]
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        if name in self._items and self._items[name] is not item:
            raise InvalidInput(f"{self.kind} {name!r} is already registered", field=self.kind, value=name)
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def deco(item: T) -> T:
            return self.add(name, item)

        return deco

    def remove(self, name: str) -> T:
        """Unregister ``name`` (a plugin unloading); returns what was registered. InvalidInput if unknown."""
        item = self.get(name)
        del self._items[name]
        return item

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise InvalidInput(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(sorted(self._items))}",
                field=self.kind, value=name,
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        """(name, extension) pairs in the order they were registered (built-ins first, then plugins)."""
        return list(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
