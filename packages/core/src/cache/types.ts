/**
 * A source of time in milliseconds. Only differences between readings are used, so a monotonic clock
 * (`performance`) is the default; tests inject a fake one and advance it instead of sleeping.
 */
export interface Clock {
  now(): number;
}

/** The default clock: `performance.now()`, monotonic, so a wall-clock step never expires or revives entries. */
export const monotonicClock: Clock = { now: () => performance.now() };
