-- 0003: the syndicate's policy: settings per scope, waivers with an expiry, and the history of
-- who changed what when (sentinelle/collector/policy.py).
CREATE TABLE policy_scopes (
    scope text PRIMARY KEY, document text NOT NULL,
    updated_at timestamptz NOT NULL, updated_by text NOT NULL);
CREATE TABLE waivers (
    waiver_id text PRIMARY KEY, check_id text NOT NULL, finding_key text, scope text NOT NULL,
    reason text NOT NULL, accepted_by text NOT NULL, expires date NOT NULL,
    created_at timestamptz NOT NULL, created_by text NOT NULL, revoked_at timestamptz,
    revoked_by text);
CREATE INDEX waivers_active ON waivers(expires) WHERE revoked_at IS NULL;
CREATE TABLE policy_changes (
    change_id bigserial PRIMARY KEY, at timestamptz NOT NULL, who text NOT NULL,
    action text NOT NULL, scope text NOT NULL, detail text NOT NULL);
