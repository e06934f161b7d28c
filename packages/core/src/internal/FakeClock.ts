import type { Clock, Sleep } from './clock.js';
import { abortReason } from './clock.js';

interface Timer {
  readonly due: number;
  readonly seq: number;
  readonly resolve: () => void;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A manual clock and a matching `sleep` for tests: time moves only when `advance()` is called, and
 * sleepers wake in due order, with a full event-loop turn between wake-ups so that the code they
 * resume can schedule its next sleep before time moves on.
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Timer[] = [];

  /** @param start - the initial reading, milliseconds. @defaultValue `1_000_000` */
  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Pending sleepers. */
  get pending(): number {
    return this.#timers.length;
  }

  readonly sleep: Sleep = (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      const timer: Timer = {
        due: this.#now + Math.max(0, ms),
        seq: this.#seq++,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.#timers = this.#timers.filter((t) => t !== timer);
        reject(abortReason(signal as AbortSignal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#timers.push(timer);
      this.#timers.sort((a, b) => a.due - b.due || a.seq - b.seq);
    });

  /** Moves time forward by `ms`, waking every sleeper that falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await turn();
    for (;;) {
      const next = this.#timers[0];
      if (next === undefined || next.due > target) break;
      this.#timers.shift();
      this.#now = Math.max(this.#now, next.due);
      next.resolve();
      await turn();
    }
    this.#now = target;
    await turn();
  }
}
