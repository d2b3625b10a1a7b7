import type { CliCommand } from '../command.js';

/**
 * Commands that manage a running server over its /v1 API (MAILHOOK_URL, MAILHOOK_API_KEY), and
 * `verify`, which checks a captured request locally with the same provider adapters. Each is loaded
 * when it runs, so one command does not pay for loading the others.
 */
export const MANAGEMENT_COMMANDS: Record<string, () => Promise<CliCommand>> = {
  sources: async () => (await import('./sources.js')).sourcesCommand,
  endpoints: async () => (await import('./endpoints.js')).endpointsCommand,
  events: async () => (await import('./events.js')).eventsCommand,
  deliveries: async () => (await import('./deliveries.js')).deliveriesCommand,
  replay: async () => (await import('./replay.js')).replayCommandMain,
  reconcile: async () => (await import('./reconcile.js')).reconcileCommandMain,
  suppressions: async () => (await import('./suppressions.js')).suppressionsCommand,
  keys: async () => (await import('./keys.js')).keysCommand,
  apply: async () => (await import('./apply.js')).applyCommandMain,
  verify: async () => (await import('./verify.js')).verifyCommand,
};
