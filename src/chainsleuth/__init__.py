"""chainsleuth: an open-source workbench for crypto investigators and the people who train them."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("chainsleuth")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+src"

__all__ = ["__version__"]
