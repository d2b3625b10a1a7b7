import type { FastifyInstance, RouteOptions } from 'fastify';
import { ERROR_CODES } from '../errors.js';
import { VERSION } from '../version.js';
import { renderDocsPage } from './docs.js';

/**
 * The OpenAPI 3.1 document, generated from the JSON schemas the routes validate with: Fastify hands
 * every route to the onRoute hook with its schema, so the document cannot drift from what the server
 * accepts. OpenAPI 3.1 uses JSON Schema 2020-12, so the route schemas are embedded unchanged.
 * Served at GET /openapi.json and rendered at GET /docs, both without an API key.
 */

type JsonSchema = Record<string, unknown>;

// A route may give its operation a one-line summary in its schema, as @fastify/swagger allows;
// Fastify itself ignores the key.
declare module 'fastify' {
  interface FastifySchema {
    /** One line for the OpenAPI document and /docs; default "METHOD /url". */
    summary?: string;
    /** Longer text for the OpenAPI operation. */
    description?: string;
    /**
     * Response schemas for the document only, by status. Fastify serializes with `response`
     * schemas and drops every key they do not list, which would cut a published event's data
     * (its keys are the publisher's) down to nothing.
     */
    documentedResponses?: Record<string, JsonSchema>;
  }
}

interface RouteSchemas {
  body?: JsonSchema;
  querystring?: JsonSchema;
  params?: JsonSchema;
  headers?: JsonSchema;
  response?: Record<string, JsonSchema>;
  documentedResponses?: Record<string, JsonSchema>;
  summary?: string;
  description?: string;
}

interface CollectedRoute {
  method: string;
  url: string;
  schema: RouteSchemas;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  components: Record<string, Record<string, unknown>>;
  paths: Record<string, Record<string, Operation>>;
}

export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security: Array<Record<string, string[]>>;
  parameters?: Parameter[];
  requestBody?: { required: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, unknown>;
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: JsonSchema;
}

/** Routes that describe the API rather than belong to it. */
const META_ROUTES = new Set(['/openapi.json', '/docs']);

const ERROR_SCHEMA = {
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', enum: Object.keys(ERROR_CODES), description: 'Stable; see docs/errors.md' },
    message: { type: 'string', description: 'For people; may change' },
  },
};

const ERROR_RESPONSE = { $ref: '#/components/responses/Error' };

/** `/v1/sources/:id` → `/v1/sources/{id}` */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** `POST /v1/endpoints/:id/pause` → `postEndpointsByIdPause`: readable and unique per route. */
export function operationIdOf(method: string, url: string): string {
  const words = url
    .replace(/^\/v1\//, '/')
    .split('/')
    .filter(Boolean)
    .map((segment) => {
      const param = segment.startsWith(':');
      const name = segment
        .replace(/^:/, '')
        .split(/[^A-Za-z0-9]+/)
        .filter(Boolean)
        .map((part) => part[0]?.toUpperCase() + part.slice(1))
        .join('');
      return param ? `By${name}` : name;
    });
  return method.toLowerCase() + words.join('');
}

function clone(schema: unknown): JsonSchema {
  return JSON.parse(JSON.stringify(schema)) as JsonSchema;
}

function properties(schema: JsonSchema | undefined): Array<[string, JsonSchema, boolean]> {
  if (!schema) return [];
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(props).map(([name, s]) => [name, clone(s), required.has(name)]);
}

function parametersOf(route: CollectedRoute): Parameter[] {
  const params: Parameter[] = [];
  const declared = (route.schema.params?.properties ?? {}) as Record<string, JsonSchema>;
  // Every path parameter is listed, whether or not the route declares a schema for it.
  for (const [, name] of route.url.matchAll(/:([A-Za-z0-9_]+)/g)) {
    if (!name) continue;
    params.push({ name, in: 'path', required: true, schema: clone(declared[name] ?? { type: 'string' }) });
  }
  for (const [name, schema, required] of properties(route.schema.querystring)) {
    params.push({ name, in: 'query', required, schema });
  }
  for (const [name, schema, required] of properties(route.schema.headers)) {
    params.push({ name, in: 'header', required, schema });
  }
  return params;
}

function requestBodyOf(body: JsonSchema | undefined): Operation['requestBody'] | undefined {
  if (!body) return undefined;
  const types = [body.type].flat();
  return {
    // A body that may be null (action routes) may also be left out.
    required: !types.includes('null'),
    content: { 'application/json': { schema: clone(body) } },
  };
}

function responsesOf(route: CollectedRoute, authenticated: boolean): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  const documented = { ...route.schema.response, ...route.schema.documentedResponses };
  for (const [status, schema] of Object.entries(documented)) {
    responses[status] = {
      description: String(schema.description ?? 'Success'),
      content: { 'application/json': { schema: clone(schema) } },
    };
  }
  if (Object.keys(responses).length === 0) responses['2XX'] = { description: 'Success' };
  const validated = route.schema.body || route.schema.querystring || route.schema.params;
  if (validated) responses['400'] = ERROR_RESPONSE;
  if (authenticated) responses['401'] = ERROR_RESPONSE;
  if (route.url.includes(':')) responses['404'] = ERROR_RESPONSE;
  responses.default = ERROR_RESPONSE;
  return responses;
}

export function buildOpenApiDocument(routes: CollectedRoute[]): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const authenticated = route.url.startsWith('/v1/');
    const segments = route.url.split('/').filter(Boolean);
    const tag = authenticated ? (segments[1] ?? 'v1') : (segments[0] ?? 'server');
    const parameters = parametersOf(route);
    const requestBody = requestBodyOf(route.schema.body);
    const operation: Operation = {
      operationId: operationIdOf(route.method, route.url),
      summary: route.schema.summary ?? `${route.method} ${route.url}`,
      ...(route.schema.description && { description: route.schema.description }),
      tags: [tag.replace(/\.csv$/, '')],
      security: authenticated ? [{ bearerAuth: [] }] : [],
      ...(parameters.length > 0 && { parameters }),
      ...(requestBody && { requestBody }),
      responses: responsesOf(route, authenticated),
    };
    const path = openApiPath(route.url);
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'mailhook',
      version: VERSION,
      description:
        'Self-hostable webhook gateway for email events. /v1 routes need Authorization: Bearer <api key>; ' +
        'errors are {"code": "MH_ERR_…", "message": "…"}.',
    },
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key (mh_…)' } },
      schemas: { Error: ERROR_SCHEMA },
      responses: {
        Error: {
          description: 'An error with a stable code',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    },
    paths,
  };
}

/**
 * Collects every route registered after this call and serves the document. Call it on the root
 * instance before the route plugins are registered, so its onRoute hook sees them all.
 */
export function registerOpenApi(server: FastifyInstance): void {
  const routes: CollectedRoute[] = [];
  server.addHook('onRoute', (route: RouteOptions) => {
    if (META_ROUTES.has(route.url)) return;
    for (const method of [route.method].flat()) {
      // HEAD routes are Fastify's automatic twins of GET routes.
      if (method === 'HEAD') continue;
      routes.push({ method, url: route.url, schema: (route.schema ?? {}) as RouteSchemas });
    }
  });
  let document: OpenApiDocument | null = null;
  // Built on first request, when every route is known; the routes never change afterwards.
  const current = () => {
    document ??= buildOpenApiDocument(routes);
    return document;
  };
  server.get('/openapi.json', async () => current());
  let page: string | null = null;
  server.get('/docs', async (_request, reply) => {
    page ??= renderDocsPage(current());
    return reply.header('content-type', 'text/html; charset=utf-8').send(page);
  });
}
