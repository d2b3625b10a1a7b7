import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Fetcher } from '../providers/types.js';

/**
 * SNS signing certificates by URL: first a pre-seeded directory (hosts without internet access, tests:
 * a file named as the URL's last path segment), then a cache, then a fetch. The adapter has already
 * checked that the URL is an HTTPS SNS host before asking.
 */
export class SnsCertificates {
  private readonly cache = new Map<string, { pem: string; expires: number }>();

  constructor(
    private readonly fetcher: Fetcher,
    private readonly certDir: string | null,
    private readonly ttlMs = 24 * 3_600_000,
  ) {}

  async get(url: string, nowMs = Date.now()): Promise<string> {
    const hit = this.cache.get(url);
    if (hit && hit.expires > nowMs) return hit.pem;
    const pem = (await this.fromDir(url)) ?? (await this.fetch(url));
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('not a PEM certificate');
    if (this.cache.size > 100) this.cache.clear();
    this.cache.set(url, { pem, expires: nowMs + this.ttlMs });
    return pem;
  }

  private async fromDir(url: string): Promise<string | null> {
    if (!this.certDir) return null;
    const name = basename(new URL(url).pathname);
    if (!/^[\w.-]+\.pem$/.test(name)) return null;
    try {
      return await readFile(join(this.certDir, name), 'utf8');
    } catch {
      return null;
    }
  }

  private async fetch(url: string): Promise<string> {
    const res = await this.fetcher(url, { timeoutMs: 5000 });
    if (res.status !== 200) throw new Error(`certificate fetch answered ${res.status}`);
    return res.text;
  }
}
