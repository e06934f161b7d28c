import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dataKeyCacheId, decryptCacheKey, type DecryptKeyInput } from './cacheKey.js';

// Strings with every kind of code unit, lone surrogates included: UTF-8 would merge some of them.
const str = fc.string({ unit: 'binary', maxLength: 12 });
const context = fc.option(fc.dictionary(str, str, { maxKeys: 4 }), { nil: undefined });
const decryptInput = fc.record(
  {
    CiphertextBlob: fc.uint8Array({ maxLength: 24 }),
    EncryptionContext: context,
    KeyId: fc.option(str, { nil: undefined }),
    EncryptionAlgorithm: fc.option(
      fc.constantFrom('SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'),
      { nil: undefined },
    ),
    GrantTokens: fc.option(fc.array(str, { maxLength: 3 }), { nil: undefined }),
  },
  { requiredKeys: ['CiphertextBlob'] },
);

/** What KMS compares: absent and empty contexts are the same request. */
function canonical(i: DecryptKeyInput): unknown {
  const ec = i.EncryptionContext ?? {};
  return {
    c: Buffer.from(i.CiphertextBlob ?? []).toString('hex'),
    ec: Object.keys(ec)
      .sort()
      .map((k) => [k, ec[k]]),
    k: i.KeyId === undefined ? null : [i.KeyId],
    a: i.EncryptionAlgorithm === undefined ? null : [i.EncryptionAlgorithm],
    g: i.GrantTokens === undefined ? null : [i.GrantTokens],
  };
}

describe('decryptCacheKey', () => {
  it('differs whenever any part of the request differs, and only then', () => {
    fc.assert(
      fc.property(decryptInput, decryptInput, (a, b) => {
        const same = JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
        expect(decryptCacheKey(a) === decryptCacheKey(b)).toBe(same);
      }),
      { numRuns: 2_000 },
    );
  });

  it('differs when one context key or value changes by one code unit, lone surrogates included', () => {
    fc.assert(
      fc.property(
        decryptInput,
        str,
        str,
        fc.constantFrom('\ud800', '\ufffd', '\u0000', 'x'),
        (input, k, v, extra) => {
          const ec = { ...(input.EncryptionContext ?? {}), [k]: v };
          const base = { ...input, EncryptionContext: ec };
          const changedValue = { ...input, EncryptionContext: { ...ec, [k]: v + extra } };
          const changedKey = { ...input, EncryptionContext: { ...ec, [k + extra]: v } };
          expect(decryptCacheKey(base)).not.toBe(decryptCacheKey(changedValue));
          if (!(k + extra in ec))
            expect(decryptCacheKey(base)).not.toBe(decryptCacheKey(changedKey));
        },
      ),
    );
  });

  it('does not depend on the order the context was written in', () => {
    fc.assert(
      fc.property(fc.dictionary(str, str, { minKeys: 2, maxKeys: 6 }), (ec) => {
        const reversed = Object.fromEntries(Object.entries(ec).reverse());
        const blob = new Uint8Array([1, 2, 3]);
        expect(decryptCacheKey({ CiphertextBlob: blob, EncryptionContext: ec })).toBe(
          decryptCacheKey({ CiphertextBlob: blob, EncryptionContext: reversed }),
        );
      }),
    );
  });

  it('cannot be fooled by moving bytes between adjacent fields', () => {
    const blob = new Uint8Array(0);
    expect(decryptCacheKey({ CiphertextBlob: blob, EncryptionContext: { ab: 'c' } })).not.toBe(
      decryptCacheKey({ CiphertextBlob: blob, EncryptionContext: { a: 'bc' } }),
    );
    expect(
      decryptCacheKey({ CiphertextBlob: blob, KeyId: 'k', EncryptionAlgorithm: 'A' }),
    ).not.toBe(decryptCacheKey({ CiphertextBlob: blob, KeyId: 'kA' }));
    expect(decryptCacheKey({ CiphertextBlob: blob, KeyId: '' })).not.toBe(
      decryptCacheKey({ CiphertextBlob: blob }),
    );
  });
});

describe('dataKeyCacheId', () => {
  const part = fc.record(
    {
      keyId: str,
      encryptionContext: context,
      keySpec: fc.option(fc.oneof(str, fc.integer({ min: 1, max: 1024 })), { nil: undefined }),
      partition: fc.option(fc.oneof(str, fc.uint8Array({ maxLength: 8 })), { nil: undefined }),
      parts: fc.option(fc.array(fc.oneof(str, fc.uint8Array({ maxLength: 8 })), { maxLength: 3 }), {
        nil: undefined,
      }),
    },
    { requiredKeys: ['keyId'] },
  );

  it('differs whenever key id, context, key spec, partition or parts differ', () => {
    fc.assert(
      fc.property(part, part, (a, b) => {
        const norm = (p: typeof a) =>
          JSON.stringify({
            ...p,
            encryptionContext: Object.fromEntries(
              Object.entries(p.encryptionContext ?? {}).sort(([x], [y]) => (x < y ? -1 : 1)),
            ),
            keySpec: p.keySpec === undefined ? null : [typeof p.keySpec, p.keySpec],
            partition:
              p.partition === undefined
                ? null
                : typeof p.partition === 'string'
                  ? ['s', p.partition]
                  : ['b', Buffer.from(p.partition).toString('hex')],
            parts: (p.parts ?? []).map((x) =>
              typeof x === 'string' ? ['s', x] : ['b', Buffer.from(x).toString('hex')],
            ),
          });
        expect(dataKeyCacheId(a) === dataKeyCacheId(b)).toBe(norm(a) === norm(b));
      }),
      { numRuns: 2_000 },
    );
  });

  it('keeps the number 32 and the string "32" apart', () => {
    expect(dataKeyCacheId({ keyId: 'k', keySpec: 32 })).not.toBe(
      dataKeyCacheId({ keyId: 'k', keySpec: '32' }),
    );
  });
});

describe('cache ids are stable', () => {
  // Ids may be logged and compared across processes and releases: the encoding must never drift. These
  // digests were taken from the documented encoding (one hash update per field) before it was written
  // into one buffer.
  it.each([
    [
      {
        keyId: 'encrypt',
        encryptionContext: { purpose: 'bench', b: 'x\ud800y' },
        keySpec: 0x0578,
        partition: 'p-1',
        parts: ['a', 'b'],
      },
      'VBLxR7Ct8u5ehL0CkVgLTwpawj0hI5ZV/RUWRHVEQtU=',
    ],
    [
      {
        keyId: 'decrypt',
        keySpec: 'AES_256',
        partition: new Uint8Array([1, 2, 3]),
        parts: ['aws-kms', new Uint8Array([9, 8]), 'é'],
      },
      'C4cx/bjmdSvbcftMu1vb7xiPG660qYwfQo3UwC14/JI=',
    ],
    [
      { keyId: 'arn:aws:kms:us-east-1:111122223333:key/x' },
      'S1d1tg06qRW6J33KKU73ZessCxefvZsm+E7KghIhSho=',
    ],
  ])('dataKeyCacheId %#', (key, id) => {
    expect(dataKeyCacheId(key)).toBe(id);
  });

  it('decryptCacheKey', () => {
    expect(
      decryptCacheKey({
        CiphertextBlob: new Uint8Array([1, 2]),
        EncryptionContext: { z: '1', a: '2' },
        KeyId: 'k',
        GrantTokens: ['g1', 'g2'],
      }),
    ).toBe('YcZYO8Oyt94M17rKKnZAdJqsHo0XnDwmgvNPZA3i2uQ=');
    expect(decryptCacheKey({})).toBe('Ush+23LUHYGpLp7t7o/opjHJdTTPif3/zKQPCkqbqYQ=');
  });

  it('a key larger than the scratch buffer gets the same id as the same key built field by field', () => {
    const big = 'é'.repeat(3000);
    const id = dataKeyCacheId({ keyId: big, encryptionContext: { [big]: big }, parts: [big] });
    // The documented encoding, written out by hand.
    const s = (x: string) => {
      const b = Buffer.from(x, 'utf16le');
      const n = Buffer.alloc(4);
      n.writeUInt32BE(b.length);
      return [n, b];
    };
    const u32 = (v: number) => {
      const n = Buffer.alloc(4);
      n.writeUInt32BE(v);
      return n;
    };
    const bytes = Buffer.concat([
      Buffer.from('K'),
      ...s(big),
      u32(1),
      ...s(big),
      ...s(big),
      Buffer.from([0, 0]),
      u32(1),
      Buffer.from([1]),
      ...s(big),
    ]);
    expect(id).toBe(createHash('sha256').update(bytes).digest('base64'));
    // And the ids after it are still right (the scratch buffer grew and was handed back).
    expect(dataKeyCacheId({ keyId: 'arn:aws:kms:us-east-1:111122223333:key/x' })).toBe(
      'S1d1tg06qRW6J33KKU73ZessCxefvZsm+E7KghIhSho=',
    );
  });
});
