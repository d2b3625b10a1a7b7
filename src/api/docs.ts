import { ERROR_CODES } from '../errors.js';
import type { OpenApiDocument, Operation } from './openapi.js';

/**
 * The page at GET /docs: the OpenAPI document rendered as plain HTML on the server. No script, no
 * CDN, no web font: mailhook often runs where there is no internet access, and a page rendered from
 * the same document object as /openapi.json cannot disagree with it.
 */

type JsonSchema = Record<string, unknown>;

function esc(value: unknown): string {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

function code(value: unknown): string {
  return `<code>${esc(value)}</code>`;
}

/** One line saying what a schema accepts: `string, 1–100 chars` · `integer ≤ 500, default 50`. */
export function describeSchema(schema: JsonSchema): string {
  const parts: string[] = [];
  const types = [schema.type].flat().filter((t) => t !== undefined);
  if (types.length > 0) {
    const items = schema.items as JsonSchema | undefined;
    const itemType = items?.type ? ` of ${[items.type].flat().join(' | ')}` : '';
    parts.push(types.map((t) => (t === 'array' ? `array${itemType}` : t)).join(' | '));
  } else {
    parts.push('any');
  }
  if (Array.isArray(schema.enum))
    parts.push(`one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`);
  const range = (min: unknown, max: unknown, unit: string) => {
    if (min !== undefined && max !== undefined) parts.push(`${min}–${max}${unit}`);
    else if (min !== undefined) parts.push(`≥ ${min}${unit}`);
    else if (max !== undefined) parts.push(`≤ ${max}${unit}`);
  };
  range(schema.minLength, schema.maxLength, ' chars');
  if (schema.exclusiveMinimum !== undefined) parts.push(`> ${schema.exclusiveMinimum}`);
  range(schema.minimum, schema.maximum, '');
  range(schema.minItems, schema.maxItems, ' items');
  if (schema.default !== undefined) parts.push(`default ${JSON.stringify(schema.default)}`);
  return parts.join(', ');
}

function fieldRows(schema: JsonSchema): string {
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(props)
    .map(
      ([name, s]) =>
        `<tr><td>${code(name)}${required.has(name) ? ' <b>required</b>' : ''}</td>` +
        `<td>${esc(describeSchema(s))}</td><td>${esc(s.description ?? '')}</td></tr>`,
    )
    .join('');
}

function parametersOf(op: Operation): string {
  const params = op.parameters ?? [];
  if (params.length === 0) return '';
  const rows = params
    .map(
      (p) =>
        `<tr><td>${code(p.name)}${p.required ? ' <b>required</b>' : ''}</td><td>${esc(p.in)}</td>` +
        `<td>${esc(describeSchema(p.schema))}</td></tr>`,
    )
    .join('');
  return `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>accepts</th></tr>${rows}</table>`;
}

function bodyOf(op: Operation): string {
  const body = op.requestBody;
  const schema = body?.content['application/json']?.schema;
  if (!body || !schema) return '';
  const optional = body.required ? '' : ' (optional)';
  const description = schema.description ? `<p>${esc(schema.description)}</p>` : '';
  const rows = fieldRows(schema);
  const closed =
    schema.additionalProperties === false ? '<p class="note">Other fields are refused with 400.</p>' : '';
  const table = rows
    ? `<table><tr><th>field</th><th>accepts</th><th></th></tr>${rows}</table>${closed}`
    : `<pre>${esc(JSON.stringify(schema, null, 2))}</pre>`;
  return `<h4>Body: JSON ${esc(describeSchema(schema))}${optional}</h4>${description}${table}`;
}

function responsesOf(op: Operation): string {
  // Success first, then the errors by status, the catch-all last.
  const rank = (status: string) => (status === 'default' ? 'z' : status.startsWith('2') ? '0' : status);
  const sorted = Object.entries(op.responses).sort(([a], [b]) => rank(a).localeCompare(rank(b)));
  const items = sorted.map(([status, response]) => {
    const ref = (response as { $ref?: string }).$ref;
    const text = ref
      ? 'error <code>{"code", "message"}</code>'
      : esc((response as { description?: string }).description ?? '');
    return `<li>${code(status)} ${text}</li>`;
  });
  return `<h4>Responses</h4><ul>${items.join('')}</ul>`;
}

function operationOf(path: string, method: string, op: Operation): string {
  // Routes without their own summary get "METHOD /url", which the heading already says.
  const summary = /^[A-Z]+ \//.test(op.summary) ? '' : `<p>${esc(op.summary)}</p>`;
  const auth = op.security.length > 0 ? 'API key' : 'no API key';
  return (
    `<section class="op" id="${esc(op.operationId)}"><h3><span class="m ${esc(method)}">` +
    `${esc(method.toUpperCase())}</span> ${esc(path)} <small>${auth}</small></h3>${summary}` +
    `${parametersOf(op)}${bodyOf(op)}${responsesOf(op)}</section>`
  );
}

function errorsTable(): string {
  const rows = Object.entries(ERROR_CODES)
    .map(([name, e]) => `<tr><td>${code(name)}</td><td>${e.status}</td><td>${esc(e.message)}</td></tr>`)
    .join('');
  return `<h2 id="errors">Errors</h2><p>Every error is <code>{"code": "MH_ERR_…", "message": "…"}</code>;
the code is stable, the message is for people.</p>
<table><tr><th>code</th><th>status</th><th>meaning</th></tr>${rows}</table>`;
}

export function renderDocsPage(doc: OpenApiDocument): string {
  const byTag = new Map<string, string[]>();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = op.tags[0] ?? 'other';
      byTag.set(tag, [...(byTag.get(tag) ?? []), operationOf(path, method, op)]);
    }
  }
  const toc = [...byTag.keys()]
    .map((tag) => `<a href="#tag-${esc(tag)}">${esc(tag)}</a>`)
    .concat('<a href="#errors">errors</a>')
    .join(' · ');
  const sections = [...byTag.entries()]
    .map(([tag, ops]) => `<h2 id="tag-${esc(tag)}">${esc(tag)}</h2>${ops.join('')}`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mailhook API ${esc(doc.info.version)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2rem auto;padding:0 1rem;color:#222}
h2{border-bottom:1px solid #ddd;margin-top:2.5rem}
h3{font:600 15px/1.4 ui-monospace,monospace;margin:0}
h3 small{font:13px system-ui,sans-serif;color:#777;margin-left:.5rem}
h4{margin:.8rem 0 .2rem;font-size:14px}
.op{border:1px solid #e3e3e3;border-radius:6px;margin:.8rem 0;padding:.6rem .9rem}
.m{display:inline-block;width:4.2rem}
.get{color:#0a6}.post{color:#06c}.patch{color:#a60}.delete{color:#c33}
table{border-collapse:collapse;font-size:14px}
td,th{border-bottom:1px solid #eee;padding:.15rem .7rem .15rem 0;text-align:left;vertical-align:top}
pre{background:#f6f6f6;padding:.6rem;overflow:auto;font-size:13px}
.note{color:#777;font-size:13px;margin:.2rem 0}
ul{margin:.2rem 0}
</style></head><body>
<h1>mailhook API <small>${esc(doc.info.version)}</small></h1>
<p>${esc(doc.info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${esc(doc.openapi)}), generated from
the schemas the routes validate with; this page is rendered from the same document.</p>
<nav>${toc}</nav>
${sections}
${errorsTable()}
</body></html>
`;
}
