ALTER TABLE events ADD COLUMN provider TEXT;
ALTER TABLE events ADD COLUMN bounce_type TEXT;
UPDATE events SET provider = (body::jsonb) -> 'data' ->> 'provider', bounce_type = (body::jsonb) -> 'data' -> 'bounce' ->> 'type';
CREATE INDEX events_provider ON events (provider, occurred_at);

CREATE TABLE suppressions (
  email       TEXT NOT NULL,
  scope       TEXT NOT NULL,
  reason      TEXT NOT NULL,
  detail      TEXT,
  event_id    TEXT,
  source_id   TEXT,
  created_at  BIGINT NOT NULL,
  PRIMARY KEY (email, scope, reason)
);
CREATE INDEX suppressions_created ON suppressions (created_at, email);
CREATE INDEX suppressions_reason ON suppressions (reason, created_at);

-- Idempotent publishing: the key's event, so a repeated request returns it.
