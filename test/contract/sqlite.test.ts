import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/index.js';
import { runDeliveryContract } from './delivery-contract.js';
import { runInlineContract } from './inline-contract.js';
import { runInsightsContract } from './insights-contract.js';
import { runKeysContract } from './keys-contract.js';
import { runReconcileContract } from './reconcile-contract.js';
import { runRetentionContract } from './retention-contract.js';
import { type MakeStore, runStoreContract } from './store-contract.js';

const makeSqliteStore: MakeStore = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mailhook-contract-'));
  const store = new SqliteStore({ filename: join(dir, 'mailhook.db') });
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
};

runStoreContract('SqliteStore', makeSqliteStore);
runDeliveryContract('SqliteStore', makeSqliteStore);
runInsightsContract('SqliteStore', makeSqliteStore);
runKeysContract('SqliteStore', makeSqliteStore);
runInlineContract('SqliteStore', makeSqliteStore);
runRetentionContract('SqliteStore', makeSqliteStore);
runReconcileContract('SqliteStore', makeSqliteStore);
