import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * One JSON logger for the process; areas take children scoped with their ids. The server logs to
 * stdout; one-shot CLI commands log to stderr (fd 2) so their stdout stays parseable.
 */
export function createLogger(level: string, fd: 1 | 2 = 1): Logger {
  return pino(
    {
      level,
      base: { service: 'mailhook' },
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', '*.signature', 'apiKey', 'config'],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd, sync: true }),
  );
}
