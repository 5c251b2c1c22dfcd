-- UTXO chains (Bitcoin and its networks). Txs, outputs and inputs carry dense integer ids.
CREATE TABLE blocks (
    chain          VARCHAR NOT NULL,
    hash           VARCHAR NOT NULL,
    height         BIGINT,
    height_source  VARCHAR,
    prev_hash      VARCHAR NOT NULL,
    merkle_root    VARCHAR NOT NULL,
    time           BIGINT NOT NULL,
    version        BIGINT NOT NULL,
    bits           BIGINT NOT NULL,
    nonce          BIGINT NOT NULL,
    tx_count       INTEGER NOT NULL,
    size           BIGINT NOT NULL,
    stripped_size  BIGINT NOT NULL,
    weight         BIGINT NOT NULL,
    run_id         BIGINT NOT NULL,
    source_file    VARCHAR,
    source_offset  BIGINT,
    PRIMARY KEY (chain, hash)
);
CREATE INDEX blocks_by_height ON blocks (chain, height);

CREATE TABLE txs (
    chain         VARCHAR NOT NULL,
    tx_id         BIGINT NOT NULL,          -- dense id per chain
    txid          VARCHAR NOT NULL,         -- not unique on mainnet (BIP30 duplicate coinbases)
    wtxid         VARCHAR NOT NULL,
    block_hash    VARCHAR NOT NULL,
    block_index   INTEGER NOT NULL,
    version       BIGINT NOT NULL,
    locktime      BIGINT NOT NULL,
    size          BIGINT NOT NULL,
    vsize         BIGINT NOT NULL,
    weight        BIGINT NOT NULL,
    is_coinbase   BOOLEAN NOT NULL,
    has_witness   BOOLEAN NOT NULL,
    n_in          INTEGER NOT NULL,
    n_out         INTEGER NOT NULL,
    output_value  BIGINT NOT NULL,
    input_value   BIGINT,                   -- null until every prevout is resolved
    PRIMARY KEY (chain, tx_id)
);
CREATE INDEX txs_by_txid ON txs (chain, txid);

CREATE TABLE outputs (
    chain         VARCHAR NOT NULL,
    tx_id         BIGINT NOT NULL,
    n             INTEGER NOT NULL,
    value         BIGINT NOT NULL,
    script_type   VARCHAR NOT NULL,
    address_id    BIGINT,                   -- null for OP_RETURN
    script        BLOB,
    spent_tx_id   BIGINT,                   -- spending tx (dense id), null while unspent in the workspace
    spent_n       INTEGER
);

CREATE TABLE inputs (
    chain          VARCHAR NOT NULL,
    tx_id          BIGINT NOT NULL,
    n              INTEGER NOT NULL,
    prev_txid      VARCHAR,                 -- null for the coinbase input
    prev_n         BIGINT,
    prev_tx_id     BIGINT,                  -- resolved at ingest (bulk join); null while the prevout is unknown
    address_id     BIGINT,                  -- copied from the spent output
    value          BIGINT,                  -- copied from the spent output
    sequence       BIGINT NOT NULL,
    script_sig_size INTEGER NOT NULL,
    witness_items  INTEGER NOT NULL
);
