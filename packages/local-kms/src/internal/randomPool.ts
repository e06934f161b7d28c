import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 16 * 1024;
let pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/**
 * Copies `length` bytes from the CSPRNG into `into` at `at`, from a pool refilled 16 KiB at a time.
 *
 * One `randomFillSync` call costs several microseconds whatever its size, and GenerateDataKey needs
 * two draws (the data key and the IV); drawing from a pool makes that one call per ~300 requests.
 * Each byte is handed out once and the consumed part of the pool is zeroed.
 */
export function fillRandom(into: Buffer, at: number, length: number): void {
  if (length > POOL_SIZE) {
    randomFillSync(into, at, length);
    return;
  }
  if (offset + length > POOL_SIZE) {
    pool = Buffer.allocUnsafe(POOL_SIZE);
    randomFillSync(pool);
    offset = 0;
  }
  pool.copy(into, at, offset, offset + length);
  pool.fill(0, offset, offset + length);
  offset += length;
}

/** `length` fresh random bytes (see {@link fillRandom}). */
export function randomBuffer(length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  fillRandom(out, 0, length);
  return out;
}
