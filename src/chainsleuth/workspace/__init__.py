"""L3: the application facade. The only place that joins store, sources, algorithms, attribution and
workflows. The CLI and the API call a :class:`Workspace` and nothing below it.

The facade is one class assembled from one part per capability, each in its own module so that no file
grows into a god file:

==================  ===========================================================================
``_base``           settings, injected progress, the store (opened lazily), lifecycle
``ingest_btc``      raw Bitcoin blocks -> UTXO store
``ingest_evm``      EVM JSON-RPC, replayed recordings, ethereum-etl exports -> account store
``queries``         show block / tx / address, stats (dispatching on the chain's model)
``clustering``      clustering with evidence, comparisons, evaluation on training worlds
``attribution``     tags: import, list, add, export, cluster propagation, screening
``tracing``         traces under each policy, comparisons, Sankey, exposure, paths, peel chains
``training``        training worlds: generate, ingest, classes, briefs, answers, grading
``demo``            the end-to-end demo on a generated case
==================  ===========================================================================

A method is parse-free (it takes typed values), returns core models or plain JSON-ready dicts, and reports
long work to the injected progress. Parts call each other through ``self``.
"""

from __future__ import annotations

from chainsleuth.workspace.attribution import Attribution
from chainsleuth.workspace.clustering import Clustering
from chainsleuth.workspace.demo import Demo
from chainsleuth.workspace.ingest_btc import IngestBitcoin
from chainsleuth.workspace.ingest_evm import IngestEvm
from chainsleuth.workspace.queries import Queries
from chainsleuth.workspace.tracing import Tracing
from chainsleuth.workspace.training import Training

__all__ = ["Workspace"]


class Workspace(IngestBitcoin, IngestEvm, Queries, Clustering, Attribution, Tracing, Training, Demo):
    """A workspace directory: the DuckDB file and case files.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     ws = Workspace(d)
    ...     ws.stats().chains
    {}
    """
