import type { FastifyInstance } from 'fastify';
import { MailhookError } from '../errors.js';
import type { CanonicalEvent } from '../events.js';
import { messageStatus, timeline } from '../pipeline/message-status.js';
import { GLOBAL_SCOPE, normalizeEmail } from '../pipeline/suppression-rules.js';
import type { ApiContext } from './context.js';

const MESSAGE_EVENTS_MAX = 1000;
const RECIPIENT_EVENTS_MAX = 500;

/** Provider message ids can be long (RFC 5322 Message-IDs with their angle brackets). */
const messageParams = {
  type: 'object',
  properties: { messageId: { type: 'string', minLength: 1, maxLength: 1000 } },
  required: ['messageId'],
} as const;

const recipientParams = {
  type: 'object',
  properties: { email: { type: 'string', minLength: 1, maxLength: 320 } },
  required: ['email'],
} as const;

/** A recipient's messages, newest first, each with its status derived by rank. */
function messagesOf(events: CanonicalEvent[]) {
  const byMessage = new Map<string, CanonicalEvent[]>();
  for (const event of events) {
    const id = event.data.message_id;
    if (!id) continue;
    const list = byMessage.get(id) ?? [];
    list.push(event);
    byMessage.set(id, list);
  }
  return [...byMessage.entries()]
    .map(([messageId, list]) => {
      const ordered = timeline(list);
      return {
        message_id: messageId,
        status: messageStatus(list),
        first_event_at: ordered[0]?.timestamp ?? null,
        last_event_at: ordered.at(-1)?.timestamp ?? null,
        events: list.length,
      };
    })
    .sort((a, b) => (b.last_event_at ?? '').localeCompare(a.last_event_at ?? ''));
}

function engagementOf(events: CanonicalEvent[]) {
  const of = (type: string) => events.filter((e) => e.type === type);
  const opens = of('email.opened');
  const humanOpens = opens.filter((e) => e.data.open?.machine !== true);
  const clicks = of('email.clicked');
  const latest = (list: CanonicalEvent[]) => timeline(list).at(-1)?.timestamp ?? null;
  return {
    delivered: of('email.delivered').length,
    opened: opens.length,
    opened_by_people: humanOpens.length,
    clicked: clicks.length,
    bounced: of('email.bounced').length,
    complained: of('email.complained').length,
    last_opened_at: latest(opens),
    last_clicked_at: latest(clicks),
  };
}

export async function messageRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { store } = ctx;

  scope.get<{ Params: { messageId: string } }>(
    '/messages/:messageId',
    { schema: { params: messageParams } },
    async (request) => {
      const events = await store.listMessageEvents(request.params.messageId, MESSAGE_EVENTS_MAX);
      if (events.length === 0) throw new MailhookError('MH_ERR_NOT_FOUND', 'No events for this message id');
      return {
        message_id: request.params.messageId,
        status: messageStatus(events),
        events: timeline(events),
      };
    },
  );

  scope.get<{ Params: { email: string } }>(
    '/recipients/:email',
    { schema: { params: recipientParams } },
    async (request) => {
      const email = normalizeEmail(request.params.email);
      const [events, suppressions] = await Promise.all([
        store.listRecipientEvents(email, RECIPIENT_EVENTS_MAX),
        store.getSuppressions(email),
      ]);
      return {
        email,
        suppressed: suppressions.some((s) => s.scope === GLOBAL_SCOPE),
        suppressions: suppressions.map((s) => ({
          scope: s.scope,
          reason: s.reason,
          detail: s.detail,
          event_id: s.eventId,
          created_at: s.createdAt.toISOString(),
        })),
        engagement: engagementOf(events),
        messages: messagesOf(events).slice(0, 50),
        recent_events: events.slice(0, 20),
      };
    },
  );
}
