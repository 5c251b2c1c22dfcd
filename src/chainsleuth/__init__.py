"""chainsleuth: an open-source workbench for crypto investigators and the people who train them."""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # the installed version, read on first use (importlib.metadata costs a few tens of ms at every start)
    if name != "__version__":
        raise AttributeError(f"module 'chainsleuth' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("chainsleuth")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        v = "0.0.0+src"
    globals()["__version__"] = v
    return v
