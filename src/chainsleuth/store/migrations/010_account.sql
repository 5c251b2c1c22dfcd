-- Account chains (Ethereum and EVM networks). Addresses live in the shared `addresses` table (lower-case,
-- dense ids per chain); txs carry dense ids per chain. Amounts are exact DECIMAL(38,0) (wei, token units);
-- a token amount beyond 38 digits is kept as text in value_big with value null.
CREATE TABLE account_blocks (
    chain             VARCHAR NOT NULL,
    number            BIGINT NOT NULL,
    hash              VARCHAR NOT NULL,
    parent_hash       VARCHAR NOT NULL,
    time              BIGINT NOT NULL,
    miner_id          BIGINT,                 -- fee recipient (addresses.id)
    gas_used          BIGINT,
    gas_limit         BIGINT,
    base_fee_per_gas  DECIMAL(38,0),          -- null before London
    tx_count          INTEGER NOT NULL,
    withdrawal_count  INTEGER NOT NULL,
    size              BIGINT,
    traces            VARCHAR NOT NULL,       -- 'geth', 'parity', 'etl' or 'none' (no internal transfers)
    run_id            BIGINT NOT NULL
);
CREATE INDEX account_blocks_by_number ON account_blocks (chain, number);

CREATE TABLE account_txs (
    chain                     VARCHAR NOT NULL,
    tx_id                     BIGINT NOT NULL,      -- dense id per chain
    hash                      VARCHAR NOT NULL,
    block_hash                VARCHAR NOT NULL,
    block_number              BIGINT NOT NULL,
    tx_index                  INTEGER NOT NULL,
    from_id                   BIGINT NOT NULL,
    to_id                     BIGINT,               -- null for a contract creation
    value                     DECIMAL(38,0) NOT NULL,
    nonce                     BIGINT,
    tx_type                   INTEGER,
    gas                       BIGINT,
    gas_price                 DECIMAL(38,0),
    max_fee_per_gas           DECIMAL(38,0),
    max_priority_fee_per_gas  DECIMAL(38,0),
    input_size                INTEGER,
    method_id                 VARCHAR,
    status                    TINYINT,              -- 1 success, 0 failed (moved nothing, paid its fee), null unknown
    gas_used                  BIGINT,
    effective_gas_price       DECIMAL(38,0),
    fee                       DECIMAL(38,0),        -- paid by the sender
    contract_id               BIGINT                -- created contract
);
CREATE INDEX account_txs_by_hash ON account_txs (chain, hash);

-- Every movement of value: kind in native | internal | selfdestruct | erc20 | erc721 | erc1155 | fee | burn
-- | reward | withdrawal. Ordered by (block_number, tx_index, index); tx_id null for block-level rows.
CREATE TABLE transfers (
    chain          VARCHAR NOT NULL,
    block_number   BIGINT NOT NULL,
    block_hash     VARCHAR NOT NULL,
    tx_id          BIGINT,
    tx_index       INTEGER,
    "index"        INTEGER NOT NULL,
    kind           VARCHAR NOT NULL,
    from_id        BIGINT,                   -- null when coin is created (withdrawal, reward)
    to_id          BIGINT,                   -- null when coin is burned
    asset_id       BIGINT,                   -- token contract (addresses.id); null for the native coin
    token_id       VARCHAR,                  -- ERC-721 / ERC-1155 token id (decimal)
    value          DECIMAL(38,0),
    value_big      VARCHAR,                  -- decimal digits when value does not fit DECIMAL(38,0)
    trace_address  VARCHAR,
    log_index      INTEGER
);

CREATE TABLE tokens (
    chain       VARCHAR NOT NULL,
    address_id  BIGINT NOT NULL,
    standard    VARCHAR,
    symbol      VARCHAR,
    name        VARCHAR,
    decimals    INTEGER
);

-- Where an ingest of a chain got to: the highest block written and its hash (resume and reorg checks).
CREATE TABLE account_checkpoints (
    chain       VARCHAR NOT NULL,
    height      BIGINT NOT NULL,
    hash        VARCHAR NOT NULL,
    endpoint    VARCHAR,
    traces      VARCHAR,
    updated_at  BIGINT NOT NULL
);
