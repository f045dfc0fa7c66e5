-- 0004: each commune's LAN inventory: devices seen in the lan checks' Reports, when, by which
-- agent, and the SOC's approval (sentinelle/checks/lan, `sentinelle collector device`).
CREATE TABLE lan_devices (
    commune TEXT NOT NULL, mac TEXT NOT NULL,
    ip TEXT NOT NULL DEFAULT '', vendor TEXT NOT NULL DEFAULT '',
    device_class TEXT NOT NULL DEFAULT 'unknown', name TEXT NOT NULL DEFAULT '',
    first_seen TEXT, last_seen TEXT, last_agent TEXT NOT NULL DEFAULT '', missing_since TEXT,
    label TEXT, approved_by TEXT, approved_at TEXT,
    PRIMARY KEY (commune, mac));
