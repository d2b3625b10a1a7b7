import { describe, expect, it } from 'vitest';
import { parameterChunks } from '../../../src/store/postgres/connection.js';

describe('parameterChunks', () => {
  it('keeps every chunk below the 65,534 values postgres.js refuses, whatever the column count', () => {
    for (let columns = 1; columns <= 40; columns++) {
      const row = Object.fromEntries(Array.from({ length: columns }, (_, i) => [`c${i}`, i]));
      const rows = Array.from({ length: 70_000 }, () => row);
      const chunks = parameterChunks(rows);
      expect(chunks.flat()).toHaveLength(rows.length);
      for (const chunk of chunks) expect(chunk.length * columns, `${columns} columns`).toBeLessThan(65_534);
      // As few statements as the limit allows.
      expect(chunks.length).toBe(Math.ceil((rows.length * columns) / (65_533 - (65_533 % columns))));
    }
  });
});
