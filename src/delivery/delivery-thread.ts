import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger.js';
import type { AttemptMetric } from '../monitoring/metrics.js';
import type { DeliveryThreadData, FromDelivery, ToDelivery } from './thread-messages.js';

/** Runs deliveries in a worker thread; restarted after a pause if it dies. */
export class DeliveryThread {
  private worker: Worker | null = null;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly data: DeliveryThreadData,
    private readonly logger: Logger,
    private readonly onAttempts: (attempts: AttemptMetric[]) => void = () => {},
  ) {}

  start(): void {
    if (this.worker || this.stopping) return;
    const worker = new Worker(new URL('./thread-main.js', import.meta.url), { workerData: this.data });
    this.worker = worker;
    worker.on('message', (message: FromDelivery) => {
      if (message.type === 'attempts') this.onAttempts(message.attempts);
    });
    worker.on('error', (err) => this.logger.error({ err }, 'delivery thread failed'));
    worker.on('exit', (code) => {
      this.worker = null;
      if (this.stopping) return;
      this.logger.error({ code }, 'delivery thread exited; restarting in 1 s');
      this.restartTimer = setTimeout(() => this.start(), 1000);
    });
  }

  wake(): void {
    this.post({ type: 'wake' });
  }

  /** Lets attempts in flight finish and be recorded, then ends the thread. */
  stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return Promise.resolve();
    return new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      this.post({ type: 'stop' });
    });
  }

  private post(message: ToDelivery): void {
    this.worker?.postMessage(message);
  }
}
