-- 0004: each commune's LAN inventory: devices seen in the lan checks' Reports, when, by which
-- agent, and the SOC's approval (sentinelle/checks/lan, `sentinelle collector device`).
CREATE TABLE lan_devices (
    commune text NOT NULL, mac text NOT NULL,
    ip text NOT NULL DEFAULT '', vendor text NOT NULL DEFAULT '',
    device_class text NOT NULL DEFAULT 'unknown', name text NOT NULL DEFAULT '',
    first_seen timestamptz, last_seen timestamptz, last_agent text NOT NULL DEFAULT '',
    missing_since timestamptz, label text, approved_by text, approved_at timestamptz,
    PRIMARY KEY (commune, mac));
