import { describe, it } from 'vitest';
import { postgresAvailable } from '../helpers/postgres.js';
import { postgresTestStore } from '../helpers/test-stores.js';
import { runDeliveryContract } from './delivery-contract.js';
import { runInlineContract } from './inline-contract.js';
import { runInsightsContract } from './insights-contract.js';
import { runKeysContract } from './keys-contract.js';
import { runReconcileContract } from './reconcile-contract.js';
import { runRetentionContract } from './retention-contract.js';
import { type MakeStore, runStoreContract } from './store-contract.js';

/** The same contract suites as SQLite, each test on its own schema of the real PostgreSQL server. */
const makePostgresStore: MakeStore = postgresTestStore;

if (await postgresAvailable()) {
  runStoreContract('PostgresStore', makePostgresStore);
  runDeliveryContract('PostgresStore', makePostgresStore);
  runInsightsContract('PostgresStore', makePostgresStore);
  runKeysContract('PostgresStore', makePostgresStore);
  runInlineContract('PostgresStore', makePostgresStore);
  runRetentionContract('PostgresStore', makePostgresStore);
  runReconcileContract('PostgresStore', makePostgresStore);
} else {
  describe('PostgresStore', () => {
    it.skip('needs PostgreSQL at MAILHOOK_TEST_DATABASE_URL (never skipped in CI)', () => {});
  });
}
