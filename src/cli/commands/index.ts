import { applyCommandMain } from './apply.js';
import { deliveriesCommand } from './deliveries.js';
import { endpointsCommand } from './endpoints.js';
import { eventsCommand } from './events.js';
import { keysCommand } from './keys.js';
import { replayCommandMain } from './replay.js';
import { sourcesCommand } from './sources.js';
import { suppressionsCommand } from './suppressions.js';
import { verifyCommand } from './verify.js';

/**
 * Commands that manage a running server over its /v1 API (MAILHOOK_URL, MAILHOOK_API_KEY), and
 * `verify`, which checks a captured request locally with the same provider adapters.
 */
export const MANAGEMENT_COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  sources: sourcesCommand,
  endpoints: endpointsCommand,
  events: eventsCommand,
  deliveries: deliveriesCommand,
  replay: replayCommandMain,
  suppressions: suppressionsCommand,
  keys: keysCommand,
  apply: applyCommandMain,
  verify: verifyCommand,
};
