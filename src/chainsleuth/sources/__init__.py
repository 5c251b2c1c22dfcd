"""L1: outside formats -> core records. btc/ (blk files, Bitcoin Core RPC, Esplora), evm/ (JSON-RPC),
etl/ (bitcoin-etl / ethereum-etl exports), replay (recorded responses)."""
