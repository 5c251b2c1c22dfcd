-- The best chain, and links that readers derive instead of the writer updating them (UTXO store).
--
-- Blocks form trees by prev_hash; a tree's root is a block whose parent is not stored (the genesis block,
-- or the first block of a detached segment). `chainwork` is the work from the root to the block (64 hex
-- digits, as Bitcoin Core prints it); `best` marks the blocks on the path from the root to the tree's tip of
-- most work. Transactions, outputs and inputs carry their block's `best` so that readers filter on it.
-- The writer computes chainwork, root, depth and best; a workspace created before this migration gets them
-- on its next ingest (rows with chainwork null are recomputed then).
-- The ingest writer looks txids and address texts up in its own in-memory indexes (store/keyindex.py); DuckDB's
-- ART indexes on these text columns held about 100 bytes per key in memory (a gigabyte for ten million
-- addresses) and served only point lookups, which a scan of the column answers in tens of milliseconds.
DROP INDEX txs_by_txid;
DROP INDEX addresses_by_text;

ALTER TABLE blocks ADD COLUMN chainwork VARCHAR;
ALTER TABLE blocks ADD COLUMN root VARCHAR;
ALTER TABLE blocks ADD COLUMN depth BIGINT;
ALTER TABLE blocks ADD COLUMN best BOOLEAN DEFAULT true;
ALTER TABLE blocks ADD COLUMN first_tx_id BIGINT;
-- the height the block's own coinbase claims (BIP34), kept apart from the height derived from the chain
ALTER TABLE blocks ADD COLUMN bip34_height BIGINT;
UPDATE blocks SET bip34_height = height WHERE height_source = 'bip34';
UPDATE blocks SET first_tx_id = m.lo FROM (SELECT chain, block_hash, min(tx_id) AS lo FROM txs GROUP BY ALL) m
WHERE blocks.chain = m.chain AND blocks.hash = m.block_hash;

ALTER TABLE txs ADD COLUMN best BOOLEAN DEFAULT true;
ALTER TABLE outputs ADD COLUMN best BOOLEAN DEFAULT true;
ALTER TABLE inputs ADD COLUMN best BOOLEAN DEFAULT true;

-- The script type of the output an input spends, copied at ingest like its address and value.
ALTER TABLE inputs ADD COLUMN script_type VARCHAR;
UPDATE inputs SET script_type = o.script_type FROM outputs o
WHERE inputs.prev_tx_id IS NOT NULL AND o.chain = inputs.chain AND o.tx_id = inputs.prev_tx_id AND o.n = inputs.prev_n;

-- Who spends an output is read from the inputs (a stale block's spend must not count), not kept on the output.
ALTER TABLE outputs DROP COLUMN spent_tx_id;
ALTER TABLE outputs DROP COLUMN spent_n;

-- Txids stored more than once (the same transaction in a stale block and in the best chain; BIP30's
-- duplicate coinbases): readers pick the copy on the best chain for these, and only these.
CREATE TABLE txid_copies (
    chain  VARCHAR NOT NULL,
    txid   VARCHAR NOT NULL
);
INSERT INTO txid_copies SELECT chain, txid FROM txs GROUP BY chain, txid HAVING count(*) > 1;
