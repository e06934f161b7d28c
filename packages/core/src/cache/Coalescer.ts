import { abortError, onAbort, type SignalLike } from './internal/abort.js';

/** How a {@link Coalescer} hands one shared result to many callers. */
export interface CoalescerOptions<T> {
  /**
   * Gives one caller its own copy of the shared result, so callers cannot see each other's mutations
   * (or zeroing). Called once per caller still waiting when the call succeeds.
   */
  readonly share: (result: T) => T;
  /** Called once after every caller has its copy, e.g. to zero plaintext in the original. */
  readonly discard?: ((result: T) => void) | undefined;
}

/** One caller of {@link Coalescer.run}. */
export interface CoalesceParticipant<T> {
  /**
   * Performs the call on this caller's behalf. Called for the first caller of a key and, if that caller
   * aborts before the call finishes, for the next caller still waiting (see {@link Coalescer}).
   */
  readonly start: () => Promise<T>;
  /** This caller's abort signal: on abort it alone rejects, promptly, with an `AbortError`. */
  readonly signal?: SignalLike | undefined;
  /** Called when this caller, having joined, becomes the one whose `start` now runs the call. */
  readonly onTakeover?: (() => void) | undefined;
}

interface Member<T> {
  readonly p: CoalesceParticipant<T>;
  done: boolean;
  resolve(value: T): void;
  reject(e: unknown): void;
  off(): void;
}

interface Flight<T> {
  members: Member<T>[];
}

/**
 * Shares one in-flight call among concurrent identical callers: the first caller's `start()` runs, and
 * every caller with the same key that arrives before it settles gets a copy of its result (or its error).
 *
 * Abort: a caller whose signal aborts rejects at once with an `AbortError` and leaves the others waiting.
 * If it was the caller whose `start()` is running, that call may die with it — the SDK binds the abort
 * signal into its HTTP handler, beyond the reach of middleware — so when it fails after its caller
 * aborted, the oldest caller still waiting takes over with its own `start()`. The others never see the
 * aborted caller's error; the cost is one more request, only in that case.
 *
 * @typeParam T - The call's result.
 */
export class Coalescer<T> {
  readonly #flights = new Map<string, Flight<T>>();
  readonly #share: (result: T) => T;
  readonly #discard: ((result: T) => void) | undefined;

  constructor(options: CoalescerOptions<T>) {
    this.#share = options.share;
    this.#discard = options.discard;
  }

  /** Calls in flight. */
  get inFlight(): number {
    return this.#flights.size;
  }

  /**
   * Joins the call in flight for `key`, or starts one with `participant.start()`. `joined` tells which,
   * synchronously, so the caller can report it before waiting.
   */
  run(key: string, participant: CoalesceParticipant<T>): { joined: boolean; result: Promise<T> } {
    const signal = participant.signal;
    if (signal?.aborted) return { joined: false, result: Promise.reject(abortError(signal)) };
    const existing = this.#flights.get(key);
    const joined = existing !== undefined;
    const result = new Promise<T>((resolve, reject) => {
      const member: Member<T> = { p: participant, done: false, resolve, reject, off: () => {} };
      const flight = existing ?? { members: [] };
      flight.members.push(member);
      if (signal !== undefined) {
        member.off = onAbort(signal, () => {
          if (member.done) return;
          member.done = true;
          member.off();
          reject(abortError(signal));
        });
      }
      if (!joined) {
        this.#flights.set(key, flight);
        this.#runWith(key, flight, member);
      }
    });
    return { joined, result };
  }

  #runWith(key: string, flight: Flight<T>, runner: Member<T>): void {
    (async () => runner.p.start())().then(
      (value) => this.#succeed(key, flight, value),
      (e: unknown) => this.#fail(key, flight, runner, e),
    );
  }

  #succeed(key: string, flight: Flight<T>, value: T): void {
    if (this.#flights.get(key) === flight) this.#flights.delete(key);
    for (const m of flight.members) {
      if (m.done) continue;
      m.done = true;
      m.off();
      try {
        m.resolve(this.#share(value));
      } catch (e) {
        m.reject(e);
      }
    }
    flight.members = [];
    if (this.#discard !== undefined) {
      try {
        this.#discard(value);
      } catch {
        // The callers have their copies; a failing discard hook must not reject any of them.
      }
    }
  }

  #fail(key: string, flight: Flight<T>, runner: Member<T>, e: unknown): void {
    const live = flight.members.filter((m) => !m.done);
    flight.members = live;
    const next = live[0];
    if (runner.p.signal?.aborted === true && next !== undefined) {
      // The runner's own abort most likely killed the request; someone still wants the answer.
      next.p.onTakeover?.();
      this.#runWith(key, flight, next);
      return;
    }
    if (this.#flights.get(key) === flight) this.#flights.delete(key);
    for (const m of live) {
      m.done = true;
      m.off();
      m.reject(e);
    }
    flight.members = [];
  }
}
