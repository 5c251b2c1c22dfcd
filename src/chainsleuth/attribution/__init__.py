"""L1: the tag taxonomy as data, tag importers (TagPack YAML, ActorPacks, OFAC, Etherscan labels, CSV),
export to TagPack YAML, propagation of tags to clusters, and the screening aggregation.

Pure functions over files, Arrow tables and arrays: nothing here touches the store.
"""

from chainsleuth.attribution.export import tagpack_yaml
from chainsleuth.attribution.importers import IMPORTERS, detect_importer, discover_files
from chainsleuth.attribution.propagation import (
    STRONG_CONFIDENCE,
    ClusterTags,
    entity_of,
    propagate_cluster_tags,
)
from chainsleuth.attribution.records import TAG_SCHEMA, PackIssue, ParsedActorPack, ParsedPack
from chainsleuth.attribution.screening import direct_exposure, hit_record, tag_categories
from chainsleuth.attribution.tagpack import read_actorpack, read_tagpack
from chainsleuth.attribution.taxonomy import TLP_LEVELS, Taxonomy

__all__ = [
    "IMPORTERS",
    "STRONG_CONFIDENCE",
    "TAG_SCHEMA",
    "TLP_LEVELS",
    "ClusterTags",
    "PackIssue",
    "ParsedActorPack",
    "ParsedPack",
    "Taxonomy",
    "detect_importer",
    "direct_exposure",
    "discover_files",
    "entity_of",
    "hit_record",
    "propagate_cluster_tags",
    "read_actorpack",
    "read_tagpack",
    "tag_categories",
    "tagpack_yaml",
]
