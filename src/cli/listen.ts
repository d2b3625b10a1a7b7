import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { checkFreshness, decodeWebhookSecret, verifyStandardSignature } from '../providers/crypto.js';
import { UsageError } from './usage.js';

const HELP = `mailhook listen — a local receiver that verifies and prints deliveries.

Options:
  --port <n>        port on 127.0.0.1 (default 9000)
  --secret <whsec>  the endpoint's secret; each request's Standard Webhooks signature is checked
  --json            print one JSON line per delivery instead of a readable summary
  --fail <ratio>    answer 500 to this share of requests (0–1), to watch retries happen
  --delay <ms>      answer after this long

Point an endpoint at it (local targets need MAILHOOK_ALLOW_PRIVATE_TARGETS=true on the server):
  mailhook listen --port 9000 --secret whsec_…
  curl -X POST http://127.0.0.1:8787/v1/endpoints -H "Authorization: Bearer $KEY" \\
    -H 'content-type: application/json' -d '{"url": "http://127.0.0.1:9000/"}'
`;

export async function listenCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      help: { type: 'boolean', short: 'h' },
      port: { type: 'string', default: '9000' },
      secret: { type: 'string' },
      json: { type: 'boolean' },
      fail: { type: 'string', default: '0' },
      delay: { type: 'string', default: '0' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const port = Number(values.port);
  const failRatio = Number(values.fail);
  const delayMs = Number(values.delay);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError('--port must be a port number');
  if (!(failRatio >= 0 && failRatio <= 1)) throw new UsageError('--fail must be between 0 and 1');
  if (!(delayMs >= 0)) throw new UsageError('--delay must be a number of milliseconds');
  const key = values.secret ? decodeWebhookSecret(values.secret) : null;
  if (values.secret && !key) throw new UsageError('--secret must be a whsec_… secret');

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const header = (name: string) => {
        const value = req.headers[name];
        return Array.isArray(value) ? value.join(', ') : (value ?? '');
      };
      const id = header('webhook-id');
      const timestamp = header('webhook-timestamp');
      let verified: boolean | null = null;
      if (key) {
        const fresh = checkFreshness(timestamp, { now: new Date(), toleranceSec: 300 }).ok;
        verified =
          fresh &&
          verifyStandardSignature({ id, timestamp, body, signatureHeader: header('webhook-signature'), key });
      }
      const fail = verified === false || Math.random() < failRatio;
      const status = verified === false ? 401 : fail ? 500 : 200;
      // An event of the sender's own type has its own data: recipient may be anything, or absent.
      let event: { type?: string; data?: { recipient?: unknown } } = {};
      try {
        event = JSON.parse(body.toString('utf8'));
      } catch {
        // printed raw below
      }
      if (values.json) {
        process.stdout.write(`${JSON.stringify({ id, timestamp, verified, status, event })}\n`);
      } else {
        const mark = verified === null ? 'unverified' : verified ? 'signature ok' : 'SIGNATURE INVALID';
        process.stdout.write(
          `${new Date().toISOString()}  ${status}  ${event.type ?? '?'}  ${typeof event.data?.recipient === 'string' ? event.data.recipient : ''}  ${id}  (${mark})\n`,
        );
      }
      setTimeout(() => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ received: status === 200 }));
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  process.stderr.write(`mailhook listen: receiving on http://127.0.0.1:${actual}/ (Ctrl-C to stop)\n`);
  return new Promise<number>((resolve) => {
    process.once('SIGINT', () => server.close(() => resolve(0)));
    process.once('SIGTERM', () => server.close(() => resolve(0)));
  });
}
