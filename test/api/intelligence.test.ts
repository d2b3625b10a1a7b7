import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { EMAIL_EVENT_TYPES, SYSTEM_EVENT_TYPES } from '../../src/events.js';
import { endpointEvent, reconcileFailedEvent, sourceEvent } from '../../src/monitoring/system-events.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';
import { sendGridBody, sendGridSigner } from '../helpers/sendgrid.js';

const signer = sendGridSigner();
const T0 = 1_790_000_000; // 2026-09-21T13:33:20Z
const HOUR = 3600;

let sgSeq = 0;

/** One SendGrid event of message `msg` for `email`, `offset` seconds after T0. */
function sg(event: string, email: string, msg: string, offset: number, extra: Record<string, unknown> = {}) {
  sgSeq++;
  return {
    email,
    timestamp: T0 + offset,
    event,
    sg_event_id: `intel-${sgSeq}`,
    sg_message_id: `${msg}.filterdrecv-p3mdw1-1`,
    ...extra,
  };
}

const HARD = { type: 'bounce', status: '5.1.1', reason: '550 5.1.1 unknown user' };
const BLOCKED = { type: 'blocked', status: '4.2.2', reason: '452 4.2.2 mailbox full' };

interface SuppressionView {
  email: string;
  scope: string;
  reason: string;
  detail: string | null;
  event_id: string | null;
  source_id: string | null;
  created_at: string;
}

interface Answer {
  email: string;
  suppressed: boolean;
  reasons: SuppressionView[];
}

interface Harness {
  app: TestApp;
  sourceId: string;
}

async function harness(env: Record<string, string> = {}): Promise<Harness> {
  const app = await testApp({ MAILHOOK_SIGNATURE_TOLERANCE: '0', ...env });
  const res = await app.server.inject({
    method: 'POST',
    url: '/v1/sources',
    headers: AUTH,
    payload: { name: 'sg', provider: 'sendgrid', config: { public_key: signer.publicKey } },
  });
  expect(res.statusCode, res.body).toBe(201);
  return { app, sourceId: (res.json() as { id: string }).id };
}

/** Posts one signed SendGrid batch and lets the pipeline process it. */
async function ingest(h: Harness, events: unknown[]): Promise<void> {
  const body = sendGridBody(events);
  const res = await h.app.server.inject({
    method: 'POST',
    url: `/ingest/${h.sourceId}`,
    headers: signer.headers(body, T0),
    payload: body,
  });
  expect(res.statusCode, res.body).toBe(200);
  await h.app.pipeline.runUntilIdle();
}

function api(h: Harness) {
  return {
    async get<T>(url: string, status = 200): Promise<T> {
      const res = await h.app.server.inject({ method: 'GET', url, headers: AUTH });
      expect(res.statusCode, res.body).toBe(status);
      return res.json() as T;
    },
    async send<T>(method: 'POST' | 'DELETE', url: string, payload?: unknown, status = 200): Promise<T> {
      const res = await h.app.server.inject({
        method,
        url,
        headers: AUTH,
        ...(payload !== undefined && { payload: payload as Record<string, unknown> }),
      });
      expect(res.statusCode, res.body).toBe(status);
      return res.json() as T;
    },
  };
}

describe('suppressions from SendGrid events', () => {
  let h: Harness;
  let call: ReturnType<typeof api>;

  beforeAll(async () => {
    h = await harness();
    call = api(h);
    await ingest(h, [
      sg('bounce', ' Hard@Example.com ', 'H1', 0, HARD),
      sg('bounce', 'soft@example.com', 'S1', 0, BLOCKED),
      sg('bounce', 'soft@example.com', 'S2', HOUR, BLOCKED),
      sg('bounce', 'soft@example.com', 'S3', 2 * HOUR, BLOCKED),
      sg('bounce', 'soft2@example.com', 'S4', 0, BLOCKED),
      sg('bounce', 'soft2@example.com', 'S5', HOUR, BLOCKED),
      sg('spamreport', 'spam@example.com', 'C1', 0),
      sg('group_unsubscribe', 'group@example.com', 'G1', 0, { asm_group_id: 42 }),
      sg('group_unsubscribe', 'regroup@example.com', 'G2', 0, { asm_group_id: 7 }),
      sg('unsubscribe', 'unsub@example.com', 'U1', 0),
      sg('delivered', 'fine@example.com', 'F1', 0),
    ]);
    await ingest(h, [sg('group_resubscribe', 'regroup@example.com', 'G2', HOUR, { asm_group_id: 7 })]);
  });
  afterAll(async () => h.app.close());

  it('GET /v1/suppressions/:email answers a hard bounce, looked up case-insensitively and trimmed', async () => {
    const answer = await call.get<Answer>('/v1/suppressions/%20HARD%40Example.COM%20');
    const [bounce] = (await call.get<{ data: CanonicalEvent[] }>('/v1/events?recipient=hard@example.com'))
      .data;
    expect(answer).toEqual({
      email: 'hard@example.com',
      suppressed: true,
      reasons: [
        {
          email: 'hard@example.com',
          scope: 'global',
          reason: 'hard_bounce',
          detail: '5.1.1 550 5.1.1 unknown user',
          event_id: bounce?.id,
          source_id: h.sourceId,
          created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
        },
      ],
    });
  });

  it('three blocked bounces suppress with soft_bounces; two do not', async () => {
    const soft = await call.get<Answer>('/v1/suppressions/soft@example.com');
    expect(soft.suppressed).toBe(true);
    expect(soft.reasons.map((r) => [r.scope, r.reason])).toEqual([['global', 'soft_bounces']]);
    expect(await call.get<Answer>('/v1/suppressions/soft2@example.com')).toEqual({
      email: 'soft2@example.com',
      suppressed: false,
      reasons: [],
    });
  });

  it('a spam report suppresses with reason complaint', async () => {
    const answer = await call.get<Answer>('/v1/suppressions/spam@example.com');
    expect(answer.suppressed).toBe(true);
    expect(answer.reasons.map((r) => [r.scope, r.reason])).toEqual([['global', 'complaint']]);
  });

  it('a group unsubscribe suppresses only for that group, counted when ?group= names it', async () => {
    const plain = await call.get<Answer>('/v1/suppressions/group@example.com');
    expect(plain.suppressed).toBe(false);
    expect(plain.reasons.map((r) => [r.scope, r.reason])).toEqual([['group:42', 'unsubscribe']]);
    expect((await call.get<Answer>('/v1/suppressions/group@example.com?group=42')).suppressed).toBe(true);
    expect((await call.get<Answer>('/v1/suppressions/group@example.com?group=7')).suppressed).toBe(false);
  });

  it('a group resubscribe lifts that group unsubscribe', async () => {
    expect(await call.get<Answer>('/v1/suppressions/regroup@example.com?group=7')).toEqual({
      email: 'regroup@example.com',
      suppressed: false,
      reasons: [],
    });
  });

  it('a global unsubscribe suppresses whatever group is asked', async () => {
    const answer = await call.get<Answer>('/v1/suppressions/unsub@example.com?group=42');
    expect(answer.suppressed).toBe(true);
    expect(answer.reasons.map((r) => [r.scope, r.reason])).toEqual([['global', 'unsubscribe']]);
  });

  it('an address never seen, or only delivered to, is not suppressed', async () => {
    for (const email of ['nobody@example.com', 'fine@example.com']) {
      expect(await call.get<Answer>(`/v1/suppressions/${email}`)).toEqual({
        email,
        suppressed: false,
        reasons: [],
      });
    }
  });

  it('POST /v1/suppressions/check answers 1000 addresses at once, normalised', async () => {
    const emails = [
      'HARD@example.com',
      ' spam@example.com',
      'group@example.com',
      ...Array.from({ length: 997 }, (_, i) => `nobody${i}@example.com`),
    ];
    const { data } = await call.send<{ data: Answer[] }>('POST', '/v1/suppressions/check', { emails });
    expect(data).toHaveLength(1000);
    const byEmail = new Map(data.map((a) => [a.email, a]));
    expect(byEmail.get('hard@example.com')?.suppressed).toBe(true);
    expect(byEmail.get('spam@example.com')?.reasons.map((r) => r.reason)).toEqual(['complaint']);
    expect(byEmail.get('group@example.com')?.suppressed).toBe(false);
    expect(byEmail.get('nobody0@example.com')).toEqual({
      email: 'nobody0@example.com',
      suppressed: false,
      reasons: [],
    });
    expect(data.filter((a) => a.suppressed)).toHaveLength(2);

    const grouped = await call.send<{ data: Answer[] }>('POST', '/v1/suppressions/check', {
      emails: ['group@example.com', 'GROUP@example.com'],
      group: '42',
    });
    expect(grouped.data.map((a) => [a.email, a.suppressed])).toEqual([['group@example.com', true]]);
  });

  it('POST /v1/suppressions/check refuses more than 1000 addresses and an empty list', async () => {
    const emails = Array.from({ length: 1001 }, (_, i) => `n${i}@example.com`);
    const tooMany = await call.send<{ code: string }>('POST', '/v1/suppressions/check', { emails }, 400);
    expect(tooMany.code).toBe('MH_ERR_VALIDATION');
    const none = await call.send<{ code: string }>('POST', '/v1/suppressions/check', { emails: [] }, 400);
    expect(none.code).toBe('MH_ERR_VALIDATION');
  });

  it('GET /v1/suppressions lists every entry once through the cursor, and filters by reason', async () => {
    const seen: SuppressionView[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { data: SuppressionView[]; next_cursor: string | null } = await call.get(
        `/v1/suppressions?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      seen.push(...page.data);
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 20);
    expect(seen.map((e) => `${e.email}/${e.scope}/${e.reason}`).sort()).toEqual([
      'group@example.com/group:42/unsubscribe',
      'hard@example.com/global/hard_bounce',
      'soft@example.com/global/soft_bounces',
      'spam@example.com/global/complaint',
      'unsub@example.com/global/unsubscribe',
    ]);
    expect(pages).toBe(3);
    const times = seen.map((e) => Date.parse(e.created_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    const complaints = await call.get<{ data: SuppressionView[] }>('/v1/suppressions?reason=complaint');
    expect(complaints.data.map((e) => e.email)).toEqual(['spam@example.com']);
    const grouped = await call.get<{ data: SuppressionView[] }>('/v1/suppressions?scope=group:42');
    expect(grouped.data.map((e) => e.email)).toEqual(['group@example.com']);
  });

  it('GET /v1/suppressions refuses an invalid cursor and an unknown reason', async () => {
    expect((await call.get<{ code: string }>('/v1/suppressions?cursor=bm9wZQ', 400)).code).toBe(
      'MH_ERR_INVALID_CURSOR',
    );
    expect((await call.get<{ code: string }>('/v1/suppressions?reason=bored', 400)).code).toBe(
      'MH_ERR_VALIDATION',
    );
  });
});

describe('manual suppressions and CSV export', () => {
  let h: Harness;
  let call: ReturnType<typeof api>;

  beforeAll(async () => {
    h = await harness();
    call = api(h);
    await ingest(h, [sg('spamreport', 'spam@example.com', 'C1', 0)]);
  });
  afterAll(async () => h.app.close());

  it('POST /v1/suppressions adds a manual entry, globally or for a group, and DELETE removes them', async () => {
    const added = await call.send<Answer>(
      'POST',
      '/v1/suppressions',
      { email: ' Manual@Example.com ', detail: 'asked by phone' },
      201,
    );
    expect(added).toEqual({
      email: 'manual@example.com',
      suppressed: true,
      reasons: [
        {
          email: 'manual@example.com',
          scope: 'global',
          reason: 'manual',
          detail: 'asked by phone',
          event_id: null,
          source_id: null,
          created_at: expect.any(String),
        },
      ],
    });
    const grouped = await call.send<Answer>(
      'POST',
      '/v1/suppressions',
      { email: 'manual@example.com', group: '9' },
      201,
    );
    expect(grouped.reasons.map((r) => [r.scope, r.reason, r.detail]).sort()).toEqual([
      ['global', 'manual', 'asked by phone'],
      ['group:9', 'manual', null],
    ]);

    const ungrouped = await call.send<Answer & { removed: number }>(
      'DELETE',
      '/v1/suppressions/MANUAL@example.com?group=9',
    );
    expect(ungrouped.removed).toBe(1);
    expect(ungrouped.suppressed).toBe(true);
    expect(ungrouped.reasons.map((r) => r.scope)).toEqual(['global']);

    const cleared = await call.send<Answer & { removed: number }>(
      'DELETE',
      '/v1/suppressions/manual@example.com',
    );
    expect(cleared).toEqual({ removed: 1, email: 'manual@example.com', suppressed: false, reasons: [] });
    const again = await call.send<Answer & { removed: number }>(
      'DELETE',
      '/v1/suppressions/manual@example.com',
    );
    expect(again.removed).toBe(0);
  });

  it('DELETE by reason removes only that reason', async () => {
    await call.send('POST', '/v1/suppressions', { email: 'spam@example.com' }, 201);
    const removed = await call.send<Answer & { removed: number }>(
      'DELETE',
      '/v1/suppressions/spam@example.com?reason=manual',
    );
    expect(removed.removed).toBe(1);
    expect(removed.reasons.map((r) => r.reason)).toEqual(['complaint']);
  });

  it('POST /v1/suppressions refuses something that is not an address', async () => {
    const res = await call.send<{ code: string }>('POST', '/v1/suppressions', { email: 'nobody' }, 400);
    expect(res.code).toBe('MH_ERR_VALIDATION');
  });

  it('GET /v1/suppressions.csv defuses cells a spreadsheet would run as formulas, and pages through long lists', async () => {
    await call.send(
      'POST',
      '/v1/suppressions',
      { email: '=cmd@example.com', detail: '=HYPERLINK("http://evil.example","click")' },
      201,
    );
    for (let i = 0; i < 1100; i++) {
      await h.app.store.addSuppression({
        email: `bulk${i}@example.com`,
        scope: 'global',
        reason: 'manual',
        detail: i % 2 ? '+1 bounce' : '@mention',
        eventId: null,
        sourceId: null,
        createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
      });
    }
    const res = await h.app.server.inject({ method: 'GET', url: '/v1/suppressions.csv', headers: AUTH });
    expect(res.statusCode).toBe(200);
    const lines = res.body.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('bulk'))).toHaveLength(1100);
    expect(lines.find((l) => l.includes('cmd@example.com'))).toMatch(
      /^'=cmd@example\.com,global,manual,"'=HYPERLINK\(""http:\/\/evil\.example"",""click""\)",/,
    );
    expect(lines.find((l) => l.startsWith('bulk1@'))).toContain(",'+1 bounce,");
    expect(lines.find((l) => l.startsWith('bulk0@'))).toContain(",'@mention,");
    expect(lines.every((l) => !/(^|,)[=+@-]/.test(l))).toBe(true);
    for (let i = 0; i < 1100; i++) await h.app.store.removeSuppressions(`bulk${i}@example.com`, {});
    await h.app.store.removeSuppressions('=cmd@example.com', {});
  });

  it('GET /v1/suppressions.csv exports a header row and quotes commas and quotes', async () => {
    await call.send(
      'POST',
      '/v1/suppressions',
      { email: 'quote@example.com', detail: 'said "stop", twice' },
      201,
    );
    const res = await h.app.server.inject({ method: 'GET', url: '/v1/suppressions.csv', headers: AUTH });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    const lines = res.body.trimEnd().split('\n');
    expect(lines[0]).toBe('email,scope,reason,detail,event_id,source_id,created_at');
    expect(lines).toHaveLength(3);
    const quote = lines.find((l) => l.startsWith('quote@example.com,'));
    expect(quote).toMatch(
      /^quote@example\.com,global,manual,"said ""stop"", twice",,,\d{4}-\d{2}-\d{2}T[\d:.]+Z$/,
    );
    const spam = lines.find((l) => l.startsWith('spam@example.com,'));
    expect(spam).toMatch(
      new RegExp(`^spam@example\\.com,global,complaint,spam complaint,evt_\\w+,${h.sourceId},`),
    );
  });
});

describe('message timelines and recipients', () => {
  let h: Harness;
  let call: ReturnType<typeof api>;

  interface MessageView {
    message_id: string;
    status: string;
    events: CanonicalEvent[];
  }

  beforeAll(async () => {
    h = await harness();
    call = api(h);
    await ingest(h, [
      sg('processed', 'Ada@Example.com', 'M1', 0),
      sg('delivered', 'ada@example.com', 'M1', 10),
      sg('spamreport', 'ada@example.com', 'M1', 30),
      sg('processed', 'ada@example.com', 'M2', 100),
      sg('open', 'ada@example.com', 'M2', 120),
      sg('processed', 'bob@example.com', 'M3', 5),
    ]);
    // Posted later: an open after the complaint, and a delivery that arrives after the open.
    await ingest(h, [sg('open', 'ada@example.com', 'M1', 40), sg('delivered', 'ada@example.com', 'M2', 110)]);
  });
  afterAll(async () => h.app.close());

  it('GET /v1/messages/:id keeps complained when an open arrives after the complaint, events in time order', async () => {
    const message = await call.get<MessageView>('/v1/messages/M1');
    expect(message.message_id).toBe('M1');
    expect(message.status).toBe('complained');
    expect(message.events.map((e) => e.type)).toEqual([
      'email.sent',
      'email.delivered',
      'email.complained',
      'email.opened',
    ]);
    expect(message.events.map((e) => e.timestamp)).toEqual(
      [0, 10, 30, 40].map((s) => new Date((T0 + s) * 1000).toISOString()),
    );
  });

  it('GET /v1/messages/:id stays opened when a late delivered arrives after the open', async () => {
    const message = await call.get<MessageView>('/v1/messages/M2');
    expect(message.status).toBe('opened');
    expect(message.events.map((e) => e.type)).toEqual(['email.sent', 'email.delivered', 'email.opened']);
  });

  it('GET /v1/messages/:id of an unknown message is a coded 404', async () => {
    expect((await call.get<{ code: string }>('/v1/messages/nope', 404)).code).toBe('MH_ERR_NOT_FOUND');
  });

  it('GET /v1/recipients/:email sums up the address: suppressions, engagement, messages, recent events', async () => {
    const view = await call.get<{
      email: string;
      suppressed: boolean;
      suppressions: Array<{ scope: string; reason: string; event_id: string | null }>;
      engagement: Record<string, unknown>;
      messages: Array<{ message_id: string; status: string; events: number; last_event_at: string }>;
      recent_events: CanonicalEvent[];
    }>('/v1/recipients/%20ADA%40example.com');
    expect(view.email).toBe('ada@example.com');
    expect(view.suppressed).toBe(true);
    expect(view.suppressions.map((s) => [s.scope, s.reason])).toEqual([['global', 'complaint']]);
    expect(view.engagement).toEqual({
      delivered: 2,
      opened: 2,
      opened_by_people: 2,
      clicked: 0,
      bounced: 0,
      complained: 1,
      last_opened_at: new Date((T0 + 120) * 1000).toISOString(),
      last_clicked_at: null,
    });
    expect(view.messages.map((m) => [m.message_id, m.status, m.events])).toEqual([
      ['M2', 'opened', 3],
      ['M1', 'complained', 4],
    ]);
    expect(view.recent_events).toHaveLength(7);
    const times = view.recent_events.map((e) => Date.parse(e.timestamp));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(view.recent_events.every((e) => e.data.recipient === 'ada@example.com')).toBe(true);
  });

  it('GET /v1/recipients/:email of an unknown address is empty, not an error', async () => {
    const view = await call.get<{ suppressed: boolean; messages: unknown[]; recent_events: unknown[] }>(
      '/v1/recipients/nobody@example.com',
    );
    expect(view).toMatchObject({ suppressed: false, messages: [], recent_events: [] });
  });
});

describe('GET /v1/stats', () => {
  let h: Harness;
  let call: ReturnType<typeof api>;
  const DAY_A = Date.parse('2026-09-21T00:00:00.000Z') / 1000 - T0;
  const DAY_B = DAY_A + 24 * HOUR;
  const iso = (offset: number) => new Date((T0 + offset) * 1000).toISOString();

  interface Group {
    group: string | null;
    counts: Record<string, number>;
    unique_messages: Record<string, number>;
    rates: Record<string, number | null>;
  }

  beforeAll(async () => {
    h = await harness();
    call = api(h);
    const at = (day: number, hour: number) => day + hour * HOUR;
    await ingest(h, [
      ...['S1', 'S2', 'S3', 'S4'].flatMap((msg, i) => [
        sg('processed', `${msg.toLowerCase()}@example.com`, msg, at(DAY_A, i + 1)),
        sg('delivered', `${msg.toLowerCase()}@example.com`, msg, at(DAY_A, i + 1) + 5),
      ]),
      sg('open', 's1@example.com', 'S1', at(DAY_A, 6)),
      sg('open', 's1@example.com', 'S1', at(DAY_A, 7)),
      sg('open', 's2@example.com', 'S2', at(DAY_A, 8)),
      sg('click', 's3@example.com', 'S3', at(DAY_A, 9), { url: 'https://example.com/x' }),
      sg('processed', 's5@example.com', 'S5', at(DAY_A, 10)),
      sg('bounce', 's5@example.com', 'S5', at(DAY_A, 10) + 5, HARD),
      sg('processed', 's6@example.org', 'S6', at(DAY_B, 1)),
      sg('delivered', 's6@example.org', 'S6', at(DAY_B, 1) + 5),
      sg('open', 's6@example.org', 'S6', at(DAY_B, 2)),
      sg('processed', 's7@example.org', 'S7', at(DAY_B, 3)),
      sg('delivered', 's7@example.org', 'S7', at(DAY_B, 3) + 5),
    ]);
  });
  afterAll(async () => h.app.close());

  it('group_by=type counts events and unique messages and derives the rates', async () => {
    const stats = await call.get<{ group_by: string; since: string; until: string; groups: Group[] }>(
      `/v1/stats?group_by=type&since=${iso(DAY_A)}&until=${iso(DAY_B + 24 * HOUR)}`,
    );
    expect(stats.group_by).toBe('type');
    expect(stats.since).toBe(iso(DAY_A));
    expect(stats.groups).toEqual([
      {
        group: null,
        counts: {
          'email.sent': 7,
          'email.delivered': 6,
          'email.opened': 4,
          'email.clicked': 1,
          'email.bounced': 1,
        },
        unique_messages: {
          'email.sent': 7,
          'email.delivered': 6,
          'email.opened': 3,
          'email.clicked': 1,
          'email.bounced': 1,
        },
        rates: {
          delivery: 0.8571,
          bounce: 0.1429,
          complaint: 0,
          open: 0.5,
          click: 0.1667,
          unsubscribe: 0,
        },
      },
    ]);
  });

  it('group_by=day splits by UTC date, with open rate = unique opened / unique delivered per day', async () => {
    const stats = await call.get<{ groups: Group[] }>(
      `/v1/stats?group_by=day&since=${iso(DAY_A)}&until=${iso(DAY_B + 24 * HOUR)}`,
    );
    const byDay = new Map(stats.groups.map((g) => [g.group, g]));
    expect([...byDay.keys()].sort()).toEqual(['2026-09-21', '2026-09-22']);
    expect(byDay.get('2026-09-21')).toMatchObject({
      counts: { 'email.sent': 5, 'email.delivered': 4, 'email.opened': 3 },
      unique_messages: { 'email.opened': 2 },
      rates: { open: 0.5, delivery: 0.8, bounce: 0.2, click: 0.25 },
    });
    expect(byDay.get('2026-09-22')).toMatchObject({
      counts: { 'email.sent': 2, 'email.delivered': 2, 'email.opened': 1 },
      rates: { open: 0.5, delivery: 1, bounce: 0, click: 0 },
    });
  });

  it('until is exclusive and the window can hold no event', async () => {
    const dayA = await call.get<{ groups: Group[] }>(
      `/v1/stats?group_by=day&since=${iso(DAY_A)}&until=${iso(DAY_B + HOUR)}`,
    );
    expect(dayA.groups.map((g) => g.group)).toEqual(['2026-09-21']);
    const empty = await call.get<{ groups: Group[] }>(
      `/v1/stats?since=${iso(DAY_A - 48 * HOUR)}&until=${iso(DAY_A - 24 * HOUR)}`,
    );
    expect(empty.groups).toEqual([]);
  });

  it('groups by recipient domain', async () => {
    const stats = await call.get<{ groups: Group[] }>(
      `/v1/stats?group_by=recipient_domain&since=${iso(DAY_A)}&until=${iso(DAY_B + 24 * HOUR)}`,
    );
    expect(stats.groups.map((g) => [g.group, g.counts['email.delivered']]).sort()).toEqual([
      ['example.com', 4],
      ['example.org', 2],
    ]);
  });

  it('refuses an unknown group_by and a window that ends before it starts', async () => {
    expect((await call.get<{ code: string }>('/v1/stats?group_by=planet', 400)).code).toBe(
      'MH_ERR_VALIDATION',
    );
    expect(
      (await call.get<{ code: string }>(`/v1/stats?since=${iso(DAY_B)}&until=${iso(DAY_A)}`, 400)).code,
    ).toBe('MH_ERR_VALIDATION');
  });
});

describe('POST /v1/events (publishing)', () => {
  let h: Harness;
  let call: ReturnType<typeof api>;
  let invoiceEndpoint: string;

  const publish = (payload: unknown, key?: string) =>
    h.app.server.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { ...AUTH, ...(key !== undefined && { 'idempotency-key': key }) },
      payload: payload as Record<string, unknown>,
    });

  const delivered = (recipient: string, messageId = 'P1') => ({
    type: 'email.delivered',
    timestamp: '2026-11-26T12:00:00Z',
    data: { recipient, message_id: messageId },
  });

  beforeAll(async () => {
    h = await harness({ MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
    call = api(h);
    const endpoint = await call.send<{ id: string }>(
      'POST',
      '/v1/endpoints',
      { url: 'http://127.0.0.1:9/hook', event_types: ['invoice.*'] },
      201,
    );
    invoiceEndpoint = endpoint.id;
  });
  afterAll(async () => h.app.close());

  it('one event is created (201); the same Idempotency-Key returns it again (200, same id)', async () => {
    const first = await publish(delivered(' Pat@Example.com '), 'single-1');
    expect(first.statusCode, first.body).toBe(201);
    const event = first.json() as CanonicalEvent;
    expect(event).toMatchObject({
      id: expect.stringMatching(/^evt_/),
      type: 'email.delivered',
      timestamp: '2026-11-26T12:00:00.000Z',
      data: { provider: 'api', source_id: 'src_published', recipient: 'pat@example.com', message_id: 'P1' },
    });
    const again = await publish(delivered('pat@example.com'), 'single-1');
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(event);
  });

  it('five concurrent publishes with one key store exactly one event and all answer its id', async () => {
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => publish(delivered('con@example.com', 'P2'), 'concurrent-1')),
    );
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 200, 200, 200, 201]);
    const eventIds = new Set(answers.map((a) => (a.json() as CanonicalEvent).id));
    expect(eventIds.size).toBe(1);
    const stored = (await h.app.store.listEvents({ recipient: 'con@example.com', limit: 100 })).items;
    expect(stored.map((e) => e.id)).toEqual([...eventIds]);
  });

  it('a batch of three with a header key is created once; repeating it creates nothing', async () => {
    const batch = {
      events: [
        delivered('b1@example.com', 'B1'),
        {
          type: 'email.opened',
          timestamp: '2026-11-26T12:05:00Z',
          data: { recipient: 'b1@example.com', message_id: 'B1' },
        },
        { type: 'order.shipped', data: { metadata: { order: 'A-1' } } },
      ],
    };
    const first = await publish(batch, 'batch-1');
    expect(first.statusCode, first.body).toBe(201);
    const created = (first.json() as { data: Array<{ event: CanonicalEvent; created: boolean }> }).data;
    expect(created.map((r) => r.created)).toEqual([true, true, true]);
    const again = await publish(batch, 'batch-1');
    expect(again.statusCode).toBe(200);
    const repeated = (again.json() as { data: Array<{ event: CanonicalEvent; created: boolean }> }).data;
    expect(repeated.map((r) => r.created)).toEqual([false, false, false]);
    expect(repeated.map((r) => r.event.id)).toEqual(created.map((r) => r.event.id));
  });

  it('an email event without a recipient is refused with MH_ERR_VALIDATION', async () => {
    const res = await publish({ type: 'email.opened', data: { message_id: 'X' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      code: 'MH_ERR_VALIDATION',
      message: expect.stringContaining('recipient'),
    });
  });

  it('a timestamp on a day that does not exist is refused, not read as the next month', async () => {
    const res = await publish({
      type: 'email.delivered',
      timestamp: '2026-02-30T12:00:00Z',
      data: { recipient: 'a@example.com' },
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({
      code: 'MH_ERR_VALIDATION',
      message: expect.stringContaining('timestamp'),
    });
  });

  it('a system.* event is refused: that namespace belongs to mailhook, so subscribers can trust it', async () => {
    for (const type of ['system.endpoint.disabled', 'system.anything']) {
      const res = await publish({ type, data: { metadata: { endpoint_id: 'ep_victim' } } });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({
        code: 'MH_ERR_VALIDATION',
        message: expect.stringContaining('reserved'),
      });
    }
  });

  it('a custom invoice.paid event is accepted and fanned out to the endpoint subscribed to invoice.*', async () => {
    const res = await publish({
      type: 'invoice.paid',
      data: { metadata: { invoice: 'INV-7', amount: 4200 } },
    });
    expect(res.statusCode, res.body).toBe(201);
    const event = res.json() as CanonicalEvent;
    expect(event.type).toBe('invoice.paid');
    const deliveries = (await h.app.store.listDeliveries({ eventId: event.id, limit: 10 })).items;
    expect(deliveries.map((d) => [d.endpointId, d.origin, d.status])).toEqual([
      [invoiceEndpoint, 'event', 'pending'],
    ]);
    const emailDeliveries = (await h.app.store.listDeliveries({ endpointId: invoiceEndpoint, limit: 100 }))
      .items;
    expect(emailDeliveries.map((d) => d.eventId)).toEqual([event.id]);
  });

  it('a published hard bounce suppresses the recipient', async () => {
    const res = await publish({
      type: 'email.bounced',
      data: {
        recipient: 'gone@example.com',
        bounce: { type: 'hard', code: '5.1.1', reason: 'no such user' },
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    const event = res.json() as CanonicalEvent;
    const answer = await call.get<Answer>('/v1/suppressions/gone@example.com');
    expect(answer.suppressed).toBe(true);
    expect(answer.reasons).toMatchObject([
      { reason: 'hard_bounce', scope: 'global', event_id: event.id, source_id: 'src_published' },
    ]);
  });

  it('GET /v1/event-types lists the 11 email types and the 7 system types, each with its JSON schema', async () => {
    const { data } = await call.get<{
      data: Array<{ type: string; description: string; schema: Record<string, unknown> }>;
    }>('/v1/event-types');
    expect(data.map((t) => t.type)).toEqual([...EMAIL_EVENT_TYPES, ...SYSTEM_EVENT_TYPES]);
    for (const item of data) {
      expect(item.description.length, item.type).toBeGreaterThan(0);
      expect(item.schema).toMatchObject({
        title: item.type,
        type: 'object',
        properties: { type: { const: item.type }, data: { type: 'object' } },
      });
    }
    // The schemas describe what mailhook really emits.
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats.default(ajv);
    const schemaOf = (type: string) => data.find((t) => t.type === type)?.schema ?? {};
    const at = new Date('2026-11-26T12:00:00.000Z');
    const emitted = [
      ...(['failing', 'disabled', 'recovered', 'exhausted'] as const).map((kind) =>
        endpointEvent({
          kind,
          endpointId: 'ep_1',
          deliveryId: 'dlv_1',
          eventId: 'evt_1',
          consecutiveFailures: 5,
          reason: kind === 'recovered' ? null : 'HTTP 500',
          at,
        }),
      ),
      ...(['silent', 'recovered'] as const).map((kind) =>
        sourceEvent(
          kind,
          { id: 'src_1', provider: 'sendgrid', name: 'Marketing' },
          { lastRequestAt: at, expectedGapMs: 60_000 },
          at,
        ),
      ),
      reconcileFailedEvent(
        { id: 'src_1', provider: 'mailgun', name: 'Transactional' },
        { jobId: 'rec_1', error: 'mailgun refused the API key (HTTP 401)', httpStatus: 401 },
        at,
      ),
    ];
    expect(emitted.map((e) => e.event.type).sort()).toEqual([...SYSTEM_EVENT_TYPES].sort());
    for (const { event } of emitted) {
      const valid = ajv.validate(schemaOf(event.type), JSON.parse(JSON.stringify(event)));
      expect(valid, `${event.type}: ${ajv.errorsText()}`).toBe(true);
    }
    // And what it stores for every email type, here as published.
    const published = await call.send<{ data: Array<{ event: CanonicalEvent }> }>(
      'POST',
      '/v1/events',
      {
        events: EMAIL_EVENT_TYPES.map((type) => ({
          type,
          timestamp: '2026-11-26T12:00:00Z',
          data: {
            recipient: 'schema@example.com',
            message_id: `m-${type}`,
            bounce: { type: 'hard', code: '5.1.1', reason: 'no such user' },
            click: { url: 'https://example.com/' },
            open: { machine: true },
            unsubscribe: { group: 'news' },
            tags: ['t'],
            metadata: { k: 'v' },
          },
        })),
      },
      201,
    );
    expect(published.data).toHaveLength(EMAIL_EVENT_TYPES.length);
    for (const { event } of published.data) {
      const valid = ajv.validate(schemaOf(event.type), event);
      expect(valid, `${event.type}: ${ajv.errorsText()}`).toBe(true);
    }
  });
});
