import type { FastifyInstance } from 'fastify';
import { MailhookError } from '../errors.js';
import { summarizeStats } from '../pipeline/stats.js';
import type { StatsGroupBy } from '../store/store.js';
import type { ApiContext } from './context.js';
import { parseTime } from './cursor.js';

const GROUP_BY: StatsGroupBy[] = ['type', 'provider', 'source', 'day', 'recipient_domain'];
const DAY_MS = 86_400_000;

export async function statsRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  scope.get<{ Querystring: { since?: string; until?: string; group_by: StatsGroupBy; source_id?: string } }>(
    '/stats',
    {
      schema: {
        summary:
          'Counts and rates per event type over [since, until), default the last 7 days, from hourly rollups; ' +
          'unique_messages counts the messages whose first event of that type falls in the window and group',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            since: { type: 'string' },
            until: { type: 'string' },
            group_by: { type: 'string', enum: GROUP_BY, default: 'type' },
            source_id: { type: 'string', maxLength: 100 },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const until = parseTime('until', q.until) ?? ctx.now();
      const since = parseTime('since', q.since) ?? new Date(until.getTime() - 7 * DAY_MS);
      if (since >= until) throw new MailhookError('MH_ERR_VALIDATION', 'since must be before until');
      const rows = await ctx.store.eventStats({
        since,
        until,
        groupBy: q.group_by,
        ...(q.source_id && { sourceId: q.source_id }),
      });
      return {
        since: since.toISOString(),
        until: until.toISOString(),
        group_by: q.group_by,
        groups: summarizeStats(rows),
      };
    },
  );
}
