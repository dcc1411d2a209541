"""The server's SQLite schema as numbered migrations, applied in order from an empty file.

Owns ``MIGRATIONS`` and ``SCHEMA`` (the same as ``doorward.daemon.codec.migrations.Migration``
entries, the one mechanism of all three databases); ``doorward.server.store.db`` applies them,
recording the number in ``user_version``.
Never edit a released migration: add the next number. Times are epoch seconds (REAL).
"""

from __future__ import annotations

from doorward.daemon.codec.migrations import Migration, check_sequence

INITIAL = """
CREATE TABLE sites (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, time_zone TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE zones (
    id TEXT PRIMARY KEY, site_id TEXT NOT NULL REFERENCES sites(id), name TEXT NOT NULL,
    two_person INTEGER NOT NULL DEFAULT 0, two_person_window_s REAL,
    lockdown INTEGER NOT NULL DEFAULT 0, UNIQUE (site_id, name));
CREATE TABLE schedules (
    id TEXT PRIMARY KEY, site_id TEXT NOT NULL REFERENCES sites(id), name TEXT NOT NULL,
    weekly TEXT NOT NULL, holiday TEXT NOT NULL, UNIQUE (site_id, name));
CREATE TABLE holidays (
    site_id TEXT NOT NULL REFERENCES sites(id), day TEXT NOT NULL, name TEXT NOT NULL,
    PRIMARY KEY (site_id, day));
CREATE TABLE devices (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('door', 'station')),
    name TEXT NOT NULL UNIQUE, site_id TEXT NOT NULL REFERENCES sites(id),
    zone_id TEXT REFERENCES zones(id), module_identity TEXT NOT NULL,
    capacity INTEGER NOT NULL, policy TEXT NOT NULL, lockdown INTEGER NOT NULL DEFAULT 0,
    token_sha256 TEXT UNIQUE, x25519_public BLOB, signing_public BLOB, paired_at REAL,
    module_password_sealed BLOB, last_version INTEGER NOT NULL DEFAULT 0,
    dirty INTEGER NOT NULL DEFAULT 1, last_heartbeat_at REAL, heartbeat TEXT,
    applied_version INTEGER, reconciled_version INTEGER,
    reported_module_identity TEXT, offline_alarmed INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL);
CREATE TABLE bundles (
    device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    version INTEGER NOT NULL, issued_at REAL NOT NULL, expires_at REAL NOT NULL,
    envelope BLOB NOT NULL, fingers TEXT NOT NULL);
CREATE TABLE removals (
    device_id TEXT NOT NULL, finger_id TEXT NOT NULL, user_id TEXT NOT NULL,
    version INTEGER NOT NULL, requested_at REAL NOT NULL,
    cache_confirmed_at REAL, module_confirmed_at REAL,
    PRIMARY KEY (device_id, finger_id, version));
CREATE INDEX removals_by_user ON removals (user_id);
CREATE TABLE users (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, roles TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1, valid_from REAL, valid_until REAL,
    consent_at REAL, consent_by TEXT, consent_reference TEXT, created_at REAL NOT NULL);
CREATE TABLE fingers (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL, module_identity TEXT NOT NULL, template_sealed BLOB NOT NULL,
    template_sha256 TEXT NOT NULL, duress INTEGER NOT NULL DEFAULT 0,
    enrolled_at REAL NOT NULL, enrolled_by TEXT NOT NULL, last_used_at REAL,
    retention_warned_at REAL);
CREATE INDEX fingers_by_user ON fingers (user_id);
CREATE INDEX fingers_by_identity ON fingers (module_identity);
CREATE TABLE grants (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    zone_id TEXT NOT NULL REFERENCES zones(id), schedule_id TEXT REFERENCES schedules(id),
    created_at REAL NOT NULL);
CREATE UNIQUE INDEX grants_unique ON grants (user_id, zone_id, IFNULL(schedule_id, ''));
CREATE INDEX grants_by_zone ON grants (zone_id);
CREATE TABLE admins (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
    password_hash TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE sessions (
    token_sha256 TEXT PRIMARY KEY, admin_id TEXT NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    created_at REAL NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE pairing_codes (
    code_sha256 TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    created_at REAL NOT NULL, expires_at REAL NOT NULL, used_at REAL);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE journals (
    device_id TEXT NOT NULL, journal_id TEXT NOT NULL, last_seq INTEGER NOT NULL,
    last_hash TEXT NOT NULL, PRIMARY KEY (device_id, journal_id));
CREATE TABLE events (
    device_id TEXT NOT NULL, journal_id TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL,
    kind TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
    chain_ok INTEGER NOT NULL, received_at REAL NOT NULL,
    PRIMARY KEY (device_id, journal_id, seq)) WITHOUT ROWID;
CREATE TABLE alarms (
    id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT, kind TEXT NOT NULL,
    raised_at REAL NOT NULL, detail TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'open',
    acknowledged_by TEXT, acknowledged_at REAL, cleared_by TEXT, cleared_at REAL);
CREATE INDEX alarms_open ON alarms (state, kind, device_id);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, alarm_id INTEGER NOT NULL REFERENCES alarms(id),
    sink TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL,
    delivered_at REAL, last_error TEXT);
CREATE INDEX outbox_due ON outbox (delivered_at, next_attempt_at);
"""

# The console's event log pages newest first by the order ``doorward.server.domain.event_log``
# sorts in, site-wide, for one door, one kind or one reason, and finds one person's records
# (named, or by finger): without these a filtered first page may read every row.
CONSOLE = """
CREATE INDEX events_by_time ON events (julianday(at), received_at, device_id, journal_id, seq);
CREATE INDEX events_by_door_time ON events (device_id, julianday(at), received_at, journal_id, seq);
CREATE INDEX events_by_kind ON events (kind, julianday(at), received_at, device_id, journal_id, seq);
CREATE INDEX events_by_reason ON events (COALESCE(json_extract(detail, '$.reason'), json_extract(detail, '$.alarm')),
                                         julianday(at), received_at, device_id, journal_id, seq);
CREATE INDEX events_by_person ON events (COALESCE(json_extract(detail, '$.user'), json_extract(detail, '$.user_id')));
CREATE INDEX events_by_finger ON events (COALESCE(json_extract(detail, '$.finger'), json_extract(detail, '$.finger_id')),
                                         COALESCE(json_extract(detail, '$.user'), json_extract(detail, '$.user_id')));
ALTER TABLE alarms ADD COLUMN acknowledge_comment TEXT;
"""

# (number, name, SQL); numbers start at 1 and have no gaps.
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "initial", INITIAL),
    (2, "fingers by template hash", "CREATE INDEX fingers_by_hash ON fingers (template_sha256);"),
    (3, "alarm ends", "ALTER TABLE alarms ADD COLUMN ended_at REAL;"
                      " ALTER TABLE alarms ADD COLUMN end_event TEXT;"),
    # How far an integration has sent the alarms (the MQTT bridge: the highest alarm id the
    # broker acknowledged), so each is published once, in order, across restarts.
    (4, "integration cursors", "CREATE TABLE integration_cursors (name TEXT PRIMARY KEY,"
                               " position INTEGER NOT NULL, updated_at REAL NOT NULL);"),
    (5, "console: events by time and by door, acknowledgement comments", CONSOLE),
)

SCHEMA: tuple[Migration, ...] = tuple(Migration(number, name, sql) for number, name, sql in MIGRATIONS)
check_sequence(SCHEMA)
