"""Esplora-compatible REST APIs (Blockstream's and mempool.space's explorers): an HTTP client with rate limit,
back-off and provenance per answer (:mod:`.client`), and pure mappers from its JSON to core batches
(:mod:`.mappers`)."""

from chainsleuth.sources.esplora.client import EsploraClient, Fetch
from chainsleuth.sources.esplora.mappers import (
    EsploraBlock,
    check_block,
    check_outspends,
    check_tx,
    check_txid_list,
    to_batch,
)

__all__ = ["EsploraBlock", "EsploraClient", "Fetch", "check_block", "check_outspends", "check_tx",
           "check_txid_list", "to_batch"]
