-- 0002: the same tables, columns and indexes as SQLite (the two schemas drifted apart before
-- migrations existed).
-- SQLite's column has no default and the store always writes it: a row without it is a bug on
-- either backend, not an empty set of open findings on one of them.
ALTER TABLE snapshots ALTER COLUMN open_by_severity DROP DEFAULT;
