-- GET /v1/stats reads hourly rollups, kept in the transactions that store events, instead of counting
-- the events (src/store/stats-rollup.ts has the terms). Its cost no longer grows with the number of
-- events, and the time index need not cover the stats columns any more.

-- 1 when the event is the first stored one of its (message_id, type): unique messages are a sum of it.
-- Events stored before this migration: the earliest of each pair by (occurred_at, id).
-- Writers look the pair up in events_message (message_id, occurred_at, id), left as it is: with type
-- in that index, SQLite's planner answered message_id combined with type or source_id by walking the
-- other index in time order.
ALTER TABLE events ADD COLUMN first_of_type INTEGER NOT NULL DEFAULT 0;
UPDATE events SET first_of_type = 1 WHERE rowid IN (
  SELECT rowid FROM (
    SELECT rowid, row_number() OVER (PARTITION BY message_id, type ORDER BY occurred_at, id) AS n
    FROM events WHERE message_id IS NOT NULL)
  WHERE n = 1);

-- Per hour (occurred_at floored, Unix ms), source, provider ('' for none) and type: the events and
-- the first-of-type events among them.
CREATE TABLE stats_rollup (
  hour       INTEGER NOT NULL,
  source_id  TEXT NOT NULL,
  provider   TEXT NOT NULL,
  type       TEXT NOT NULL,
  events     INTEGER NOT NULL,
  messages   INTEGER NOT NULL,
  PRIMARY KEY (hour, source_id, provider, type)
) WITHOUT ROWID;

-- The same per recipient domain ('' for none), apart: the domains can be many, and only
-- group_by=recipient_domain needs to read them.
CREATE TABLE stats_rollup_domains (
  hour       INTEGER NOT NULL,
  source_id  TEXT NOT NULL,
  type       TEXT NOT NULL,
  domain     TEXT NOT NULL,
  events     INTEGER NOT NULL,
  messages   INTEGER NOT NULL,
  PRIMARY KEY (hour, source_id, type, domain)
) WITHOUT ROWID;

INSERT INTO stats_rollup (hour, source_id, provider, type, events, messages)
SELECT occurred_at - ((occurred_at % 3600000) + 3600000) % 3600000, source_id, COALESCE(provider, ''), type,
       COUNT(*), SUM(first_of_type)
FROM events GROUP BY 1, 2, 3, 4;

-- The domain as src/store/sqlite/stats-rollup.ts RECIPIENT_DOMAIN_SQL computes it.
INSERT INTO stats_rollup_domains (hour, source_id, type, domain, events, messages)
SELECT occurred_at - ((occurred_at % 3600000) + 3600000) % 3600000, source_id, type,
       COALESCE(CASE WHEN instr(recipient, '@') > 0 THEN
         NULLIF(lower(substr(recipient, length(rtrim(recipient, replace(recipient, '@', ''))) + 1)), '') END, ''),
       COUNT(*), SUM(first_of_type)
FROM events GROUP BY 1, 2, 3, 4;

-- The time index serves ordered listing, replay pages and the partial hours of a stats window: it
-- goes back to (occurred_at, id), without the stats columns migration 005 added.
DROP INDEX events_time;
CREATE INDEX events_time ON events (occurred_at, id);

-- No query reads it (the stats read the provider from events_time's covering columns).
DROP INDEX events_provider;
