-- Tag packs are named portably (issue 12): by their file name (relative to the directory imported) or URL and
-- their hashes, never by an absolute path of the machine that imported them, which means nothing elsewhere
-- and discloses local directory names in every export and report.
--
-- sha256: of the pack file's bytes as read (what `sha256sum FILE` prints), so that anyone holding the file
-- can check it is the one the tags came from; content_hash stays the identity re-imports are matched by.
-- Packs imported before this migration have no sha256 (null); re-importing the file fills it in.
ALTER TABLE tag_packs ADD COLUMN sha256 VARCHAR;
ALTER TABLE tag_actors ADD COLUMN sha256 VARCHAR;

-- Earlier imports stored the absolute path: keep its last component (the file name) where that stays unique.
UPDATE tag_packs SET uri = regexp_extract(uri, '[^/\\]+$')
WHERE origin = 'imported' AND (uri LIKE '/%' OR regexp_matches(uri, '^[A-Za-z]:[\\/]'))
  AND (SELECT count(*) FROM tag_packs o WHERE regexp_extract(o.uri, '[^/\\]+$') = regexp_extract(tag_packs.uri, '[^/\\]+$')) = 1;
UPDATE tag_actors SET pack_uri = regexp_extract(pack_uri, '[^/\\]+$')
WHERE pack_uri LIKE '/%' OR regexp_matches(pack_uri, '^[A-Za-z]:[\\/]');
