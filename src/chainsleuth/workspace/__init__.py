"""L3: the application facade. The only place that joins store, sources, algorithms, attribution and
workflows. The CLI and the API hold one :class:`Workspace` and call its services; nothing below it.

A workspace is composed of small services, each handed its collaborators when the workspace is made and
each in its own module (private helpers in ``_``-prefixed modules of its package):

=====================  ===================  ===========================================================
attribute              service              what it does
=====================  ===================  ===========================================================
``ws.chains``          ChainLocator         which chain holds a txid or address (shared look-up)
``ws.ingest``          IngestService        Bitcoin block files, EVM nodes (live or replayed), ETL exports
``ws.esplora``         EsploraFetcher       on-demand lookups from an Esplora API (``esplora_url``), or None
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

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from chainsleuth.config import Settings, load_settings
from chainsleuth.core.progress import NullProgress, Progress
from chainsleuth.workspace._store import StoreOpener

if TYPE_CHECKING:
    from chainsleuth.store import Store
    from chainsleuth.workspace.attribution import AttributionService
    from chainsleuth.workspace.chains import ChainLocator
    from chainsleuth.workspace.clustering import ClusteringService
    from chainsleuth.workspace.demo import DemoService
    from chainsleuth.workspace.evaluation import EvaluationService
    from chainsleuth.workspace.ingest import IngestService
    from chainsleuth.workspace.ingest.esplora import EsploraFetcher
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

_SERVICE_MODULES = {
    "AttributionService": "attribution", "ChainLocator": "chains", "ClusteringService": "clustering",
    "DemoService": "demo", "EvaluationService": "evaluation", "IngestService": "ingest",
    "QueryService": "queries", "TraceSourceResolver": "tracing", "TracingService": "tracing",
    "TraceGraphCache": "tracing", "TrainingService": "training",
}


def __getattr__(name: str) -> Any:
    # the service classes, importable from here as before, each loaded when first asked for
    if name in _SERVICE_MODULES:
        import importlib

        return getattr(importlib.import_module(f"chainsleuth.workspace.{_SERVICE_MODULES[name]}"), name)
    raise AttributeError(f"module 'chainsleuth.workspace' has no attribute {name!r}")


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

    # -- services, each made (and its module imported) on first use, so that a command pays only for
    # the services it calls: `show` does not load the training generator or the tracing kernel.
    @cached_property
    def chains(self) -> ChainLocator:
        from chainsleuth.workspace.chains import ChainLocator
        return ChainLocator(self._opener)

    @cached_property
    def ingest(self) -> IngestService:
        from chainsleuth.workspace.ingest import IngestService
        return IngestService(self._opener, self.settings, self.progress)

    @cached_property
    def attribution(self) -> AttributionService:
        from chainsleuth.workspace.attribution import AttributionService
        return AttributionService(self._opener, self.progress, workspace_name=self.path.name)

    @cached_property
    def clustering(self) -> ClusteringService:
        from chainsleuth.workspace.clustering import ClusteringService
        return ClusteringService(self._opener, self.settings, self.progress, chains=self.chains,
                                 attribution=self.attribution, workspace=self.path)

    @cached_property
    def esplora(self) -> EsploraFetcher | None:
        """On-demand lookups from the Esplora API of the ``esplora_url`` setting; None when it is not set."""
        if not self.settings.esplora_url:
            return None
        from chainsleuth.workspace.ingest.esplora import EsploraFetcher
        return EsploraFetcher(self._opener, self.settings, self.progress, self.settings.esplora_url,
                              parallel=self.settings.esplora_parallel)

    @cached_property
    def queries(self) -> QueryService:
        from chainsleuth.workspace.queries import QueryService
        return QueryService(self._opener, chains=self.chains, clustering=self.clustering,
                            attribution=self.attribution, fetcher=lambda: self.esplora)

    @cached_property
    def _trace_graphs(self) -> TraceGraphCache:
        from chainsleuth.workspace.tracing import TraceGraphCache
        return TraceGraphCache(self._opener)

    @cached_property
    def trace_sources(self) -> TraceSourceResolver:
        from chainsleuth.workspace.tracing import TraceSourceResolver
        return TraceSourceResolver(self._opener, chains=self.chains, clustering=self.clustering,
                                   graphs=self._trace_graphs)

    @cached_property
    def tracing(self) -> TracingService:
        from chainsleuth.workspace.tracing import TracingService
        return TracingService(self._opener, graphs=self._trace_graphs, sources=self.trace_sources,
                              fetcher=lambda: self.esplora)

    @cached_property
    def training(self) -> TrainingService:
        from chainsleuth.workspace.training import TrainingService
        return TrainingService(ingest=self.ingest, attribution=self.attribution)

    @cached_property
    def evaluation(self) -> EvaluationService:
        from chainsleuth.workspace.evaluation import EvaluationService
        return EvaluationService(self._scratch)

    @cached_property
    def demo(self) -> DemoService:
        from chainsleuth.workspace.demo import DemoService
        return DemoService(self._opener, self.progress, workspace=self.path, ingest=self.ingest,
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
        fetcher = self.__dict__.pop("esplora", None)
        try:
            if fetcher is not None:
                fetcher.close()
        finally:
            self._opener.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
