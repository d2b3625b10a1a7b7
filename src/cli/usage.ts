import { describeVariables } from '../config.js';

export class UsageError extends Error {}

export function usage(): string {
  return `mailhook — webhook gateway for email events

Usage: mailhook <command> [options]

Commands:
  serve       Run the gateway (ingest, pipeline, API) until SIGTERM/SIGINT
  migrate     Apply pending database migrations and exit
  reprocess   Run the pipeline again over stored inbox rows (default: the quarantined ones)
  listen      A local receiver that verifies and prints deliveries (--port, --secret, --fail, --delay)
  help        Show this help; "mailhook <command> --help" shows a command's options

Examples:
  mailhook serve
  PORT=9000 MAILHOOK_DATA_DIR=/var/lib/mailhook mailhook serve
  mailhook reprocess --status quarantined --source src_01JD…
  mailhook listen --port 9000 --secret whsec_…

Environment variables:
${describeVariables()}
`;
}
