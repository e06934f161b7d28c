/**
 * Runs `target.purgeStale()` every `intervalMs` milliseconds on an unref'd timer that holds the target only
 * weakly, so an abandoned cache is still garbage-collected (and its timer then stops itself). Returns a
 * function that stops the timer. Expired entries are otherwise removed only when looked up; the sweep is
 * what bounds how long expired key material lingers in memory unread.
 */
export function startSweeper(target: { purgeStale(): number }, intervalMs: number): () => void {
  if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) return () => {};
  const ref = new WeakRef(target);
  const timer = setInterval(() => {
    const t = ref.deref();
    if (t === undefined) clearInterval(timer);
    else t.purgeStale();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
