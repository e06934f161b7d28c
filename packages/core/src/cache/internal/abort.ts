/** The subset of `AbortSignal` the caches use; the SDK's own `AbortSignal` type fits it too. */
export interface SignalLike {
  readonly aborted: boolean;
  addEventListener?(type: 'abort', listener: () => void): void;
  removeEventListener?(type: 'abort', listener: () => void): void;
  onabort?: ((this: never, ev: never) => unknown) | null;
}

/**
 * The error an aborted wait rejects with: named `AbortError` like the SDK's own (its HTTP handler rejects
 * with `name === 'AbortError'`), so call sites that already handle an aborted `send` need no change.
 */
export function abortError(signal: SignalLike): Error {
  const reason = (signal as { reason?: unknown }).reason;
  const e = new Error('Request aborted', reason === undefined ? undefined : { cause: reason });
  e.name = 'AbortError';
  return e;
}

/**
 * Calls `onAbort` once when `signal` aborts; returns a function that stops listening. Works with signals
 * that only offer `onabort` (older SDK polyfills) as well as `addEventListener`.
 */
export function onAbort(signal: SignalLike, onAbortFn: () => void): () => void {
  if (typeof signal.addEventListener === 'function') {
    signal.addEventListener('abort', onAbortFn);
    return () => signal.removeEventListener?.('abort', onAbortFn);
  }
  const s = signal as { onabort?: unknown };
  const previous = s.onabort;
  s.onabort = (...args: unknown[]) => {
    if (typeof previous === 'function') (previous as (...a: unknown[]) => void)(...args);
    onAbortFn();
  };
  return () => {
    s.onabort = previous;
  };
}
