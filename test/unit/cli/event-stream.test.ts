import { describe, expect, it } from 'vitest';
import { SseParser } from '../../../src/cli/event-stream.js';

describe('SseParser', () => {
  it('reads frames split anywhere across chunks, with LF, CRLF or CR line ends', () => {
    const text =
      'retry: 2000\r\nid: 17\r\n: connected\r\n\r\n' +
      'id: 18\nevent: event\ndata: {"id":"evt_1"}\n\n' +
      'id: 19\revent: event\rdata: {"a":\rdata: 1}\r\r';
    for (let size = 1; size <= text.length; size++) {
      const parser = new SseParser();
      const frames = [];
      for (let i = 0; i < text.length; i += size) frames.push(...parser.push(text.slice(i, i + size)));
      expect(frames, `chunks of ${size}`).toEqual([
        { retry: 2000, id: '17' },
        { id: '18', event: 'event', data: '{"id":"evt_1"}' },
        { id: '19', event: 'event', data: '{"a":\n1}' },
      ]);
    }
  });

  it('skips comments and empty frames, and keeps a frame that only moves the id', () => {
    const parser = new SseParser();
    expect(parser.push(': heartbeat\n\n\n\nid: 42\n: heartbeat\n\nid\n\n')).toEqual([
      { id: '42' },
      { id: '' },
    ]);
  });
});
