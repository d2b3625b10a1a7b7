/**
 * Form bodies of Mailgun's legacy (pre-2018) webhooks. They differ from what `parseForm` gives in
 * two ways that matter:
 * - a field can repeat: a message's tags come as several `tag` fields, and a user variable named
 *   like a Mailgun field (`event`, `token`…) is posted next to it, so every value must be kept;
 * - bounce, drop and complaint posts that carry the bounce message as an attachment arrive as
 *   `multipart/form-data`, and their `token`/`timestamp`/`signature` must still be readable.
 */

/** Every field of a form, each with all its values in posting order. */
export type FormFields = Map<string, string[]>;

export type BodyFormat = 'json' | 'urlencoded' | 'multipart';

export function mediaTypeOf(headers: Record<string, string>): string {
  return (headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * Decides how to read a body. The Content-Type decides when there is one; without it a body that
 * starts like a JSON object is JSON and anything else is tried as a URL-encoded form.
 */
export function bodyFormatOf(headers: Record<string, string>, body: Buffer): BodyFormat {
  const type = mediaTypeOf(headers);
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  if (type === 'multipart/form-data') return 'multipart';
  if (type === 'application/x-www-form-urlencoded') return 'urlencoded';
  return /^\s*\{/.test(body.subarray(0, 64).toString('utf8')) ? 'json' : 'urlencoded';
}

function add(fields: FormFields, name: string, value: string): void {
  const values = fields.get(name);
  if (values) values.push(value);
  else fields.set(name, [value]);
}

export function parseUrlEncodedFields(body: Buffer): FormFields {
  const fields: FormFields = new Map();
  for (const [name, value] of new URLSearchParams(body.toString('utf8'))) add(fields, name, value);
  return fields;
}

function boundaryOf(contentType: string): string | null {
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match?.[1] ?? match?.[2] ?? null;
}

/** `name` and `filename` parameters of a part's Content-Disposition header. */
function dispositionOf(headerBlock: string): { name: string | null; isFile: boolean } {
  const line = headerBlock.split('\r\n').find((h) => /^content-disposition\s*:/i.test(h)) ?? '';
  const name = /;\s*name="((?:[^"\\]|\\.)*)"/i.exec(line) ?? /;\s*name=([^;\s]+)/i.exec(line);
  return { name: name?.[1]?.replace(/\\(.)/g, '$1') ?? null, isFile: /;\s*filename\*?=/i.test(line) };
}

export interface MultipartFields {
  fields: FormFields;
  /** Parts that were file uploads (attachments); they are not events and are not read. */
  files: number;
}

/**
 * Reads the text fields of a `multipart/form-data` body, skipping file parts. Returns null when the
 * body is not a well-formed multipart body for the boundary in the Content-Type.
 */
export function parseMultipartFields(body: Buffer, contentType: string): MultipartFields | null {
  const boundary = boundaryOf(contentType);
  if (!boundary) return null;
  // latin1 maps every byte to one character, so offsets found in the string are byte offsets.
  const text = body.toString('latin1');
  const delimiter = `--${boundary}`;
  let at = text.indexOf(delimiter);
  if (at < 0) return null;
  const fields: FormFields = new Map();
  let files = 0;
  for (;;) {
    at += delimiter.length;
    if (text.startsWith('--', at)) return { fields, files };
    if (!text.startsWith('\r\n', at)) return null;
    const headersEnd = text.indexOf('\r\n\r\n', at + 2);
    const next = text.indexOf(`\r\n${delimiter}`, at);
    if (headersEnd < 0 || next < 0 || headersEnd > next) return null;
    const { name, isFile } = dispositionOf(text.slice(at + 2, headersEnd));
    if (isFile) files++;
    else if (name !== null) {
      add(fields, name, body.subarray(headersEnd + 4, next).toString('utf8'));
    }
    at = next + 2;
  }
}

/** The fields of a legacy form post, URL-encoded or multipart; null when the body cannot be read. */
export function formFieldsOf(
  headers: Record<string, string>,
  body: Buffer,
  format: Exclude<BodyFormat, 'json'>,
): MultipartFields | null {
  if (format === 'urlencoded') return { fields: parseUrlEncodedFields(body), files: 0 };
  return parseMultipartFields(body, headers['content-type'] ?? '');
}
