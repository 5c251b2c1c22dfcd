-- Attribution tags (issue 6). Many tags per address or tx; nothing is collapsed into a "best" tag.
-- Tags reference their subject by (chain, identifier text): an address not yet ingested keeps its tags and
-- is found by text later; the dense addresses.id is resolved at query time by the join in `tags_resolved`.

CREATE TABLE tag_import_runs (
    run_id            BIGINT PRIMARY KEY,
    started_at        BIGINT NOT NULL,            -- unix seconds, UTC
    finished_at       BIGINT,
    paths             VARCHAR NOT NULL,
    software_version  VARCHAR NOT NULL,
    packs_new         BIGINT DEFAULT 0,
    packs_unchanged   BIGINT DEFAULT 0,
    packs_replaced    BIGINT DEFAULT 0,
    tags_new          BIGINT DEFAULT 0
);

-- One row per imported pack (file) or per investigator tag set: the provenance of every tag.
CREATE TABLE tag_packs (
    pack_id            BIGINT PRIMARY KEY,
    uri                VARCHAR NOT NULL,          -- file path / URL, or 'investigator:<creator>'
    content_hash       VARCHAR NOT NULL,          -- sha256 of the decompressed content: re-import is a no-op
    kind               VARCHAR NOT NULL,          -- tagpack | ofac | etherscan | csv | investigator
    origin             VARCHAR NOT NULL,          -- imported | investigator
    title              VARCHAR,
    creator            VARCHAR,
    description        VARCHAR,
    is_public          BOOLEAN,
    imported_at        BIGINT NOT NULL,
    import_run         BIGINT,
    tag_count          BIGINT NOT NULL,
    duplicates_merged  BIGINT NOT NULL DEFAULT 0,
    warnings           BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX tag_packs_by_uri ON tag_packs (uri);

CREATE TABLE tags (
    tag_id              BIGINT NOT NULL,
    pack_id             BIGINT NOT NULL,
    tag_key             VARCHAR NOT NULL,         -- md5(chain, identifier, label, source): merge key in a pack
    chain               VARCHAR NOT NULL,
    subject             VARCHAR NOT NULL,         -- address | tx
    identifier          VARCHAR NOT NULL,         -- address (EVM lower-case) or tx hash
    label               VARCHAR NOT NULL,
    category            VARCHAR,
    abuse               VARCHAR,
    concepts            VARCHAR[],
    actor               VARCHAR,
    source              VARCHAR NOT NULL,
    creator             VARCHAR NOT NULL,
    confidence          VARCHAR,
    confidence_level    SMALLINT,                 -- 0-100 from the taxonomy's confidence.csv
    lastmod             BIGINT,                   -- unix seconds, UTC
    is_cluster_definer  BOOLEAN NOT NULL,
    tlp                 VARCHAR NOT NULL,         -- clear | green | amber | amber+strict | red
    context             VARCHAR,
    tag_type            VARCHAR,
    currency            VARCHAR,
    network             VARCHAR,
    origin              VARCHAR NOT NULL,         -- imported | investigator
    import_run          BIGINT,
    line                INTEGER                   -- line in the pack file
);
CREATE INDEX tags_by_subject ON tags (identifier);

-- ActorPack entries: the entities tags point at through `actor`.
CREATE TABLE tag_actors (
    actor_id       VARCHAR NOT NULL,
    label          VARCHAR NOT NULL,
    uri            VARCHAR,
    categories     VARCHAR[],
    jurisdictions  VARCHAR[],
    aliases        VARCHAR[],
    context        VARCHAR,
    lastmod        BIGINT,
    pack_uri       VARCHAR NOT NULL,
    content_hash   VARCHAR NOT NULL
);

-- Tags with the dense id of their address when the address is in the workspace (null otherwise).
CREATE VIEW tags_resolved AS
SELECT t.*, a.id AS address_id
FROM tags t LEFT JOIN addresses a ON t.subject = 'address' AND a.chain = t.chain AND a.address = t.identifier;
