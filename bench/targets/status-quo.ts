import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import express from 'express';
import pg from 'pg';

/**
 * The status quo: the webhook handler a team writes today. Express 5 with express.json() (keeping
 * the raw bytes for the signature), a hex HMAC-SHA256 check of the body, one
 * `await pool.query('INSERT …')` per request into PostgreSQL, then 200. Options as JSON in argv[2]:
 * the database URL (the runner creates and drops the database) and the HMAC secret.
 */
interface Options {
  databaseUrl: string;
  hmacSecret: string;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
// pg's default pool of 10 connections, as most handlers leave it.
const pool = new pg.Pool({ connectionString: options.databaseUrl });
await pool.query(
  `CREATE TABLE IF NOT EXISTS webhook_events (
     id BIGSERIAL PRIMARY KEY,
     received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
     signature TEXT NOT NULL,
     payload JSONB NOT NULL
   )`,
);

type RawRequest = IncomingMessage & { rawBody?: Buffer };

const app = express();
app.use(
  express.json({
    limit: '5mb',
    verify: (req, _res, buf) => {
      (req as RawRequest).rawBody = buf;
    },
  }),
);
app.post('/webhooks/email', async (req, res) => {
  const raw = (req as unknown as RawRequest).rawBody ?? Buffer.alloc(0);
  const given = Buffer.from(String(req.get('x-signature') ?? ''), 'hex');
  const expected = createHmac('sha256', options.hmacSecret).update(raw).digest();
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    res.status(401).json({ error: 'bad signature' });
    return;
  }
  await pool.query('INSERT INTO webhook_events (signature, payload) VALUES ($1, $2)', [
    given.toString('hex'),
    JSON.stringify(req.body),
  ]);
  res.status(200).json({ status: 'ok' });
});

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}/webhooks/email` })}\n`);
});
server.keepAliveTimeout = 60_000;

process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void pool.end().then(() => process.exit(0));
});
