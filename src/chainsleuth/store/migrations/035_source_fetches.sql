-- Records fetched one transaction at a time from a block explorer API (Esplora) live in the same tables as
-- ingested blocks. What is special about them is kept here.
--
-- A block whose transactions are not all stored is `partial` (Esplora gives single transactions: the block's
-- header is stored with the ones fetched). Its transactions do not have consecutive tx ids, so its
-- `first_tx_id` is null; an ingest of the whole block later adds the missing ones and clears `partial`.
-- `source_height` is the height the API reported for the block; it anchors the block's height in the tree
-- as a BIP34 height does (store/blocktree.py), and a contradiction between the two is refused.
ALTER TABLE blocks ADD COLUMN partial BOOLEAN DEFAULT false;
ALTER TABLE blocks ADD COLUMN source_height BIGINT;

-- Provenance of every answer the records rest on: the URL (no credentials, no query string), the UTC time
-- it was received and the SHA-256 of the response body, with the ingest run that stored what it brought.
CREATE TABLE source_fetches (
    chain       VARCHAR NOT NULL,
    run_id      BIGINT NOT NULL,
    url         VARCHAR NOT NULL,
    fetched_at  BIGINT NOT NULL,       -- unix seconds, UTC
    sha256      VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL       -- 'tx', 'outspends', 'block', 'block_txids', 'address_txs', 'genesis'
);

-- How far the history of an address was fetched: to its end (`complete`), or up to `last_seen_txid` (the
-- oldest transaction fetched, where the next page would start).
CREATE TABLE address_history (
    chain           VARCHAR NOT NULL,
    address         VARCHAR NOT NULL,
    complete        BOOLEAN NOT NULL,
    txs_fetched     BIGINT NOT NULL,
    last_seen_txid  VARCHAR,
    fetched_at      BIGINT NOT NULL,
    url             VARCHAR NOT NULL,
    PRIMARY KEY (chain, address)
);

-- Who spends each output of a transaction, as the API said at `fetched_at` (spent false: unspent then).
CREATE TABLE source_outspends (
    chain          VARCHAR NOT NULL,
    txid           VARCHAR NOT NULL,
    n              INTEGER NOT NULL,
    spent          BOOLEAN NOT NULL,
    spending_txid  VARCHAR,
    spending_n     INTEGER,
    fetched_at     BIGINT NOT NULL,
    PRIMARY KEY (chain, txid, n)
);
