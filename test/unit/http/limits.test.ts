import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { httpLimitsOf, readOpenFileLimit } from '../../../src/http/limits.js';

const defaults = loadConfig({});

describe('HTTP limits', () => {
  it('keeps the configured cap when the open-file limit leaves room for it and the rest of the process', () => {
    const limits = httpLimitsOf(defaults, 65_536);
    expect(limits).toMatchObject({ maxConnections: 10_000, loweredFrom: null });
    expect(limits.socketCeiling).toBe(11_000);
  });

  it('lowers the cap to fit a small open-file limit, keeping descriptors for deliveries and files', () => {
    const limits = httpLimitsOf(defaults, 1024);
    expect(limits.loweredFrom).toBe(10_000);
    // 256 reserved + 2 per delivery slot (200 by default) + the connections being closed.
    expect(limits.socketCeiling + 256 + 2 * defaults.deliveryConcurrency).toBeLessThanOrEqual(1024);
    expect(limits.maxConnections).toBeGreaterThan(200);
  });

  it('never lowers the cap below 32, nor raises a smaller configured one', () => {
    expect(httpLimitsOf(defaults, 300).maxConnections).toBe(32);
    expect(httpLimitsOf({ ...defaults, maxConnections: 10 }, 300)).toMatchObject({
      maxConnections: 10,
      loweredFrom: null,
    });
  });

  it('keeps the configured cap when the open-file limit is unknown', () => {
    expect(httpLimitsOf(defaults, null)).toMatchObject({ maxConnections: 10_000, loweredFrom: null });
  });

  it('gives the largest ingest body time at 2 Mbit/s, never less than 30 s or the headers timeout', () => {
    expect(httpLimitsOf(defaults, null).requestTimeoutMs).toBe(30_000);
    expect(httpLimitsOf({ ...defaults, maxBodyBytes: 50 * 1024 * 1024 }, null).requestTimeoutMs).toBe(
      200_000,
    );
    expect(httpLimitsOf({ ...defaults, headersTimeoutMs: 45_000 }, null).requestTimeoutMs).toBe(45_000);
  });

  it('checks the timeouts often enough that a silent connection goes soon after the headers timeout', () => {
    expect(httpLimitsOf(defaults, null).timeoutCheckMs).toBe(1000);
    expect(httpLimitsOf({ ...defaults, headersTimeoutMs: 300 }, null).timeoutCheckMs).toBe(30);
  });

  it('reads the soft open-file limit from /proc/self/limits, and null when there is none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailhook-limits-'));
    try {
      const path = join(dir, 'limits');
      writeFileSync(
        path,
        'Limit                     Soft Limit           Hard Limit           Units     \n' +
          'Max open files            1024                 524288               files     \n',
      );
      expect(readOpenFileLimit(path)).toBe(1024);
      writeFileSync(path, 'Max open files            unlimited            unlimited            files\n');
      expect(readOpenFileLimit(path)).toBeNull();
      expect(readOpenFileLimit(join(dir, 'missing'))).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
