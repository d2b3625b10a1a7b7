import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import { selectForReplay } from './replay.js';

const PAGE = 500;

/**
 * Advances running replays page by page in the background; each page's deliveries are committed
 * before the next is read, so progress survives a restart and is visible through the API.
 */
export class ReplayRunner {
  private busy = false;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly onEnqueued: () => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Runs every running replay to its end; concurrent calls coalesce. */
  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const id of await this.store.runningReplays()) {
        for (;;) {
          const replay = await this.store.advanceReplay(id, PAGE, selectForReplay, this.now());
          if (replay && replay.enqueued > 0) this.onEnqueued();
          if (!replay || replay.status === 'done') break;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } catch (err) {
      this.logger.error({ err }, 'advancing replays failed; will retry');
    } finally {
      this.busy = false;
    }
  }
}
