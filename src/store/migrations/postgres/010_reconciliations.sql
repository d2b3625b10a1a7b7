-- Reconciliation jobs (src/reconcile/): a window of a source's events read back from the provider's
-- own API. `cursor` is where the reader stopped (its next page), saved with each page's counts, so an
-- interrupted job resumes there. At most one job per source runs at a time (the partial unique index),
-- on one node at a time (the lease).
CREATE TABLE reconciliations (
  id                TEXT PRIMARY KEY,
  source_id         TEXT NOT NULL,
  trigger           TEXT NOT NULL CHECK (trigger IN ('api', 'startup', 'silent', 'schedule')),
  status            TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
  since             BIGINT NOT NULL,
  until             BIGINT NOT NULL,
  cursor            TEXT,
  pages             INTEGER NOT NULL DEFAULT 0,
  found             INTEGER NOT NULL DEFAULT 0,
  new               INTEGER NOT NULL DEFAULT 0,
  duplicates        INTEGER NOT NULL DEFAULT 0,
  skipped           INTEGER NOT NULL DEFAULT 0,
  error             TEXT,
  lease_owner       TEXT,
  lease_expires_at  BIGINT,
  created_at        BIGINT NOT NULL,
  updated_at        BIGINT NOT NULL,
  finished_at       BIGINT
);
CREATE UNIQUE INDEX reconciliations_one_running ON reconciliations (source_id) WHERE status = 'running';
CREATE INDEX reconciliations_source ON reconciliations (source_id, created_at);

-- When this installation was last seen running, so a start after downtime can read the gap back.
CREATE TABLE node_heartbeat (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  seen_at  BIGINT NOT NULL
);
