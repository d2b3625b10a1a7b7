import type { DeliveryRequest, DeliveryResponse } from './http-client.js';

/** What the sender thread is started with (sender-thread.ts): the DeliveryClient's options. */
export interface SenderThreadData {
  allowPrivate: boolean;
  userAgent: string;
}

export type ToSender =
  | { type: 'send'; requests: Array<{ id: number; request: DeliveryRequest }> }
  | { type: 'close' };

export type FromSender = Array<{ id: number; response: DeliveryResponse }>;
