-- Event and inbox ids as their ULID's 16 bytes (src/store/stored-id.ts): in the rows, the primary
-- keys, inbox_source, and the inbox_id and raw_event links between the two tables. The prefix is the
-- column's; an id that is not exactly a prefix and a ULID stays as it is. Other tables keep strings.
-- mailhook_id_bytes is registered by the store on its connection (src/store/sqlite/stored-id-sql.ts).
UPDATE events SET id = mailhook_id_bytes(id, 'evt'), inbox_id = mailhook_id_bytes(inbox_id, 'in');
UPDATE inbox SET id = mailhook_id_bytes(id, 'in'), raw_event = mailhook_id_bytes(raw_event, 'evt');
