import Fastify, { type RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src/api/index.js';
import { openApiPath, operationIdOf } from '../../src/api/openapi.js';
import { ERROR_CODES } from '../../src/errors.js';
import { type TestApp, testApp } from '../helpers/app.js';

interface Doc {
  openapi: string;
  info: { title: string; version: string };
  components: {
    securitySchemes: Record<string, { type: string; scheme?: string }>;
    schemas: Record<string, { properties: Record<string, { enum?: string[] }>; required: string[] }>;
    responses: Record<string, unknown>;
  };
  paths: Record<string, Record<string, Op>>;
}

interface Op {
  operationId: string;
  tags: string[];
  security: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string; required: boolean; schema: Record<string, unknown> }>;
  requestBody?: { required: boolean; content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, unknown>;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/** Every `$ref` in the document, with where it was found. */
function refsOf(value: unknown, at = '#'): Array<[string, string]> {
  if (Array.isArray(value)) return value.flatMap((item, i) => refsOf(item, `${at}/${i}`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(
    ([key, item]): Array<[string, string]> =>
      key === '$ref' && typeof item === 'string' ? [[item, at]] : refsOf(item, `${at}/${key}`),
  );
}

function resolve(doc: unknown, ref: string): unknown {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc);
}

describe('GET /openapi.json', () => {
  let app: TestApp;
  let doc: Doc;
  beforeAll(async () => {
    app = await testApp();
    const res = await app.server.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json() as Doc;
  });
  afterAll(async () => app.close());

  it('is served without an API key', async () => {
    expect((await app.server.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(200);
    const page = await app.server.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('openapi.json');
  });

  it('lists every /v1 route the server registered, each under its own method', () => {
    const v1 = app.routes.filter((r) => r.url.startsWith('/v1/') && r.method !== 'HEAD');
    expect(v1.length).toBeGreaterThan(30);
    for (const route of v1) {
      const op = doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
      expect(op, `${route.method} ${route.url}`).toBeDefined();
      expect(op?.operationId).toBe(operationIdOf(route.method, route.url));
    }
  });

  it('is structurally valid OpenAPI 3.1: paths, methods, parameters, unique operation ids', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('mailhook');
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);
    const ids = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) {
      expect(path.startsWith('/'), path).toBe(true);
      expect(path, 'Fastify-style :params are converted').not.toContain(':');
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method} ${path}`;
        expect(METHODS.has(method), where).toBe(true);
        expect(op.operationId, where).toMatch(/^[A-Za-z][A-Za-z0-9]*$/);
        expect(ids.has(op.operationId), `duplicate operationId ${op.operationId}`).toBe(false);
        ids.add(op.operationId);
        expect(Object.keys(op.responses).length, where).toBeGreaterThan(0);
        const params = op.parameters ?? [];
        const pathParams = params.filter((p) => p.in === 'path');
        expect(pathParams.map((p) => p.name).sort(), where).toEqual([...templated].sort());
        expect(
          pathParams.every((p) => p.required),
          where,
        ).toBe(true);
        const keys = params.map((p) => `${p.in}:${p.name}`);
        expect(new Set(keys).size, `${where} repeats a parameter`).toBe(keys.length);
        for (const p of params) expect(['path', 'query', 'header', 'cookie']).toContain(p.in);
        for (const requirement of op.security) {
          for (const scheme of Object.keys(requirement))
            expect(doc.components.securitySchemes).toHaveProperty(scheme);
        }
        if (op.requestBody) expect(Object.keys(op.requestBody.content)).toEqual(['application/json']);
      }
    }
    for (const [ref, at] of refsOf(doc)) {
      expect(ref.startsWith('#/'), `${at}: ${ref}`).toBe(true);
      expect(resolve(doc, ref), `${at}: ${ref} does not resolve`).toBeDefined();
    }
  });

  it('declares Bearer authentication on /v1 routes and none on the public ones', () => {
    expect(doc.components.securitySchemes.bearerAuth).toEqual(
      expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    );
    expect(doc.paths['/v1/sources']?.get?.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/healthz']?.get?.security).toEqual([]);
    expect(doc.paths['/ingest/{sourceId}']?.post?.security).toEqual([]);
    expect(doc.paths['/openapi.json']).toBeUndefined();
  });

  it('carries the routes own request bodies and query parameters', () => {
    const create = doc.paths['/v1/sources']?.post?.requestBody;
    expect(create?.required).toBe(true);
    expect(create?.content['application/json']?.schema).toMatchObject({
      type: 'object',
      required: ['name', 'provider'],
      additionalProperties: false,
    });
    const query = doc.paths['/v1/events']?.get?.parameters ?? [];
    expect(query.filter((p) => p.in === 'query').map((p) => p.name)).toEqual(
      expect.arrayContaining([
        'type',
        'recipient',
        'message_id',
        'source_id',
        'since',
        'until',
        'limit',
        'cursor',
      ]),
    );
    expect(query.find((p) => p.name === 'limit')?.schema).toMatchObject({ maximum: 500, default: 50 });
    // An action body that may be null may also be omitted.
    expect(doc.paths['/v1/endpoints/{id}/test']?.post?.requestBody?.required).toBe(false);
  });

  it('documents the reveal of endpoint header values, and that every other endpoint answer masks them', () => {
    const reveal = doc.paths['/v1/endpoints/{id}/headers']?.get as (Op & { summary: string }) | undefined;
    expect(reveal?.security).toEqual([{ bearerAuth: [] }]);
    expect(reveal?.summary).toContain('{"headers": {"<name>": "<value>"}}');
    expect(reveal?.responses['401']).toEqual({ $ref: '#/components/responses/Error' });
    expect(reveal?.responses['404']).toEqual({ $ref: '#/components/responses/Error' });
    for (const path of ['/v1/endpoints', '/v1/endpoints/{id}']) {
      const summary = (doc.paths[path]?.get as (Op & { summary: string }) | undefined)?.summary;
      expect(summary, path).toContain('"[redacted]"');
      expect(summary, path).toContain('GET /v1/endpoints/{id}/headers');
    }
  });

  it('renders a readable /docs page without an API key, a script or anything from another host', async () => {
    const page = await app.server.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    const html = page.body;
    expect(html).toContain('/v1/sources');
    expect(html).toContain('/v1/endpoints/{id}/replays/{replayId}');
    expect(html).toContain('Reveals the custom header values');
    expect(html).toMatch(/>PATCH<\/span> \/v1\/sources\/\{id\}/);
    // Parameters with what they accept, body fields, responses and the error codes.
    expect(html).toContain('<code>limit</code>');
    expect(html).toContain('1–500, default 50');
    expect(html).toContain('<code>provider</code> <b>required</b>');
    expect(html).toContain('<code>401</code>');
    for (const name of Object.keys(ERROR_CODES)) expect(html).toContain(name);
    expect(html).not.toMatch(/<script|<link|@import|(src|href)="https?:/i);
  });

  it('documents the error shape {code, message} with every stable code', () => {
    const error = doc.components.schemas.Error;
    expect(error?.required).toEqual(['code', 'message']);
    expect(error?.properties.code?.enum).toEqual(Object.keys(ERROR_CODES));
    const responses = doc.paths['/v1/sources/{id}']?.get?.responses ?? {};
    expect(responses['401']).toEqual({ $ref: '#/components/responses/Error' });
    expect(responses['404']).toEqual({ $ref: '#/components/responses/Error' });
  });
});

/** Action routes that take no body at all: anything sent is ignored, so no schema documents one. */
const BODILESS = new Set([
  'POST /v1/endpoints/:id/pause',
  'POST /v1/endpoints/:id/resume',
  'POST /v1/deliveries/:id/retry',
]);

describe('every /v1 route declares the schemas OpenAPI is generated from', () => {
  let app: TestApp;
  const routes: Array<{ method: string; url: string; schema: Record<string, unknown> }> = [];
  beforeAll(async () => {
    app = await testApp();
    // The /v1 scope registered on a bare instance, to see each route's own schema.
    const server = Fastify();
    server.addHook('onRoute', (route: RouteOptions) => {
      for (const method of [route.method].flat()) {
        if (method === 'HEAD') continue;
        routes.push({ method, url: route.url, schema: (route.schema ?? {}) as Record<string, unknown> });
      }
    });
    await server.register(
      async (scope) =>
        apiRoutes(scope, {
          store: app.store,
          effects: app.effects,
          config: app.config,
          publicUrl: () => 'http://127.0.0.1:8787',
          sources: app.sources,
          now: () => new Date(),
          wakePipeline: () => {},
          wakeDelivery: () => {},
        }),
      { prefix: '/v1' },
    );
    await server.close();
  });
  afterAll(async () => app.close());

  it('sees the same /v1 routes as the application serves', () => {
    const served = app.routes
      .filter((r) => r.url.startsWith('/v1/') && r.method !== 'HEAD')
      .map((r) => `${r.method} ${r.url}`)
      .sort();
    expect(routes.map((r) => `${r.method} ${r.url}`).sort()).toEqual(served);
  });

  it('gives every route with parameters in its URL a params schema naming each of them', () => {
    const missing: string[] = [];
    for (const route of routes) {
      const names = [...route.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]);
      if (names.length === 0) continue;
      const params = route.schema.params as { properties?: Record<string, unknown>; required?: string[] };
      const declared = Object.keys(params?.properties ?? {});
      const required = params?.required ?? [];
      if (!names.every((name) => name && declared.includes(name) && required.includes(name))) {
        missing.push(`${route.method} ${route.url}`);
      }
    }
    expect(missing, 'routes without a complete params schema').toEqual([]);
  });

  it('gives every POST, PATCH and PUT a body schema unless it is listed as taking no body', () => {
    const missing = routes
      .filter((r) => ['POST', 'PATCH', 'PUT'].includes(r.method))
      .map((r) => ({ key: `${r.method} ${r.url}`, body: r.schema.body }))
      .filter(({ key, body }) => body === undefined && !BODILESS.has(key))
      .map(({ key }) => key);
    expect(missing, 'routes that take a body without a body schema').toEqual([]);
    const known = new Set(routes.map((r) => `${r.method} ${r.url}`));
    for (const key of BODILESS) expect(known.has(key), `${key} is still a route`).toBe(true);
  });
});
