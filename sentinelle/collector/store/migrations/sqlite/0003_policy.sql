-- 0003: the syndicate's policy: settings per scope, waivers with an expiry, and the history of
-- who changed what when (sentinelle/collector/policy.py).
CREATE TABLE policy_scopes (
    scope TEXT PRIMARY KEY, document TEXT NOT NULL,
    updated_at TEXT NOT NULL, updated_by TEXT NOT NULL);
CREATE TABLE waivers (
    waiver_id TEXT PRIMARY KEY, check_id TEXT NOT NULL, finding_key TEXT, scope TEXT NOT NULL,
    reason TEXT NOT NULL, accepted_by TEXT NOT NULL, expires TEXT NOT NULL,
    created_at TEXT NOT NULL, created_by TEXT NOT NULL, revoked_at TEXT, revoked_by TEXT);
CREATE INDEX waivers_active ON waivers(expires) WHERE revoked_at IS NULL;
CREATE TABLE policy_changes (
    change_id INTEGER PRIMARY KEY, at TEXT NOT NULL, who TEXT NOT NULL,
    action TEXT NOT NULL, scope TEXT NOT NULL, detail TEXT NOT NULL);
