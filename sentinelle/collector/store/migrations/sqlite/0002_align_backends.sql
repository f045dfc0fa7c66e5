-- 0002: the same tables, columns and indexes as PostgreSQL (the two schemas drifted apart
-- before migrations existed).
-- The daily snapshot's open findings by severity had another column name here.
ALTER TABLE snapshots RENAME COLUMN open_json TO open_by_severity;
-- host_taken() runs at every enrollment; PostgreSQL always had this index, SQLite scanned.
CREATE INDEX agents_active_host ON agents(commune, host) WHERE revoked_at IS NULL;
