import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { encodeContext, openBlob, readBlobHeader, sealBlob } from './ciphertext.js';

const material = createSecretKey(randomBytes(32));
const keyId = randomUUID();

describe('ciphertext blob', () => {
  it('round-trips and names its key id and material version', () => {
    const blob = sealBlob(material, keyId, 3, Buffer.from('hello'), { a: '1' });
    expect(readBlobHeader(blob)).toEqual({ keyId, version: 3 });
    expect(openBlob(material, blob, { a: '1' })?.toString()).toBe('hello');
  });

  it('binds the exact encryption context', () => {
    const blob = sealBlob(material, keyId, 0, Buffer.from('x'), { a: '1', b: '2' });
    expect(openBlob(material, blob, { b: '2', a: '1' })?.toString()).toBe('x');
    expect(openBlob(material, blob, { a: '1' })).toBeUndefined();
    expect(openBlob(material, blob, { a: '1', b: '3' })).toBeUndefined();
    expect(openBlob(material, blob, undefined)).toBeUndefined();
  });

  it('fails on any changed byte (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (plaintext, at, flip) => {
          const blob = sealBlob(material, keyId, 0, Buffer.from(plaintext), undefined);
          const i = at % blob.length;
          blob[i] = blob[i]! ^ flip;
          const header = readBlobHeader(blob);
          const sameHeader = header?.keyId === keyId && header.version === 0;
          // A flipped header byte either unparses or names another key/version; a body byte fails GCM.
          if (sameHeader) expect(openBlob(material, blob, undefined)).toBeUndefined();
        },
      ),
    );
  });

  it('keeps context encoding unambiguous', () => {
    expect(encodeContext({ ab: 'c' })).not.toEqual(encodeContext({ a: 'bc' }));
    expect(encodeContext({})).toBeUndefined();
  });
});
