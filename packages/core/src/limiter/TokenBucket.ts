import type { Clock, Sleep } from '../internal/clock.js';
import { abortReason } from '../internal/clock.js';
import { AbortedError, DeadlineExceededError } from '../errors.js';

/** Waiters of the `interactive` lane are served before any waiter of the `batch` lane. */
export type Priority = 'interactive' | 'batch';

/** One request for send slots. */
export interface AcquireOptions {
  /** Slots this request uses (ReplicateKey costs 2 CreateKey in the replica region). @defaultValue `1` */
  readonly cost?: number;
  /** @defaultValue `'interactive'` */
  readonly priority?: Priority;
  /** Rejects the wait with `AbortedError` when it fires. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Absolute time on the bucket's clock. When the expected wait would pass it the request fails at once
   * with `DeadlineExceededError`; if it is still waiting when the deadline comes, likewise.
   */
  readonly deadline?: number | undefined;
}

interface Waiter {
  readonly cost: number;
  readonly enqueuedAt: number;
  readonly resolve: (waitMs: number) => void;
  readonly reject: (e: Error) => void;
  done: boolean;
  cleanup: (() => void) | undefined;
}

class Lane {
  items: Waiter[] = [];
  head = 0;
  cost = 0;
  peek(): Waiter | undefined {
    while (this.head < this.items.length) {
      const w = this.items[this.head];
      if (w !== undefined && !w.done) return w;
      this.head++;
    }
    if (this.head > 0) {
      this.items = [];
      this.head = 0;
    }
    return undefined;
  }
  shift(): void {
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  readonly clock: Clock;
  readonly sleep: Sleep;
  /** The pacing rate at a given time, requests per second (may change, e.g. adaptively). */
  readonly rate: (now: number) => number;
  /**
   * How far a late timer may catch up, milliseconds: a dispatch that wakes late grants the slots it
   * missed, up to this much, in a burst, but never slots of an earlier counting window (see
   * `windowMs`). @defaultValue `1000`
   */
  readonly maxLagMs?: number;
  /**
   * The quota's counting window, milliseconds on the clock. Slots missed because the event loop was
   * late are made up only within the window they belong to: shifted into the next window they would
   * push it over the quota. KMS counts in one-second windows. @defaultValue `1000`
   */
  readonly windowMs?: number;
}

/** Grant when the slot is due within this much, milliseconds: timers round to whole milliseconds. */
const TOLERANCE_MS = 0.5;

/**
 * A paced token bucket by virtual scheduling (GCRA with no burst allowance): slots are spaced exactly
 * `1000 / rate` milliseconds apart, so no clock-aligned one-second window sees more than `rate` grants
 * and there is no burst at a window edge. A dispatch that wakes late (a busy event loop) grants the
 * slots it missed within the same window, so load does not cost throughput. Waiters are
 * served first come, first served within a lane, and the `interactive` lane goes before `batch`.
 *
 * A plain class rather than Bottleneck: see the package README for the measurement.
 */
export class TokenBucket {
  readonly #clock: Clock;
  readonly #sleep: Sleep;
  readonly #rate: (now: number) => number;
  readonly #maxLagMs: number;
  readonly #windowMs: number;
  readonly #interactive = new Lane();
  readonly #batch = new Lane();
  /** Theoretical arrival time of the next slot. */
  #tat = Number.NEGATIVE_INFINITY;
  #running = false;

  constructor(options: TokenBucketOptions) {
    this.#clock = options.clock;
    this.#sleep = options.sleep;
    this.#rate = options.rate;
    this.#maxLagMs = options.maxLagMs ?? 1000;
    this.#windowMs = options.windowMs ?? 1000;
  }

  /** Waiters queued. */
  get queued(): number {
    let n = 0;
    for (const lane of [this.#interactive, this.#batch]) {
      for (let i = lane.head; i < lane.items.length; i++) if (lane.items[i]?.done === false) n++;
    }
    return n;
  }

  /** No slot is granted before `until` (a throttle hold). */
  holdUntil(until: number): void {
    if (until > this.#tat) this.#tat = until;
  }

  #interval(cost: number, now: number): number {
    const rate = this.#rate(now);
    return rate === Number.POSITIVE_INFINITY ? 0 : (cost * 1000) / rate;
  }

  /**
   * Takes `cost` slots if one is due now and nobody is waiting, without a promise: the common case of a
   * pool far from its quota costs no allocation. Returns false when the caller must `acquire()`.
   */
  tryAcquire(cost = 1): boolean {
    const now = this.#clock.now();
    if (this.#tat - now > TOLERANCE_MS) return false;
    if (this.#interactive.peek() !== undefined || this.#batch.peek() !== undefined) return false;
    this.#tat = Math.max(this.#tat, now) + this.#interval(cost, now);
    return true;
  }

  /**
   * Waits for `cost` send slots. Resolves with the time waited, milliseconds. Never throws on its own:
   * only the caller's signal (`AbortedError`) or deadline (`DeadlineExceededError`) end a wait early.
   */
  acquire(options: AcquireOptions = {}): Promise<number> {
    const cost = options.cost ?? 1;
    const priority = options.priority ?? 'interactive';
    const { signal, deadline } = options;
    if (signal?.aborted) {
      return Promise.reject(
        new AbortedError('aborted before a send slot was granted', { cause: abortReason(signal) }),
      );
    }
    const now = this.#clock.now();
    const interactiveHead = this.#interactive.peek();
    const empty = interactiveHead === undefined && this.#batch.peek() === undefined;
    if (empty && this.#tat - now <= TOLERANCE_MS) {
      // Idle bucket with a slot due: grant now, with no credit for the idle time.
      this.#tat = Math.max(this.#tat, now) + this.#interval(cost, now);
      return Promise.resolve(0);
    }
    if (deadline !== undefined) {
      const ahead = this.#interactive.cost + (priority === 'batch' ? this.#batch.cost : 0);
      const expected = Math.max(this.#tat, now) + this.#interval(ahead, now) - now;
      if (now + expected > deadline) {
        return Promise.reject(
          new DeadlineExceededError(
            `the send slot would come in ${Math.round(expected)} ms, past the caller's deadline ` +
              `(${Math.round(deadline - now)} ms away)`,
            expected,
          ),
        );
      }
    }
    const lane = priority === 'batch' ? this.#batch : this.#interactive;
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = {
        cost,
        enqueuedAt: now,
        resolve,
        reject,
        done: false,
        cleanup: undefined,
      };
      const cancel = (e: Error): void => {
        if (waiter.done) return;
        waiter.done = true;
        lane.cost -= cost;
        waiter.cleanup?.();
        reject(e);
      };
      const cleanups: (() => void)[] = [];
      if (signal !== undefined) {
        const onAbort = (): void =>
          cancel(
            new AbortedError('aborted while waiting for a send slot', {
              cause: abortReason(signal),
            }),
          );
        signal.addEventListener('abort', onAbort, { once: true });
        cleanups.push(() => signal.removeEventListener('abort', onAbort));
      }
      if (deadline !== undefined) {
        const timer = new AbortController();
        this.#sleep(deadline - now, timer.signal).then(
          () =>
            cancel(
              new DeadlineExceededError(
                `no send slot before the caller's deadline (waited ${Math.round(deadline - now)} ms)`,
              ),
            ),
          () => undefined,
        );
        cleanups.push(() => timer.abort());
      }
      if (cleanups.length > 0) waiter.cleanup = () => cleanups.forEach((c) => c());
      lane.items.push(waiter);
      lane.cost += cost;
      if (!this.#running) void this.#run();
    });
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      for (;;) {
        const lane = this.#interactive.peek() !== undefined ? this.#interactive : this.#batch;
        const waiter = lane.peek();
        if (waiter === undefined) break;
        const now = this.#clock.now();
        const wait = this.#tat - now;
        if (wait > TOLERANCE_MS) {
          await this.#sleep(wait);
          continue;
        }
        lane.shift();
        lane.cost -= waiter.cost;
        waiter.done = true;
        waiter.cleanup?.();
        // Keep the schedule when the timer woke late, so a loaded event loop does not lose slots, but
        // only within the current counting window: never bank credit beyond it.
        const windowStart = Math.floor(now / this.#windowMs) * this.#windowMs;
        const floor = Math.max(now - this.#maxLagMs, windowStart);
        this.#tat = Math.max(this.#tat, floor) + this.#interval(waiter.cost, now);
        waiter.resolve(now - waiter.enqueuedAt);
      }
    } finally {
      this.#running = false;
    }
  }
}
