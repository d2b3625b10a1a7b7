-- What provider handshakes left on a source (e.g. the SNS subscription's confirmation), as JSON.
ALTER TABLE sources ADD COLUMN state TEXT NOT NULL DEFAULT '{}';
