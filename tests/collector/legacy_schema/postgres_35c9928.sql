-- A PostgreSQL collector database as Sentinelle made it before numbered migrations: the DDL is
-- SCHEMA of sentinelle/collector/store_postgres.py at commit 35c9928, copied verbatim (that code
-- ran it under an advisory lock at every start); the rows below hold the same facts as
-- sqlite_35c9928.sql, in the types that code wrote (timestamptz, text[], bytea, jsonb).
-- Used by tests/collector/test_migrations.py to prove an upgrade keeps every row.
CREATE TABLE IF NOT EXISTS communes (
    code text PRIMARY KEY, name text NOT NULL, departement text NOT NULL,
    population integer, mayor_emails text[] NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS tokens (
    token_hash text PRIMARY KEY, token_id text NOT NULL UNIQUE,
    commune text NOT NULL REFERENCES communes(code), created_at timestamptz NOT NULL,
    expires_at timestamptz, uses_left integer, revoked boolean NOT NULL DEFAULT false);
CREATE TABLE IF NOT EXISTS agents (
    agent_id text PRIMARY KEY, commune text NOT NULL REFERENCES communes(code),
    host text NOT NULL, key_hash text NOT NULL, enrolled_at timestamptz NOT NULL,
    revoked_at timestamptz, last_report_at timestamptz);
CREATE INDEX IF NOT EXISTS agents_active_host ON agents(commune, host) WHERE revoked_at IS NULL;
CREATE TABLE IF NOT EXISTS reports (
    agent_id text NOT NULL, report_id text NOT NULL, received_at timestamptz NOT NULL,
    generated_at timestamptz NOT NULL, commune text NOT NULL, host text NOT NULL,
    score double precision NOT NULL, grade text NOT NULL, body bytea NOT NULL,
    PRIMARY KEY (agent_id, report_id));
CREATE INDEX IF NOT EXISTS reports_received ON reports(received_at);
-- The latest Report of each host, with its per-check state as one JSON object
-- {check: [status, severity, summary]}: one row write per push instead of one per check.
CREATE TABLE IF NOT EXISTS host_latest (
    agent_id text PRIMARY KEY, report_id text NOT NULL, received_at timestamptz NOT NULL,
    generated_at timestamptz NOT NULL, body bytea NOT NULL, checks jsonb NOT NULL,
    score text NOT NULL DEFAULT '{}');
-- Collector workers poll for what the others stored since their last look.
CREATE INDEX IF NOT EXISTS host_latest_received ON host_latest(received_at);
CREATE TABLE IF NOT EXISTS snapshots (
    commune text NOT NULL, day date NOT NULL, score double precision NOT NULL,
    grade text NOT NULL, hosts integer NOT NULL, reporting_hosts integer NOT NULL,
    open_by_severity jsonb NOT NULL DEFAULT '{}', PRIMARY KEY (commune, day));

INSERT INTO communes VALUES
    ('01001', 'L''Abergement-Clémenciat', '01', 832,
     ARRAY['maire@abergement-clemenciat.fr', 'adjointe.numérique@abergement-clemenciat.fr']),
    ('74119', 'Évian-les-Bains', '74', NULL, '{}');
INSERT INTO tokens VALUES
    ('hash-open', 'tok_open', '01001', '2026-11-01 08:00:00+00', NULL, NULL, false),
    ('hash-week', 'tok_week', '74119', '2026-11-20 10:00:00.5+00', '2026-11-27 10:00:00.5+00',
     4, false),
    ('hash-rev', 'tok_rev', '01001', '2026-11-02 08:00:00+00', NULL, 3, true);
INSERT INTO agents VALUES
    ('agt_1', '01001', 'mairie-srv', 'hash-key-1', '2026-11-01 09:00:00+00', NULL,
     '2026-11-28 09:30:17.123456+00'),
    ('agt_2', '01001', 'secretariat', 'hash-key-2', '2026-11-01 09:05:00+00',
     '2026-11-15 12:00:00+00', '2026-11-14 08:00:02+00'),
    ('agt_3', '74119', 'mairie', 'hash-key-3', '2026-11-21 10:00:00+00', NULL, NULL);
INSERT INTO reports VALUES
    ('agt_1', 'r-1', '2026-11-27 09:30:17.123456+00', '2026-11-27 09:30:15.123456+00',
     '01001', 'mairie-srv', 62.5, 'C', '\x1f8b0800ff01'),
    ('agt_1', 'r-2', '2026-11-28 09:30:17.123456+00', '2026-11-28 09:30:15.123456+00',
     '01001', 'mairie-srv', 87.5, 'B', '\x1f8b0800ff02'),
    ('agt_2', 'r-old', '2026-11-14 08:00:02+00', '2026-11-14 08:00:00+00',
     '01001', 'secretariat', 40.0, 'D', '\x1f8b0800ff03');
INSERT INTO host_latest VALUES
    ('agt_1', 'r-2', '2026-11-28 09:30:17.123456+00', '2026-11-28 09:30:15.123456+00',
     '\x1f8b0800ff02',
     '{"ports.risky": ["fail", "high", "Telnet ouvert sur 23/tcp"], "patching.pending": ["pass", "medium", "À jour"]}',
     '{"score": 87.5, "grade": "B"}'),
    ('agt_2', 'r-old', '2026-11-14 08:00:02+00', '2026-11-14 08:00:00+00',
     '\x1f8b0800ff03', '{}', '{"score": 40.0, "grade": "D"}');
INSERT INTO snapshots VALUES
    ('01001', '2026-11-27', 62.5, 'C', 2, 2, '{"high": 1, "medium": 2}'),
    ('01001', '2026-11-28', 87.5, 'B', 2, 1, '{"high": 1}'),
    ('74119', '2026-11-28', 100.0, 'A', 1, 0, '{}');
