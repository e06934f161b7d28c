import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafeSlow(POOL_SIZE);
let offset = POOL_SIZE;

/**
 * `n` fresh random bytes (n ≤ 256) copied out of a pool refilled by one `randomFillSync` call per 4 KiB:
 * a message needs three small random values (message ID, data key, wrapping IV) and one OpenSSL call per
 * value costs more than the copy. Every byte is handed out once and wiped from the pool as it is taken.
 * @internal
 */
export function randomBytesPooled(n: number, into?: Buffer): Buffer {
  if (offset + n > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = into ?? Buffer.allocUnsafe(n);
  pool.copy(out, 0, offset, offset + n);
  pool.fill(0, offset, offset + n);
  offset += n;
  return out;
}
