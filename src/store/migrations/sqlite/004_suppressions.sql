-- Columns the suppression rules and stats read without parsing event bodies.
ALTER TABLE events ADD COLUMN provider TEXT;
ALTER TABLE events ADD COLUMN bounce_type TEXT;
UPDATE events SET provider = json_extract(body, '$.data.provider'), bounce_type = json_extract(body, '$.data.bounce.type');
CREATE INDEX events_provider ON events (provider, occurred_at);

-- The suppression list: one row per address, scope and reason; `event_id` is the event that caused it.
CREATE TABLE suppressions (
  email       TEXT NOT NULL,
  scope       TEXT NOT NULL,
  reason      TEXT NOT NULL,
  detail      TEXT,
  event_id    TEXT,
  source_id   TEXT,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (email, scope, reason)
);
CREATE INDEX suppressions_created ON suppressions (created_at, email);
CREATE INDEX suppressions_reason ON suppressions (reason, created_at);
