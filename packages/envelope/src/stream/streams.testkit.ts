// Shared by the stream tests; not part of the package build.
import { Readable } from 'node:stream';

/** Feeds `data` in chunks of the given sizes (cycling). */
export function chunked(data: Buffer, sizes: number[]): Readable {
  return Readable.from(
    (function* () {
      let o = 0;
      let i = 0;
      while (o < data.length) {
        const n = sizes[i++ % sizes.length] as number;
        yield data.subarray(o, o + n);
        o += n;
      }
    })(),
  );
}
