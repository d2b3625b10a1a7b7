import { parentPort, workerData } from 'node:worker_threads';
import { type StatsThreadMessage, sqliteStats } from './stats.js';

/** The SQLite half of the queries section, on its own thread (stats.ts, sqliteOnThread). */
const port = parentPort;
if (!port) throw new Error('stats-sqlite.js runs as a worker thread of the bench');
const { total, start } = workerData as { total: number; start: number };
const send = (message: StatsThreadMessage) => port.postMessage(message);
const result = await sqliteStats(
  total,
  start,
  (insertSeconds) =>
    new Promise<void>((resolve) => {
      port.once('message', () => resolve());
      send({ type: 'filled', insertSeconds });
    }),
);
send({ type: 'done', result });
