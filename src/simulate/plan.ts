import { LOWER_ALNUM, type Rng } from './rng.js';

/**
 * The simulated traffic, before any provider format: messages sent over the last hour and what
 * happened to each. Every message is delivered or bounces; delivered ones may be opened, opened
 * ones may be clicked, and a few are reported as spam. Each kind happens at most once per message,
 * so the providers whose dedup keys are built from (message, event, time) never see two simulated
 * events collide. The mix gives delivered ≫ opened > clicked > bounced > complained.
 */
export type SimKind = 'delivered' | 'opened' | 'clicked' | 'bounced' | 'complained';

export const SIM_KINDS: readonly SimKind[] = ['delivered', 'opened', 'clicked', 'bounced', 'complained'];

/** The canonical event type each kind must become, whatever the provider. */
export const CANONICAL_TYPE: Record<SimKind, string> = {
  delivered: 'email.delivered',
  opened: 'email.opened',
  clicked: 'email.clicked',
  bounced: 'email.bounced',
  complained: 'email.complained',
};

export const MIX = {
  /** Share of messages that bounce (hard) instead of being delivered. */
  bounce: 0.03,
  /** Share of delivered messages that are opened. */
  open: 0.35,
  /** Share of opened messages with a click. */
  click: 0.3,
  /** Share of delivered messages reported as spam. */
  complaint: 0.01,
} as const;

export interface SimMessage {
  /** Unique within and across runs (it carries the run id); provider ids are derived from it. */
  key: string;
  recipient: string;
  from: string;
  subject: string;
  tag: string;
  sentAt: Date;
}

export interface SimEvent {
  /** Unique per event; provider event ids are derived from it. */
  key: string;
  kind: SimKind;
  message: SimMessage;
  at: Date;
  /** The link, on clicks. */
  url: string | null;
  /** The reader's address and browser, on opens and clicks. */
  ip: string;
  userAgent: string;
}

const FIRST = ['ada', 'grace', 'alan', 'edsger', 'barbara', 'ken', 'margaret', 'donald', 'frances', 'john'];
const LAST = ['lovelace', 'hopper', 'turing', 'dijkstra', 'liskov', 'thompson', 'hamilton', 'knuth', 'allen'];
// Reserved for documentation (RFC 2606): traffic can never reach a real mailbox by accident.
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example.com'];
const SUBJECTS = [
  'Your receipt',
  'Welcome aboard',
  'Reset your password',
  'Your weekly digest',
  'Invoice due',
];
const TAGS = ['receipt', 'welcome', 'password-reset', 'digest', 'invoice'];
const LINKS = [
  'https://example.com/account',
  'https://example.com/invoices/latest?utm_source=email',
  'https://example.com/welcome',
  'https://example.com/unsubscribe-preferences',
];
export const USER_AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)',
];

export interface PlanOptions {
  /** How many events to produce. */
  count: number;
  /** Simulated time ends here; every event happened before it. */
  now: Date;
  /** The kinds the provider reports; others are not produced. */
  kinds: readonly SimKind[];
  /** Distinguishes this run's messages from other runs' (derived from the seed when not given). */
  runId?: string;
}

/** Documentation addresses (RFC 5737), as providers report the reader's IP. */
function readerIp(rng: Rng): string {
  const net = rng.pick(['192.0.2', '198.51.100', '203.0.113']);
  return `${net}.${rng.int(1, 254)}`;
}

function message(rng: Rng, key: string, sentAt: Date): SimMessage {
  const topic = rng.int(0, SUBJECTS.length - 1);
  const user = `${rng.pick(FIRST)}.${rng.pick(LAST)}${rng.int(1, 9999)}`;
  return {
    key,
    recipient: `${user}@${rng.pick(DOMAINS)}`,
    from: 'notifications@example.com',
    subject: SUBJECTS[topic] ?? 'Hello',
    tag: TAGS[topic] ?? 'transactional',
    sentAt,
  };
}

/** Exactly `count` events of the allowed kinds, in the order they happened. */
export function planEvents(rng: Rng, options: PlanOptions): SimEvent[] {
  const allowed = new Set(options.kinds);
  const runId = options.runId ?? rng.chars(8, LOWER_ALNUM);
  const end = options.now.getTime() - 1000;
  const events: SimEvent[] = [];
  let seq = 0;
  for (let m = 0; events.length < options.count; m++) {
    const sentAt = new Date(end - rng.int(60_000, 3_600_000));
    const msg = message(rng, `${runId}.${m}`, sentAt);
    const happened: Array<{ kind: SimKind; afterMs: number; url?: string }> = [];
    if (rng.chance(MIX.bounce)) happened.push({ kind: 'bounced', afterMs: rng.int(800, 20_000) });
    else {
      const deliveredAfter = rng.int(500, 8000);
      happened.push({ kind: 'delivered', afterMs: deliveredAfter });
      if (rng.chance(MIX.open)) {
        const openedAfter = deliveredAfter + rng.int(20_000, 40 * 60_000);
        happened.push({ kind: 'opened', afterMs: openedAfter });
        if (rng.chance(MIX.click)) {
          happened.push({
            kind: 'clicked',
            afterMs: openedAfter + rng.int(3000, 120_000),
            url: rng.pick(LINKS),
          });
        }
      }
      if (rng.chance(MIX.complaint)) {
        happened.push({ kind: 'complained', afterMs: deliveredAfter + rng.int(60_000, 30 * 60_000) });
      }
    }
    const ip = readerIp(rng);
    const userAgent = rng.pick(USER_AGENTS);
    for (const { kind, afterMs, url } of happened) {
      if (!allowed.has(kind) || events.length >= options.count) continue;
      events.push({
        key: `${msg.key}.${seq++}`,
        kind,
        message: msg,
        // Never in the future, however late the random delays fall.
        at: new Date(Math.min(sentAt.getTime() + afterMs, end)),
        url: url ?? null,
        ip,
        userAgent,
      });
    }
  }
  return events.sort((a, b) => a.at.getTime() - b.at.getTime());
}

/** One event of each kind for one message: what the adapter tests loop over. */
export function sampleEvents(rng: Rng, now: Date, kinds: readonly SimKind[] = SIM_KINDS): SimEvent[] {
  const sentAt = new Date(now.getTime() - 600_000);
  const msg = message(rng, `sample.${rng.chars(8, LOWER_ALNUM)}`, sentAt);
  return kinds.map((kind, i) => ({
    key: `${msg.key}.${i}`,
    kind,
    message: msg,
    at: new Date(sentAt.getTime() + (i + 1) * 61_000),
    url: kind === 'clicked' ? (LINKS[0] ?? null) : null,
    ip: readerIp(rng),
    userAgent: rng.pick(USER_AGENTS),
  }));
}
