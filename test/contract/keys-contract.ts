import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import type { ApiKeyRecord, Store } from '../../src/store/store.js';
import type { MakeStore } from './store-contract.js';

/** API key management verbs (list, revoke), the same on every store. */

const T0 = Date.parse('2026-11-26T12:00:00.000Z');

function keyRecord(name: string, minutes: number): ApiKeyRecord {
  const hash = `${name.padEnd(8, '0')}${'0'.repeat(56)}`.slice(0, 64);
  return { id: newId('apiKey'), name, hash, createdAt: new Date(T0 + minutes * 60_000) };
}

export function runKeysContract(name: string, makeStore: MakeStore): void {
  describe(`${name} api key management`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
      await store.migrate();
    });

    afterEach(async () => {
      await cleanup();
    });

    it('listApiKeys returns every active key, oldest first', async () => {
      const second = keyRecord('ci', 5);
      const first = keyRecord('admin', 1);
      await store.addApiKey(second);
      await store.addApiKey(first);
      expect(await store.listApiKeys()).toEqual([first, second]);
    });

    it('listApiKeys is empty on a fresh store', async () => {
      expect(await store.listApiKeys()).toEqual([]);
    });

    it('a revoked key no longer authenticates, is not listed and is not counted', async () => {
      const admin = keyRecord('admin', 1);
      const ci = keyRecord('ci', 2);
      await store.addApiKey(admin);
      await store.addApiKey(ci);
      expect(await store.revokeApiKey(ci.id, new Date(T0 + 3 * 60_000))).toBe('revoked');
      expect(await store.findApiKeyByHash(ci.hash)).toBeNull();
      expect(await store.listApiKeys()).toEqual([admin]);
      expect(await store.countApiKeys()).toBe(1);
      expect(await store.findApiKeyByHash(admin.hash)).toEqual(admin);
    });

    it('revoking an unknown or already revoked key is not_found', async () => {
      const ci = keyRecord('ci', 2);
      await store.addApiKey(keyRecord('admin', 1));
      await store.addApiKey(ci);
      expect(await store.revokeApiKey(newId('apiKey'), new Date(T0))).toBe('not_found');
      expect(await store.revokeApiKey(ci.id, new Date(T0))).toBe('revoked');
      expect(await store.revokeApiKey(ci.id, new Date(T0 + 1000))).toBe('not_found');
    });

    it('never revokes the last active key', async () => {
      const admin = keyRecord('admin', 1);
      await store.addApiKey(admin);
      expect(await store.revokeApiKey(admin.id, new Date(T0))).toBe('last');
      expect(await store.findApiKeyByHash(admin.hash)).toEqual(admin);
    });

    it('leaves exactly one active key when every key is revoked at the same moment', async () => {
      const keys = Array.from({ length: 8 }, (_, i) => keyRecord(`key${i}`, i));
      for (const key of keys) await store.addApiKey(key);
      const results = await Promise.all(keys.map((key) => store.revokeApiKey(key.id, new Date(T0 + 60_000))));
      expect(results.filter((r) => r === 'revoked')).toHaveLength(7);
      expect(results.filter((r) => r === 'last')).toHaveLength(1);
      expect(await store.listApiKeys()).toHaveLength(1);
    });

    it('adding a revoked key again does not bring it back', async () => {
      // What a restart with a revoked MAILHOOK_API_KEY does: same hash, fresh id.
      const admin = keyRecord('admin', 1);
      const ci = keyRecord('ci', 2);
      await store.addApiKey(admin);
      await store.addApiKey(ci);
      expect(await store.revokeApiKey(admin.id, new Date(T0 + 60_000))).toBe('revoked');
      await store.addApiKey({ ...admin, id: newId('apiKey') });
      expect(await store.findApiKeyByHash(admin.hash)).toBeNull();
      expect(await store.listApiKeys()).toEqual([ci]);
    });
  });
}
