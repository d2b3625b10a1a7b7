-- One-time signature tokens (Mailgun's `token`), each bound to the SHA-256 of the first body it
-- verified with. Kept in the store, not in memory, so every node and every restart agrees: a captured
-- signature block can carry its own body again (a redelivery) but never another one. A row outlives
-- its signature's freshness window and is then pruned; nothing else ever evicts it.
CREATE TABLE signature_tokens (
  source_id   TEXT NOT NULL,
  token       TEXT NOT NULL,
  body_hash   TEXT NOT NULL,
  expires_at  BIGINT NOT NULL,
  PRIMARY KEY (source_id, token)
);

CREATE INDEX signature_tokens_expiry ON signature_tokens (expires_at);
