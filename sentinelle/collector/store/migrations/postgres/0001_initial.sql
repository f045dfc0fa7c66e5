-- 0001: the schema every PostgreSQL collector created before numbered migrations existed
-- (sentinelle/collector/store_postgres.py, SCHEMA, up to commit 35c9928), verbatim.
-- IF NOT EXISTS throughout: on a database that schema already created, this step changes
-- nothing and only records version 1 (the store checks first that the columns are all there).
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
