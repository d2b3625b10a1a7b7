-- An event's body without the fields its row already holds in columns (src/store/event-body.ts):
-- body_format 1 holds the data without provider, source_id, message_id and recipient, and reading
-- puts them back with id, type and timestamp from the columns; about 250 bytes less per event.
-- Rows stored before this migration keep the whole event (0) and are read as they are, so nothing
-- is rewritten.
ALTER TABLE events ADD COLUMN body_format INTEGER NOT NULL DEFAULT 0;

-- A request whose one event holds it byte for byte as data.raw (src/store/inbox-raw.ts) is not kept
-- twice: its inbox row names that event here and keeps an empty body, and reading the row takes the
-- body from the event. Retention keeps such an event as long as the row.
ALTER TABLE inbox ADD COLUMN raw_event TEXT;

-- The filter indexes end at occurred_at: a listing orders the few events of one instant by id after
-- reading them (SQLite: a temp B-tree for the last term; PostgreSQL: an incremental sort), and each
-- entry is 30 bytes shorter without the text id. events_time keeps (occurred_at, id) for the
-- replay pages and the listing cursor, which seek on both.
DROP INDEX events_type;
CREATE INDEX events_type ON events (type, occurred_at);
DROP INDEX events_recipient;
CREATE INDEX events_recipient ON events (recipient, occurred_at);
DROP INDEX events_message;
CREATE INDEX events_message ON events (message_id, occurred_at);
DROP INDEX events_source;
CREATE INDEX events_source ON events (source_id, occurred_at);

-- Dedup keys longer than 32 bytes are stored as '#' and 32 hex digits of their SHA-256
-- (src/store/dedup-key.ts): Postmark's 82-byte keys took 82 bytes in the row and again in the unique
-- index. The keys stored before are rewritten the same way, by the function writers use (registered
-- by the store on the connection that migrates).
UPDATE events SET dedup_key = mailhook_dedup_key(dedup_key) WHERE length(CAST(dedup_key AS BLOB)) > 32;
