-- Events and raw requests name their source by a small integer key instead of its 30-character id,
-- which each row held once and the (source, dedup key), events_source and inbox_source indexes held
-- again: about 120 bytes less per stored request (src/store/sqlite/source-keys.ts). Every id ever
-- stored gets a key here, sources deleted or never created (published and system events) alike, and
-- keeps it: the table is never pruned.
CREATE TABLE source_keys (
  key  INTEGER PRIMARY KEY,
  id   TEXT NOT NULL UNIQUE
);
INSERT INTO source_keys (id)
SELECT source_id FROM events UNION SELECT source_id FROM inbox ORDER BY 1;

-- SQLite cannot change a column in place, so both tables are copied with their rowids (the stored
-- order a live tail follows is the events rowid) and their indexes built again. The file needs room
-- for a second copy of both tables while this runs.
CREATE TABLE events_keyed (
  id             TEXT PRIMARY KEY,
  source_key     INTEGER NOT NULL,
  dedup_key      TEXT NOT NULL,
  type           TEXT NOT NULL,
  occurred_at    INTEGER NOT NULL,
  recipient      TEXT,
  message_id     TEXT,
  inbox_id       TEXT,
  body           TEXT NOT NULL,
  provider       TEXT,
  bounce_type    TEXT,
  first_of_type  INTEGER NOT NULL DEFAULT 0,
  body_format    INTEGER NOT NULL DEFAULT 0,
  received_at    INTEGER,
  UNIQUE (source_key, dedup_key)
);
INSERT INTO events_keyed (rowid, id, source_key, dedup_key, type, occurred_at, recipient, message_id,
                          inbox_id, body, provider, bounce_type, first_of_type, body_format, received_at)
SELECT e.rowid, e.id, k.key, e.dedup_key, e.type, e.occurred_at, e.recipient, e.message_id,
       e.inbox_id, e.body, e.provider, e.bounce_type, e.first_of_type, e.body_format, e.received_at
FROM events e JOIN source_keys k ON k.id = e.source_id ORDER BY e.rowid;
DROP TABLE events;
ALTER TABLE events_keyed RENAME TO events;
CREATE INDEX events_time ON events (occurred_at);
CREATE INDEX events_type ON events (type, occurred_at);
CREATE INDEX events_recipient ON events (recipient, occurred_at);
CREATE INDEX events_message ON events (message_id, occurred_at);
CREATE INDEX events_source ON events (source_key, occurred_at);

CREATE TABLE inbox_keyed (
  id               TEXT PRIMARY KEY,
  source_key       INTEGER NOT NULL,
  provider         TEXT NOT NULL,
  received_at      INTEGER NOT NULL,
  method           TEXT NOT NULL,
  path             TEXT NOT NULL,
  query            TEXT NOT NULL,
  headers          TEXT NOT NULL,
  body             BLOB NOT NULL,
  status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed', 'quarantined')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  error            TEXT,
  notes            TEXT,
  event_count      INTEGER NOT NULL DEFAULT 0,
  duplicate_count  INTEGER NOT NULL DEFAULT 0,
  processed_at     INTEGER,
  trace            TEXT,
  raw_event        TEXT
);
INSERT INTO inbox_keyed (rowid, id, source_key, provider, received_at, method, path, query, headers, body,
                         status, attempts, error, notes, event_count, duplicate_count, processed_at, trace,
                         raw_event)
SELECT i.rowid, i.id, k.key, i.provider, i.received_at, i.method, i.path, i.query, i.headers, i.body,
       i.status, i.attempts, i.error, i.notes, i.event_count, i.duplicate_count, i.processed_at, i.trace,
       i.raw_event
FROM inbox i JOIN source_keys k ON k.id = i.source_id ORDER BY i.rowid;
DROP TABLE inbox;
ALTER TABLE inbox_keyed RENAME TO inbox;
CREATE INDEX inbox_pending ON inbox (id) WHERE status = 'pending';
CREATE INDEX inbox_status ON inbox (status, id) WHERE status <> 'processed';
CREATE INDEX inbox_source ON inbox (source_key, id);
