import { parentPort, workerData } from 'node:worker_threads';
import { DeliveryClient } from './http-client.js';
import type { FromSender, SenderThreadData, ToSender } from './sender-messages.js';

/** The sender thread (sender-thread.ts): runs the DeliveryClient and answers each turn's responses together. */
const port = parentPort;
if (!port) throw new Error('the delivery sender must run in a worker thread');
const data = workerData as SenderThreadData;
const client = new DeliveryClient({ allowPrivate: data.allowPrivate, userAgent: data.userAgent });

let answers: FromSender = [];
let inFlight = 0;
let closing = false;

function answer(id: number, response: FromSender[number]['response']): void {
  if (answers.length === 0) setImmediate(flush);
  answers.push({ id, response });
}

function flush(): void {
  const batch = answers;
  answers = [];
  if (batch.length > 0) port?.postMessage(batch);
  if (closing && inFlight === 0) void finish();
}

async function finish(): Promise<void> {
  await client.close();
  port?.close();
}

port.on('message', (message: ToSender) => {
  if (message.type === 'close') {
    closing = true;
    if (inFlight === 0 && answers.length === 0) void finish();
    return;
  }
  for (const { id, request } of message.requests) {
    inFlight++;
    client.send(request).then(
      (response) => {
        inFlight--;
        answer(id, response);
      },
      (err: unknown) => {
        inFlight--;
        const text = err instanceof Error ? err.message : String(err);
        answer(id, { kind: 'error', errorClass: 'other', message: text, durationMs: 0 });
      },
    );
  }
});
