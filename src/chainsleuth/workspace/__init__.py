"""L3: the application facade. The only place that joins store, sources, algorithms, attribution and
workflows. The CLI and the API hold one :class:`Workspace` and call its services; nothing below it.

A workspace is composed of small services, each handed its collaborators when the workspace is made and
each in its own module (private helpers in ``_``-prefixed modules of its package):

=====================  ===================  ===========================================================
attribute              service              what it does
=====================  ===================  ===========================================================
``ws.chains``          ChainLocator         which chain holds a txid or address (shared look-up)
``ws.ingest``          IngestService        Bitcoin block files, EVM nodes (live or replayed), ETL exports
``ws.attribution``     AttributionService   tags: import, list, add, export, cluster inheritance, screening
``ws.clustering``      ClusteringService    cluster sets with evidence, comparisons, explanations
``ws.queries``         QueryService         show block / tx / address, stats
``ws.trace_sources``   TraceSourceResolver  trace sources and path ends as typed seeds
``ws.tracing``         TracingService       traces, policy comparison, Sankey, exposure, paths, peel chains
``ws.training``        TrainingService      training worlds: generate, ingest, classes, briefs, grading
``ws.evaluation``      EvaluationService    heuristics measured on generated worlds
``ws.demo``            DemoService          the end-to-end demo on a generated case
=====================  ===================  ===========================================================

Service methods are parse-free (they take typed values), return core models or plain JSON-ready dicts and
report long work to the injected progress. No service reads another's private state: what one needs of
another is a public method of the service that owns it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from chainsleuth.config import Settings, load_settings
from chainsleuth.core.progress import NullProgress, Progress
from chainsleuth.store import Store
from chainsleuth.workspace._store import StoreOpener
from chainsleuth.workspace.attribution import AttributionService
from chainsleuth.workspace.chains import ChainLocator
from chainsleuth.workspace.clustering import ClusteringService
from chainsleuth.workspace.demo import DemoService
from chainsleuth.workspace.evaluation import EvaluationService
from chainsleuth.workspace.ingest import IngestService
from chainsleuth.workspace.queries import QueryService
from chainsleuth.workspace.tracing import TraceGraphCache, TraceSourceResolver, TracingService
from chainsleuth.workspace.training import TrainingService

__all__ = [
    "AttributionService",
    "ChainLocator",
    "ClusteringService",
    "DemoService",
    "EvaluationService",
    "IngestService",
    "QueryService",
    "TraceSourceResolver",
    "TracingService",
    "TrainingService",
    "Workspace",
]


class Workspace:
    """A workspace directory (the DuckDB file and case files) and the services working on it.

    The store is opened on first use (read-only with ``read_only``) and closed by :meth:`close` or on
    leaving a ``with`` block.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     ws = Workspace(d)
    ...     ws.queries.stats().chains
    {}
    """

    def __init__(self, path: str | Path | None = None, *, settings: Settings | None = None,
                 progress: Progress | None = None, read_only: bool = False) -> None:
        self.settings = settings or load_settings(path)
        self.path = Path(path) if path is not None else self.settings.workspace
        self.progress: Progress = progress or NullProgress()
        self.read_only = read_only
        self._opener = StoreOpener(self.path, self.settings, read_only=read_only)
        store = self._opener
        self.chains = ChainLocator(store)
        self.ingest = IngestService(store, self.settings, self.progress)
        self.attribution = AttributionService(store, self.progress, workspace_name=self.path.name)
        self.clustering = ClusteringService(store, self.settings, self.progress, chains=self.chains,
                                            attribution=self.attribution, workspace=self.path)
        self.queries = QueryService(store, chains=self.chains, clustering=self.clustering,
                                    attribution=self.attribution)
        graphs = TraceGraphCache(store)
        self.trace_sources = TraceSourceResolver(store, chains=self.chains, clustering=self.clustering,
                                                 graphs=graphs)
        self.tracing = TracingService(store, graphs=graphs, sources=self.trace_sources)
        self.training = TrainingService(ingest=self.ingest, attribution=self.attribution)
        self.evaluation = EvaluationService(self._scratch)
        self.demo = DemoService(store, self.progress, workspace=self.path, ingest=self.ingest,
                                attribution=self.attribution, clustering=self.clustering, queries=self.queries,
                                tracing=self.tracing)

    def _scratch(self, path: Path) -> Workspace:
        """An empty workspace at ``path`` with this one's settings and no progress (evaluation runs)."""
        return Workspace(path, settings=self.settings)

    # -- lifecycle --------------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        """The workspace's store, opened now if it is not yet."""
        return self._opener()

    def close(self) -> None:
        self._opener.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
