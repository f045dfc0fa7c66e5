-- A SQLite collector database as Sentinelle made it before numbered migrations: the DDL is
-- SCHEMA of sentinelle/collector/store_sqlite.py at commit 35c9928, copied verbatim (that code ran
-- it with executescript at every start); the rows below are written as that code wrote them
-- (UTC ISO-8601 texts, JSON texts with json.dumps' ASCII escapes, gzip bodies as BLOBs).
-- Used by tests/collector/test_migrations.py to prove an upgrade keeps every row.
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

INSERT INTO communes VALUES
    ('01001', 'L''Abergement-Clémenciat', '01', 832,
     '["maire@abergement-clemenciat.fr", "adjointe.num\u00e9rique@abergement-clemenciat.fr"]'),
    ('74119', 'Évian-les-Bains', '74', NULL, '[]');
INSERT INTO tokens VALUES
    ('hash-open', 'tok_open', '01001', '2026-11-01T08:00:00+00:00', NULL, NULL, 0),
    ('hash-week', 'tok_week', '74119', '2026-11-20T10:00:00.500000+00:00',
     '2026-11-27T10:00:00.500000+00:00', 4, 0),
    ('hash-rev', 'tok_rev', '01001', '2026-11-02T08:00:00+00:00', NULL, 3, 1);
INSERT INTO agents VALUES
    ('agt_1', '01001', 'mairie-srv', 'hash-key-1', '2026-11-01T09:00:00+00:00', NULL,
     '2026-11-28T09:30:17.123456+00:00'),
    ('agt_2', '01001', 'secretariat', 'hash-key-2', '2026-11-01T09:05:00+00:00',
     '2026-11-15T12:00:00+00:00', '2026-11-14T08:00:02+00:00'),
    ('agt_3', '74119', 'mairie', 'hash-key-3', '2026-11-21T10:00:00+00:00', NULL, NULL);
INSERT INTO reports VALUES
    ('agt_1', 'r-1', '2026-11-27T09:30:17.123456+00:00', '2026-11-27T09:30:15.123456+00:00',
     '01001', 'mairie-srv', 62.5, 'C', X'1f8b0800ff01'),
    ('agt_1', 'r-2', '2026-11-28T09:30:17.123456+00:00', '2026-11-28T09:30:15.123456+00:00',
     '01001', 'mairie-srv', 87.5, 'B', X'1f8b0800ff02'),
    ('agt_2', 'r-old', '2026-11-14T08:00:02+00:00', '2026-11-14T08:00:00+00:00',
     '01001', 'secretariat', 40.0, 'D', X'1f8b0800ff03');
INSERT INTO host_latest VALUES
    ('agt_1', 'r-2', '2026-11-28T09:30:17.123456+00:00', '2026-11-28T09:30:15.123456+00:00',
     X'1f8b0800ff02',
     '{"ports.risky": ["fail", "high", "Telnet ouvert sur 23/tcp"], "patching.pending": ["pass", "medium", "\u00c0 jour"]}',
     '{"score": 87.5, "grade": "B"}'),
    ('agt_2', 'r-old', '2026-11-14T08:00:02+00:00', '2026-11-14T08:00:00+00:00',
     X'1f8b0800ff03', '{}', '{"score": 40.0, "grade": "D"}');
INSERT INTO snapshots VALUES
    ('01001', '2026-11-27', 62.5, 'C', 2, 2, '{"high": 1, "medium": 2}'),
    ('01001', '2026-11-28', 87.5, 'B', 2, 1, '{"high": 1}'),
    ('74119', '2026-11-28', 100.0, 'A', 1, 0, '{}');
