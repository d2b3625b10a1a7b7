import type { Tally } from './stats.js';

/**
 * A one-line progress bar redrawn in place on a terminal, at most ten times a second. Nothing is
 * drawn when the stream is not a TTY (a log file or a pipe gets only the summary).
 */
export interface Progress {
  update(tally: Tally, total: number): void;
  finish(): void;
}

const WIDTH = 28;

export function progressBar(stream: NodeJS.WriteStream, startedAt = Date.now()): Progress {
  if (!stream.isTTY) return { update() {}, finish() {} };
  let last = 0;
  let drawn = false;
  const draw = (tally: Tally, total: number) => {
    const done = tally.outcomes.length;
    const filled = total === 0 ? WIDTH : Math.round((done / total) * WIDTH);
    const seconds = Math.max(0.001, (Date.now() - startedAt) / 1000);
    const line =
      `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${done}/${total} ` +
      `${Math.round((done / seconds) * 10) / 10} req/s  2xx ${tally.acknowledged}  ` +
      `401 ${tally.rejected}  unexpected ${tally.unexpected}`;
    stream.write(`\r${line}\u001b[K`);
    drawn = true;
  };
  let pending: { tally: Tally; total: number } | null = null;
  return {
    update(tally, total) {
      pending = { tally, total };
      const now = Date.now();
      if (now - last >= 100 || tally.outcomes.length === total) {
        last = now;
        draw(tally, total);
      }
    },
    finish() {
      if (pending) draw(pending.tally, pending.total);
      if (drawn) stream.write('\n');
    },
  };
}
