-- Core tables shared by every chain: schema version is created by the migrator itself.
CREATE TABLE ingest_runs (
    run_id            BIGINT PRIMARY KEY,
    chain             VARCHAR NOT NULL,
    source_kind       VARCHAR NOT NULL,      -- 'btc-blocks', 'btc-rpc', 'evm-rpc', 'etl', 'replay', ...
    endpoint          VARCHAR NOT NULL,      -- path or URL without credentials
    first_height      BIGINT,
    last_height       BIGINT,
    software_version  VARCHAR NOT NULL,
    content_hash      VARCHAR NOT NULL,      -- sha256 over what was ingested (files or responses)
    started_at        BIGINT NOT NULL,       -- unix seconds, UTC
    finished_at       BIGINT,
    blocks            BIGINT DEFAULT 0,
    txs               BIGINT DEFAULT 0,
    skipped           BIGINT DEFAULT 0,
    notes             VARCHAR DEFAULT ''
);

-- Dense integer ids per chain, so algorithms work on arrays. Account chains store addresses lower-case.
CREATE TABLE addresses (
    chain    VARCHAR NOT NULL,
    id       BIGINT NOT NULL,
    address  VARCHAR NOT NULL,
    PRIMARY KEY (chain, id)
);
CREATE UNIQUE INDEX addresses_by_text ON addresses (chain, address);
