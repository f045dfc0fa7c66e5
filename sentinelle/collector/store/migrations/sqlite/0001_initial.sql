-- 0001: the schema every SQLite collector created before numbered migrations existed
-- (sentinelle/collector/store_sqlite.py, SCHEMA, up to commit 35c9928), verbatim.
-- IF NOT EXISTS throughout: on a database that schema already created, this step changes
-- nothing and only records version 1 (the store checks first that the columns are all there).
CREATE TABLE IF NOT EXISTS communes (
    code TEXT PRIMARY KEY, name TEXT NOT NULL, departement TEXT NOT NULL,
    population INTEGER, mayor_emails TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY, token_id TEXT NOT NULL UNIQUE,
    commune TEXT NOT NULL REFERENCES communes(code), created_at TEXT NOT NULL,
    expires_at TEXT, uses_left INTEGER, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS agents (
    agent_id TEXT PRIMARY KEY, commune TEXT NOT NULL REFERENCES communes(code),
    host TEXT NOT NULL, key_hash TEXT NOT NULL, enrolled_at TEXT NOT NULL,
    revoked_at TEXT, last_report_at TEXT);
CREATE TABLE IF NOT EXISTS reports (
    agent_id TEXT NOT NULL, report_id TEXT NOT NULL, received_at TEXT NOT NULL,
    generated_at TEXT NOT NULL, commune TEXT NOT NULL, host TEXT NOT NULL,
    score REAL NOT NULL, grade TEXT NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (agent_id, report_id));
CREATE INDEX IF NOT EXISTS reports_received ON reports(received_at);
-- The latest Report of each host, with its per-check state as one JSON object
-- {check: [status, severity, summary]}: one row write per push instead of one per check.
CREATE TABLE IF NOT EXISTS host_latest (
    agent_id TEXT PRIMARY KEY, report_id TEXT NOT NULL, received_at TEXT NOT NULL,
    generated_at TEXT NOT NULL, body BLOB NOT NULL, checks TEXT NOT NULL,
    score TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS host_latest_received ON host_latest(received_at);
CREATE TABLE IF NOT EXISTS snapshots (
    commune TEXT NOT NULL, day TEXT NOT NULL, score REAL NOT NULL, grade TEXT NOT NULL,
    hosts INTEGER NOT NULL, reporting_hosts INTEGER NOT NULL, open_json TEXT NOT NULL,
    PRIMARY KEY (commune, day));
