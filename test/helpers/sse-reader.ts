import type { CanonicalEvent } from '../../src/events.js';

export interface Frame {
  id?: string;
  event?: string;
  data?: string;
}

/** Reads Server-Sent Events frames from a fetch() body, as the dashboard does. */
export function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const frames: Frame[] = [];
  const eventFrames = () => frames.filter((f) => f.event === 'event');
  const events = () => eventFrames().map((f) => JSON.parse(f.data ?? 'null') as CanonicalEvent);

  /** Reads until `done()` holds, or fails after `timeoutMs` saying what was awaited. */
  async function readUntil(done: () => boolean, awaited: () => string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(awaited());
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`read timed out: ${awaited()}`)), left);
        }),
      ]).finally(() => clearTimeout(timer));
      if (chunk.done) throw new Error('stream ended');
      buffer += chunk.value;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const frame: Frame = {};
        for (const line of buffer.slice(0, end).split('\n')) {
          const [field, ...rest] = line.split(': ');
          if (field === 'id' || field === 'event' || field === 'data') frame[field] = rest.join(': ');
        }
        frames.push(frame);
        buffer = buffer.slice(end + 2);
      }
    }
  }

  return {
    frames,
    /** Reads until `count` event frames arrived in all, or fails after `timeoutMs`. */
    async until(count: number, timeoutMs = 8000): Promise<CanonicalEvent[]> {
      await readUntil(
        () => eventFrames().length >= count,
        () => `only ${eventFrames().length} of ${count} events arrived`,
        timeoutMs,
      );
      return events();
    },
    /** Reads until a frame matching `predicate` arrived, or fails after `timeoutMs`. */
    async untilFrame(predicate: (frame: Frame) => boolean, what: string, timeoutMs = 8000): Promise<void> {
      await readUntil(
        () => frames.some(predicate),
        () => `no ${what} arrived`,
        timeoutMs,
      );
    },
    /** The id of the last frame that carried one: what a browser sends back as Last-Event-ID. */
    lastEventId: () => frames.findLast((f) => f.id !== undefined)?.id,
    cancel: () => reader.cancel(),
  };
}
