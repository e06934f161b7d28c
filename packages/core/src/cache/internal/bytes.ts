/**
 * A copy of `bytes` in a buffer of its own. `Uint8Array.prototype.slice` is used explicitly because a
 * Node `Buffer`'s own `slice` returns a view of the same memory: zeroing that "copy" would zero the
 * original.
 */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes);
}
