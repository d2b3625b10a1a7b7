-- Times are Unix milliseconds (BIGINT), as in the SQLite schema, so both stores order and compare alike.
CREATE TABLE sources (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  provider    TEXT NOT NULL,
  config      TEXT NOT NULL,
  enabled     BOOLEAN NOT NULL DEFAULT TRUE,
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL,
  deleted_at  BIGINT
);

CREATE TABLE inbox (
  id               TEXT PRIMARY KEY,
  source_id        TEXT NOT NULL,
  provider         TEXT NOT NULL,
  received_at      BIGINT NOT NULL,
  method           TEXT NOT NULL,
  path             TEXT NOT NULL,
  query            TEXT NOT NULL,
  headers          TEXT NOT NULL,
  body             BYTEA NOT NULL,
  status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed', 'quarantined')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  error            TEXT,
  notes            TEXT,
  event_count      INTEGER NOT NULL DEFAULT 0,
  duplicate_count  INTEGER NOT NULL DEFAULT 0,
  processed_at     BIGINT
);
CREATE INDEX inbox_pending ON inbox (id) WHERE status = 'pending';
CREATE INDEX inbox_status ON inbox (status, id);
CREATE INDEX inbox_source ON inbox (source_id, id);

CREATE TABLE events (
  id           TEXT PRIMARY KEY,
  source_id    TEXT NOT NULL,
  dedup_key    TEXT NOT NULL,
  type         TEXT NOT NULL,
  occurred_at  BIGINT NOT NULL,
  recipient    TEXT,
  message_id   TEXT,
  inbox_id     TEXT,
  body         TEXT NOT NULL,
  UNIQUE (source_id, dedup_key)
);
CREATE INDEX events_time ON events (occurred_at, id);
CREATE INDEX events_type ON events (type, occurred_at, id);
CREATE INDEX events_recipient ON events (recipient, occurred_at, id);
CREATE INDEX events_message ON events (message_id, occurred_at, id);
CREATE INDEX events_source ON events (source_id, occurred_at, id);

CREATE TABLE api_keys (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  hash        TEXT NOT NULL UNIQUE,
  created_at  BIGINT NOT NULL,
  revoked_at  BIGINT
);
