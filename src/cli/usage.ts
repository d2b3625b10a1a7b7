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
  simulate    Act as an email provider: send realistic, signed webhook traffic to an ingest URL
  backup      Copy the running SQLite store consistently to a file (PostgreSQL: pg_dump)
  restore     Put a backup into an empty MAILHOOK_DATA_DIR (--force replaces the store, keeping it aside)
  help        Show this help; "mailhook <command> --help" shows a command's options

Managing a running server (MAILHOOK_URL, default http://127.0.0.1:8787; MAILHOOK_API_KEY; or
--url/--key; --json for scripts; exit codes 0 ok, 1 failure, 2 usage, 3 not found, 4 unauthorized):
  sources       add | list | show | rm | setup
  endpoints     add | list | show | rm | test | pause | resume
  events        list | show | tail (follows new events live)
  deliveries    list | show | retry
  replay        Send a time range of stored events to an endpoint again, with a progress bar
  reconcile     Read a time range of a source's events back from its provider's API (--list: recent runs)
  suppressions  check | add | rm | export
  keys          create | list | revoke
  apply         Make sources and endpoints match a JSON file (-f mailhook.json, --dry-run, --prune)
  verify        Check a captured webhook (body + headers) with a provider's scheme, and say why it fails

Examples:
  mailhook serve
  PORT=9000 MAILHOOK_DATA_DIR=/var/lib/mailhook mailhook serve
  mailhook reprocess --status quarantined --source src_01JD…
  mailhook listen --port 9000 --secret whsec_…
  mailhook simulate --provider mailgun --key <signing key> --url http://127.0.0.1:8787/ingest/src_… --count 1000
  mailhook sources add --name "SendGrid production" --provider sendgrid
  mailhook events tail --type email.bounced

Environment variables:
${describeVariables()}
`;
}
