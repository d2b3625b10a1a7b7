/** How management commands print: aligned tables and key/value blocks for people, JSON for scripts. */

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One JSON document per line (for streams such as `events tail --json`). */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

const MAX_CELL = 80;

function cell(value: unknown, cut: boolean): string {
  if (value === null || value === undefined || value === '') return '-';
  const text = Array.isArray(value) ? value.join(',') || '-' : String(value);
  const line = text.replace(/\s+/g, ' ');
  return cut && line.length > MAX_CELL ? `${line.slice(0, MAX_CELL - 1)}…` : line;
}

/** An aligned table; `empty` is printed instead when there are no rows. */
export function table(headers: string[], rows: unknown[][], empty = '(none)'): string {
  if (rows.length === 0) return `${empty}\n`;
  // The last column is never cut: it is where long values (URLs, errors) go, and ids must stay whole.
  const cells = [headers, ...rows.map((row) => row.map((value, i) => cell(value, i < row.length - 1)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return `${cells
    .map((row) =>
      row
        .map((text, i) => (i === row.length - 1 ? text : text.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

/** `label: value` lines, labels aligned; nested objects are printed as compact JSON. */
export function keyValues(entries: Array<[string, unknown]>): string {
  const width = Math.max(...entries.map(([label]) => label.length));
  return `${entries
    .map(([label, value]) => {
      const text =
        value === null || value === undefined
          ? '-'
          : typeof value === 'object'
            ? JSON.stringify(value)
            : String(value);
      return `${`${label}:`.padEnd(width + 2)}${text}`;
    })
    .join('\n')}\n`;
}

/** A compact local-independent time for tables: `2026-11-26 12:00:00Z`. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** A one-line progress bar for stderr, redrawn in place. */
export function progressBar(done: number, total: number | null, label: string, width = 30): string {
  // \r and erase-line: each frame overwrites the previous one, whatever its length.
  if (total === null || total <= 0) return `\r\x1b[2K${label} ${done}`;
  const ratio = Math.min(1, done / total);
  const filled = Math.round(ratio * width);
  const percent = String(Math.floor(ratio * 100)).padStart(3);
  return `\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent}% ${label}`;
}
