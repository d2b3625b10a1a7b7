import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MailhookError } from '../errors.js';

/**
 * Serves the dashboard: `GET /` (the page) and `GET /assets/*` (plain ES modules and CSS, no build
 * step). Nothing here needs a key: the files hold no data, and everything the page shows it fetches
 * from /v1 with the key the user typed, sent in the Authorization header.
 */

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The page may load and call only its own origin: a payload shown on it can never run a script. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** The files live in the source tree (not compiled), found from the package root like migrations. */
function webRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'src', 'web');
    if (existsSync(join(dir, 'package.json')) && existsSync(join(candidate, 'index.html'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('mailhook: cannot find src/web/index.html above this module');
    dir = parent;
  }
}

function load(file: string): Asset {
  const body = readFileSync(file);
  const ext = file.slice(file.lastIndexOf('.'));
  return {
    body,
    type: TYPES[ext] ?? 'application/octet-stream',
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
  };
}

/** Every servable file under assets/, keyed by its path below assets/ with forward slashes. */
function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (current: string) => {
    for (const name of readdirSync(current)) {
      const path = join(current, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (TYPES[name.slice(name.lastIndexOf('.'))])
        assets.set(relative(dir, path).split(sep).join('/'), load(path));
    }
  };
  walk(dir);
  return assets;
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset) {
  reply.headers(SECURITY_HEADERS).header('cache-control', 'no-cache').header('etag', asset.etag);
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  return reply.type(asset.type).send(asset.body);
}

export async function webRoutes(server: FastifyInstance): Promise<void> {
  const root = webRoot();
  // Read once at start: a handful of small files, and no path from a request ever reaches the disk.
  const page = load(join(root, 'index.html'));
  const assets = loadAssets(join(root, 'assets'));

  server.get('/', async (request, reply) => send(request, reply, page));
  server.get<{ Params: { '*': string } }>('/assets/*', async (request, reply) => {
    const asset = assets.get(request.params['*']);
    if (!asset) throw new MailhookError('MH_ERR_NOT_FOUND', 'No such dashboard asset');
    return send(request, reply, asset);
  });
  // Browsers ask for /favicon.ico on pages that declare no icon (/docs, /openapi.json): the
  // dashboard's icon answers instead of a 404.
  const favicon = assets.get('favicon.svg');
  if (!favicon) throw new Error('mailhook: src/web/assets/favicon.svg is missing');
  server.get(
    '/favicon.ico',
    { schema: { summary: "mailhook's icon (SVG), for browsers" } },
    async (request, reply) => send(request, reply, favicon),
  );
}
