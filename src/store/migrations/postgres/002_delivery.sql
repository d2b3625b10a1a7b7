-- Endpoints: subscriber URLs. Secrets are a JSON array, newest first; an old secret keeps signing
-- until its expires_at (rotation grace period).
CREATE TABLE endpoints (
  id                    TEXT PRIMARY KEY,
  url                   TEXT NOT NULL,
  description           TEXT NOT NULL DEFAULT '',
  event_types           TEXT NOT NULL,
  filter                TEXT,
  headers               TEXT NOT NULL,
  secrets               TEXT NOT NULL,
  status                TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'disabled')),
  status_reason         TEXT,
  rate_limit            DOUBLE PRECISION,
  max_concurrency       INTEGER NOT NULL,
  consecutive_failures  INTEGER NOT NULL DEFAULT 0,
  first_failure_at      BIGINT,
  last_success_at       BIGINT,
  last_failure_at       BIGINT,
  created_at            BIGINT NOT NULL,
  updated_at            BIGINT NOT NULL,
  deleted_at            BIGINT
);

-- Deliveries: one event on its way to one endpoint. `dedupe` is '' for fan-out (one per event and
-- endpoint) and names the replay, redelivery or test otherwise. `payload` is set only for deliveries
-- of events that are not stored (test sends).
CREATE TABLE deliveries (
  id                TEXT PRIMARY KEY,
  event_id          TEXT NOT NULL,
  endpoint_id       TEXT NOT NULL,
  dedupe            TEXT NOT NULL DEFAULT '',
  origin            TEXT NOT NULL CHECK (origin IN ('event', 'replay', 'redeliver', 'test')),
  payload           TEXT,
  status            TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts          INTEGER NOT NULL DEFAULT 0,
  next_attempt_at   BIGINT,
  lease_owner       TEXT,
  lease_expires_at  BIGINT,
  last_status       INTEGER,
  last_error        TEXT,
  created_at        BIGINT NOT NULL,
  updated_at        BIGINT NOT NULL,
  completed_at      BIGINT,
  UNIQUE (event_id, endpoint_id, dedupe)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id);
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';

-- Attempts: every HTTP POST of a delivery, with its outcome.
CREATE TABLE attempts (
  id                TEXT PRIMARY KEY,
  delivery_id       TEXT NOT NULL,
  endpoint_id       TEXT NOT NULL,
  attempt           INTEGER NOT NULL,
  started_at        BIGINT NOT NULL,
  duration_ms       INTEGER NOT NULL,
  ok                INTEGER NOT NULL,
  http_status       INTEGER,
  error_class       TEXT,
  error             TEXT,
  response_snippet  TEXT
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, attempt);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, started_at);

-- Replays: a time range of stored events sent again to one endpoint, advanced page by page.
CREATE TABLE replays (
  id           TEXT PRIMARY KEY,
  endpoint_id  TEXT NOT NULL,
  since        BIGINT NOT NULL,
  until        BIGINT NOT NULL,
  types        TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('running', 'done')),
  scanned      INTEGER NOT NULL DEFAULT 0,
  enqueued     INTEGER NOT NULL DEFAULT 0,
  skipped      INTEGER NOT NULL DEFAULT 0,
  cursor       TEXT,
  created_at   BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  finished_at  BIGINT
);
CREATE INDEX replays_running ON replays (created_at) WHERE status = 'running';
