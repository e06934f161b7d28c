/**
 * A source of time in milliseconds. Pacing only needs differences; the default clock also reads as
 * milliseconds since the Unix epoch (with sub-millisecond precision) so that a throttle hold can be
 * aligned to the one-second windows KMS counts in.
 */
export interface Clock {
  now(): number;
}

/**
 * Waits `ms` milliseconds; rejects with the signal's reason when `signal` aborts first. Tests inject a
 * fake one that resolves when a fake clock is advanced.
 */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The process clock: `performance.timeOrigin + performance.now()`, monotonic within a process. */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
};

/** The abort reason as an Error, for rejecting a waiter. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const text = typeof reason === 'string' ? reason : 'aborted';
  return Object.assign(new Error(text, { cause: reason }), { name: 'AbortError' });
}

/** `setTimeout` as a promise that honours an `AbortSignal` and does not keep the process alive on abort. */
export const systemSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal as AbortSignal));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
