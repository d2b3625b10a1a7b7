-- GET /v1/stats reads hourly rollups, kept in the transactions that store events, instead of counting
-- the events (src/store/stats-rollup.ts has the terms). Its cost no longer grows with the number of
-- events, and the time index need not cover the stats columns any more.

-- Indexes this migration replaces go first, so the backfill below does not update them. No query reads
-- events_provider (the stats read the provider from events_time's included columns), so it goes.
DROP INDEX events_time;
DROP INDEX events_provider;

-- True when the event is the first stored one of its (message_id, type): unique messages count these.
-- Events stored before this migration: the earliest of each pair by (occurred_at, id).
-- Writers look the pair up in events_message (message_id, occurred_at, id), left as it is: with type
-- in that index, SQLite's planner answered message_id combined with type or source_id by walking the
-- other index in time order.
ALTER TABLE events ADD COLUMN first_of_type BOOLEAN NOT NULL DEFAULT false;
UPDATE events SET first_of_type = true WHERE id IN (
  SELECT DISTINCT ON (message_id, type) id FROM events
  WHERE message_id IS NOT NULL ORDER BY message_id, type, occurred_at, id);

-- Per hour (occurred_at floored, Unix ms), source, provider ('' for none) and type: the events and
-- the first-of-type events among them.
CREATE TABLE stats_rollup (
  hour       BIGINT NOT NULL,
  source_id  TEXT NOT NULL,
  provider   TEXT NOT NULL,
  type       TEXT NOT NULL,
  events     INTEGER NOT NULL,
  messages   INTEGER NOT NULL,
  PRIMARY KEY (hour, source_id, provider, type)
);

-- The same per recipient domain ('' for none), apart: the domains can be many, and only
-- group_by=recipient_domain needs to read them.
CREATE TABLE stats_rollup_domains (
  hour       BIGINT NOT NULL,
  source_id  TEXT NOT NULL,
  type       TEXT NOT NULL,
  domain     TEXT NOT NULL,
  events     INTEGER NOT NULL,
  messages   INTEGER NOT NULL,
  PRIMARY KEY (hour, source_id, type, domain)
);

INSERT INTO stats_rollup (hour, source_id, provider, type, events, messages)
SELECT occurred_at - ((occurred_at % 3600000) + 3600000) % 3600000, source_id, COALESCE(provider, ''), type,
       COUNT(*), COUNT(*) FILTER (WHERE first_of_type)
FROM events GROUP BY 1, 2, 3, 4;

-- The domain as src/store/postgres/stats-rollup.ts RECIPIENT_DOMAIN_SQL computes it.
INSERT INTO stats_rollup_domains (hour, source_id, type, domain, events, messages)
SELECT occurred_at - ((occurred_at % 3600000) + 3600000) % 3600000, source_id, type,
       COALESCE(CASE WHEN strpos(recipient, '@') > 0 THEN
         NULLIF(translate(reverse(split_part(reverse(recipient), '@', 1)), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '') END, ''),
       COUNT(*), COUNT(*) FILTER (WHERE first_of_type)
FROM events GROUP BY 1, 2, 3, 4;

-- The time index serves ordered listing, replay pages and the partial hours of a stats window: back
-- to (occurred_at, id), without the columns migration 005 included for the stats.
CREATE INDEX events_time ON events (occurred_at, id);

