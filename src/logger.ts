import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/** One JSON logger for the process; areas take children scoped with their ids. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'mailhook' },
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', '*.signature', 'apiKey', 'config'],
      censor: '[redacted]',
    },
  });
}
