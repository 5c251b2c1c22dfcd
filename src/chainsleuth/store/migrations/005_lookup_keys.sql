-- Point lookups by txid and by address text without in-memory indexes (the UTXO store's 001-009 range).
--
-- A txid's key is its first 16 hex digits as an unsigned integer, halved to fit BIGINT; an address's key is
-- the upper 64 bits of the MD5 of its text, halved. Keys are not unique (a reader compares the text of every
-- candidate it finds); they make a lookup cheap because the tables are kept sorted by (chain, key): DuckDB's
-- per-row-group min/max then reads one row group of the sorted part, plus the few rows appended since the
-- last sort. The ingest writer appends; `lookup_sorted` records how many rows are sorted, and the end of an
-- ingest run sorts a table again when what was appended exceeds a tenth of it.
CREATE TABLE txid_keys (
    chain  VARCHAR NOT NULL,
    key    BIGINT NOT NULL,
    tx_id  BIGINT NOT NULL
);
INSERT INTO txid_keys SELECT chain, (('0x' || substr(txid, 1, 16))::UBIGINT >> 1)::BIGINT, tx_id FROM txs
ORDER BY 1, 2;

CREATE TABLE address_keys (
    chain  VARCHAR NOT NULL,
    key    BIGINT NOT NULL,
    id     BIGINT NOT NULL
);
INSERT INTO address_keys SELECT chain, (md5_number_upper(address) >> 1)::BIGINT, id FROM addresses ORDER BY 1, 2;

CREATE TABLE lookup_sorted (
    name         VARCHAR PRIMARY KEY,
    sorted_rows  BIGINT NOT NULL
);
INSERT INTO lookup_sorted SELECT 'txid_keys', count(*) FROM txid_keys;
INSERT INTO lookup_sorted SELECT 'address_keys', count(*) FROM address_keys;
