import { writeFile } from 'node:fs/promises';
import type { SuppressionAnswer, SuppressionReason } from '../../client/index.js';
import { EXIT_CODES, onePositional, runResource, type Subcommand, stringValue } from '../http.js';
import { print, printJson, shortTime, table } from '../output.js';
import { UsageError } from '../usage.js';

/** `mailhook suppressions …`: addresses mail must no longer go to, and why. */

const INTRO = `mailhook suppressions — addresses mail must no longer be sent to (hard bounces, complaints,
unsubscribes, repeated soft bounces, manual entries).
`;

function reasonsTable(reasons: SuppressionReason[]): string {
  return table(
    ['EMAIL', 'SCOPE', 'REASON', 'SINCE', 'DETAIL'],
    reasons.map((r) => [r.email, r.scope, r.reason, shortTime(r.created_at), r.detail]),
    'No entries.',
  );
}

function answerLines(answers: SuppressionAnswer[]): string {
  return table(
    ['EMAIL', 'SUPPRESSED', 'REASONS'],
    answers.map((a) => [
      a.email,
      a.suppressed ? 'yes' : 'no',
      a.reasons.map((r) => `${r.reason}@${r.scope}`),
    ]),
  );
}

const check: Subcommand = {
  summary: 'may mail still go to these addresses?',
  options: { group: { type: 'string' } },
  help: `mailhook suppressions check <email>… [--group <unsubscribe group>] [--json]

Answers for each address whether it is suppressed (globally, or in the given unsubscribe group).
The exit code is 0 either way; read the answer (or "suppressed" in --json).
With one address, --json prints {"email", "suppressed", "reasons"}; with several, {"data": [...]}.

Examples:
  mailhook suppressions check user@example.com
  mailhook suppressions check a@example.com b@example.com --group newsletter --json
`,
  async run({ values, positionals, json, client }) {
    if (positionals.length === 0) throw new UsageError('missing email address');
    const group = stringValue(values, 'group');
    if (positionals.length === 1) {
      const answer = await client.suppressions.get(positionals[0] as string, group);
      if (json) printJson(answer);
      else {
        print(`${answer.email}: ${answer.suppressed ? 'SUPPRESSED' : 'not suppressed'}`);
        if (answer.reasons.length > 0) print(reasonsTable(answer.reasons));
      }
      return EXIT_CODES.ok;
    }
    const answers = await client.suppressions.check(positionals, group);
    if (json) printJson(answers);
    else print(answerLines(answers.data));
    return EXIT_CODES.ok;
  },
};

const add: Subcommand = {
  summary: 'suppress an address by hand',
  options: { group: { type: 'string' }, detail: { type: 'string' } },
  help: `mailhook suppressions add <email> [--group <unsubscribe group>] [--detail <text>] [--json]

Examples:
  mailhook suppressions add user@example.com --detail "asked by phone"
  mailhook suppressions add user@example.com --group newsletter
`,
  async run({ values, positionals, json, client }) {
    const email = onePositional(positionals, 'email address');
    const group = stringValue(values, 'group');
    const detail = stringValue(values, 'detail');
    const answer = await client.suppressions.add(email, {
      ...(group && { group }),
      ...(detail && { detail }),
    });
    if (json) printJson(answer);
    else print(`${answer.email} suppressed${group ? ` in group ${group}` : ''}`);
    return EXIT_CODES.ok;
  },
};

const rm: Subcommand = {
  summary: "remove an address's entries (all, or one group or reason)",
  options: { group: { type: 'string' }, reason: { type: 'string' } },
  help: `mailhook suppressions rm <email> [--group <unsubscribe group>] [--reason <reason>] [--json]

Reasons: hard_bounce, soft_bounces, complaint, unsubscribe, manual (as listed by "check").
Examples:
  mailhook suppressions rm user@example.com
  mailhook suppressions rm user@example.com --reason manual
`,
  async run({ values, positionals, json, client }) {
    const email = onePositional(positionals, 'email address');
    const group = stringValue(values, 'group');
    const reason = stringValue(values, 'reason');
    const answer = await client.suppressions.remove(email, {
      ...(group && { group }),
      ...(reason && { reason }),
    });
    if (json) printJson(answer);
    else {
      print(
        `removed ${answer.removed} entr${answer.removed === 1 ? 'y' : 'ies'}; ${answer.email} is ${answer.suppressed ? 'still suppressed' : 'not suppressed'}`,
      );
    }
    return EXIT_CODES.ok;
  },
};

const exportCommand: Subcommand = {
  summary: 'the whole list as CSV (or JSON with --json)',
  options: { output: { type: 'string', short: 'o' } },
  help: `mailhook suppressions export [-o <file>] [--json]

CSV columns: email, scope, reason, detail, event_id, source_id, created_at. --json prints
{"data": [...]} with every entry instead.
Examples:
  mailhook suppressions export > suppressions.csv
  mailhook suppressions export -o suppressions.json --json
`,
  async run({ values, json, client }) {
    let text: string;
    if (json) {
      const data: SuppressionReason[] = [];
      for await (const entry of client.suppressions.iterate({ limit: 1000 })) data.push(entry);
      text = `${JSON.stringify({ data }, null, 2)}\n`;
    } else {
      text = await client.suppressions.exportCsv();
    }
    const output = stringValue(values, 'output');
    if (output) {
      await writeFile(output, text);
      process.stderr.write(`wrote ${output}\n`);
    } else process.stdout.write(text);
    return EXIT_CODES.ok;
  },
};

export function suppressionsCommand(args: string[]): Promise<number> {
  return runResource('suppressions', INTRO, { check, add, rm, export: exportCommand }, args);
}
