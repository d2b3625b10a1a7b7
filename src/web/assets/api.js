// The dashboard's only door to mailhook: the public /v1 API, with the API key in the Authorization
// header. The key lives in sessionStorage (gone when the tab closes) and never in a URL, so it
// cannot leak through history, logs or the Referer header.

const STORAGE_KEY = 'mailhook.apiKey';

export const session = {
  key() {
    return sessionStorage.getItem(STORAGE_KEY);
  },
  signIn(key) {
    sessionStorage.setItem(STORAGE_KEY, key);
  },
  signOut() {
    sessionStorage.removeItem(STORAGE_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** `/v1` + path + the query's non-empty values. */
export function apiUrl(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return `/v1${path}${text ? `?${text}` : ''}`;
}

function headersFor(extra, key = session.key()) {
  return { ...(key ? { authorization: `Bearer ${key}` } : {}), ...extra };
}

async function failure(response) {
  let code = 'MH_ERR_HTTP';
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && typeof body.code === 'string') code = body.code;
    if (body && typeof body.message === 'string') message = body.message;
  } catch {
    // not JSON: keep the status line
  }
  // A key that stopped working (revoked, server reset) ends the session everywhere at once.
  if (response.status === 401) window.dispatchEvent(new CustomEvent('mailhook:unauthorized'));
  return new ApiError(response.status, code, message);
}

/** A JSON call to /v1; resolves to the parsed body (null for 204), throws ApiError otherwise. */
export async function api(path, { method = 'GET', query, body, signal, key } = {}) {
  const response = await fetch(apiUrl(path, query), {
    method,
    headers: headersFor(body === undefined ? {} : { 'content-type': 'application/json' }, key),
    ...(body !== undefined && { body: JSON.stringify(body) }),
    ...(signal && { signal }),
    cache: 'no-store',
  });
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  const text = await response.text();
  return text === '' ? null : JSON.parse(text);
}

/** Downloads a /v1 resource as a file: fetched with the key in a header, saved from a blob URL. */
export async function download(path, filename) {
  const response = await fetch(apiUrl(path), { headers: headersFor({}), cache: 'no-store' });
  if (!response.ok) throw await failure(response);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Reads GET /v1/events/stream (Server-Sent Events) with fetch() and a stream reader, since the
 * browser's EventSource cannot send an Authorization header. Calls `onEvent(event, id)` for each
 * event and `onId(id)` for every frame with an SSE id (events and heartbeats), and resolves when the
 * stream ends; `lastEventId` (an id received before) resumes after that frame.
 */
export async function readEventStream({ query, lastEventId, signal, onOpen, onEvent, onId }) {
  const response = await fetch(apiUrl('/events/stream', query), {
    headers: headersFor({
      accept: 'text/event-stream',
      ...(lastEventId && { 'last-event-id': lastEventId }),
    }),
    signal,
    cache: 'no-store',
  });
  if (!response.ok) throw await failure(response);
  onOpen?.();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = 'message';
      let id = null;
      const data = [];
      for (const line of frame.split('\n')) {
        if (line.startsWith(':')) continue; // a comment: connection notice or heartbeat
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') type = text;
        else if (field === 'data') data.push(text);
        else if (field === 'id' && !text.includes('\0')) id = text;
      }
      // Heartbeats carry an id too: resuming from it skips what the filters already passed over.
      if (id !== null) onId?.(id);
      if (type === 'event' && data.length > 0) onEvent(JSON.parse(data.join('\n')), id);
    }
  }
}

/** Reads up to `maxPages` pages of a cursor-paginated list and keeps the items `predicate` accepts. */
export async function findInPages(path, query, predicate, maxPages = 3) {
  const found = [];
  let cursor;
  for (let page = 0; page < maxPages; page++) {
    const result = await api(path, { query: { ...query, cursor } });
    found.push(...result.data.filter(predicate));
    if (!result.next_cursor) return { found, complete: true };
    cursor = result.next_cursor;
  }
  return { found, complete: false };
}
