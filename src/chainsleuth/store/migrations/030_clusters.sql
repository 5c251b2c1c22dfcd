-- Address clusters, versioned by the heuristic set that produced them (the 030-039 range is clustering's).
-- A set is one (chain, heuristics, parameters) choice; re-clustering with the same choice extends or
-- replaces it. `active` marks the set that show/trace/attribution read by default (the last one clustered).
CREATE TABLE cluster_sets (
    chain             VARCHAR NOT NULL,
    set_id            BIGINT NOT NULL,
    name              VARCHAR NOT NULL,          -- heuristics joined by '+', e.g. 'co-spend+change:peel-chain'
    heuristics        VARCHAR NOT NULL,          -- JSON list
    parameters        VARCHAR NOT NULL,          -- JSON object (coinjoin handling, thresholds)
    created_at        BIGINT NOT NULL,           -- unix seconds, UTC
    updated_at        BIGINT NOT NULL,
    last_tx_id        BIGINT NOT NULL,           -- highest tx_id clustered (incremental watermark)
    first_height      BIGINT,
    last_height       BIGINT,
    run_ids           VARCHAR NOT NULL,          -- JSON list of ingest run ids the data came from (provenance)
    software_version  VARCHAR NOT NULL,
    n_addresses       BIGINT NOT NULL,
    n_clusters        BIGINT NOT NULL,           -- clusters with two or more addresses
    n_links           BIGINT NOT NULL,
    active            BOOLEAN NOT NULL,
    PRIMARY KEY (chain, set_id)
);
CREATE UNIQUE INDEX cluster_sets_by_name ON cluster_sets (chain, name);

-- Every address id of the chain up to the set's address count; cluster_id = smallest member address id.
CREATE TABLE cluster_members (
    chain       VARCHAR NOT NULL,
    set_id      BIGINT NOT NULL,
    address_id  BIGINT NOT NULL,
    cluster_id  BIGINT NOT NULL
);
CREATE INDEX cluster_members_by_address ON cluster_members (chain, set_id, address_id);
CREATE INDEX cluster_members_by_cluster ON cluster_members (chain, set_id, cluster_id);

-- The evidence: one row per union that joined two clusters (a spanning forest of each cluster).
CREATE TABLE cluster_links (
    chain       VARCHAR NOT NULL,
    set_id      BIGINT NOT NULL,
    seq         BIGINT NOT NULL,                 -- order of the link in the set
    address_a   BIGINT NOT NULL,
    address_b   BIGINT NOT NULL,
    tx_id       BIGINT NOT NULL,
    heuristic   VARCHAR NOT NULL,
    confidence  DOUBLE NOT NULL,
    size_a      BIGINT NOT NULL,                 -- sizes of the two clusters the link joined
    size_b      BIGINT NOT NULL
);
CREATE INDEX cluster_links_by_a ON cluster_links (chain, set_id, address_a);

-- CoinJoins detected when the set was built (left out of co-spend unless the set includes them).
CREATE TABLE cluster_coinjoins (
    chain        VARCHAR NOT NULL,
    set_id       BIGINT NOT NULL,
    tx_id        BIGINT NOT NULL,
    kind         VARCHAR NOT NULL,
    equal_value  BIGINT NOT NULL,
    equal_count  INTEGER NOT NULL
);

-- Transactions that had unresolved inputs when the set was last built; an incremental run revisits them.
CREATE TABLE cluster_pending (
    chain   VARCHAR NOT NULL,
    set_id  BIGINT NOT NULL,
    tx_id   BIGINT NOT NULL
);
