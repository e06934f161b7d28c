import { systemClock } from '../internal/clock.js';
import { DeadlineExceededError } from '../errors.js';

const DEADLINE = Symbol.for('steadykms.deadline');

/**
 * An `AbortSignal` that fires in `ms` milliseconds and tells steadykms when: pass it as
 * `client.send(command, { abortSignal: deadlineSignal(500) })` and the limiter fails fast with
 * `DeadlineExceededError` when the wait for a send slot would pass the deadline, instead of waiting and
 * then aborting; no retry starts past it.
 */
export function deadlineSignal(ms: number): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(new DeadlineExceededError(`deadline of ${ms} ms passed`));
  }, ms);
  timer.unref();
  Object.defineProperty(controller.signal, DEADLINE, { value: systemClock.now() + ms });
  return controller.signal;
}

/** The deadline `deadlineSignal` stamped on a signal (on the system clock), if any. */
export function deadlineOf(signal: AbortSignal | undefined): number | undefined {
  if (signal === undefined) return undefined;
  const d = (signal as unknown as Record<symbol, unknown>)[DEADLINE];
  return typeof d === 'number' ? d : undefined;
}
