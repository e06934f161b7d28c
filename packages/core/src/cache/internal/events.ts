import { channels, type CacheMessage } from '../../events/channels.js';

/**
 * Publishes one `steadykms:cache` message. Callers check `channels.cache.hasSubscribers` first when
 * building the arguments costs anything; this re-checks so an unobserved cache never allocates a message.
 * The message carries identifiers only: never plaintext, key bytes, ciphertext or context values.
 */
export function publishCache(
  cache: CacheMessage['cache'],
  event: CacheMessage['event'],
  operation: string | undefined,
  operationId: number | undefined,
  keyId: string | undefined,
  reason: string | undefined,
): void {
  if (!channels.cache.hasSubscribers) return;
  const message: CacheMessage = { cache, event, operation, operationId, keyId, reason };
  channels.cache.publish(message);
}
