import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseEncryptionContextBytes, serializeEncryptionContext } from './encryptionContext.js';
import { parseHeader, serializeHeaderBody } from './header.js';
import { getSuite } from '../suites.js';

/** Serialises pairs in the order given (as a non-conforming writer might). */
function pairsInOrder(pairs: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [Buffer.from([pairs.length >> 8, pairs.length & 0xff])];
  for (const [k, v] of pairs) {
    for (const s of [k, v]) {
      const b = Buffer.from(s, 'utf8');
      parts.push(Buffer.from([b.length >> 8, b.length & 0xff]), b);
    }
  }
  return Buffer.concat(parts);
}

const pairs = fc.uniqueArray(
  fc.tuple(fc.string({ unit: 'grapheme', maxLength: 8 }), fc.string({ maxLength: 8 })),
  { selector: (p) => p[0], minLength: 1, maxLength: 6 },
);

describe('canonical encryption context bytes', () => {
  it('are canonical exactly when serialising the parsed context gives the same bytes', () => {
    fc.assert(
      fc.property(pairs, (ps) => {
        const bytes = pairsInOrder(ps);
        const { context, canonical } = parseEncryptionContextBytes(bytes);
        expect(canonical).toBe(serializeEncryptionContext(context).equals(bytes));
      }),
    );
  });

  it('pairs out of key order are not canonical', () => {
    const bytes = pairsInOrder([
      ['b', '1'],
      ['a', '2'],
    ]);
    const r = parseEncryptionContextBytes(bytes);
    expect(r.context).toEqual({ a: '2', b: '1' });
    expect(r.canonical).toBe(false);
  });

  it('a key or value that starts with U+FEFF keeps it, and its bytes stay canonical', () => {
    const bom = '\ufeff';
    for (const ps of [[[`${bom}k`, 'v']], [['k', `${bom}v`]]] as Array<Array<[string, string]>>) {
      const r = parseEncryptionContextBytes(pairsInOrder(ps));
      expect(r.context).toEqual(Object.fromEntries(ps));
      expect(r.canonical).toBe(true);
      expect(serializeEncryptionContext(r.context).equals(pairsInOrder(ps))).toBe(true);
    }
  });

  it('parseHeader hands out the header bytes only for a canonical context', () => {
    const suite = getSuite(0x0478);
    if (!suite) throw new Error('no suite');
    const header = (serializedContext: Buffer): Buffer => {
      const { buf, length } = serializeHeaderBody(
        {
          suite,
          messageId: Buffer.alloc(32, 1),
          serializedContext,
          encryptedDataKeys: [
            { providerId: 'p', providerInfo: Buffer.from('i'), encryptedDataKey: Buffer.from('k') },
          ],
          contentType: 2,
          frameLength: 4096,
          suiteData: Buffer.alloc(32, 2),
        },
        16,
      );
      return buf.subarray(0, length + 16);
    };
    const sorted = serializeEncryptionContext({ a: '1', b: '2' });
    const p = parseHeader(header(sorted));
    if (!p) throw new Error('truncated');
    expect(p.serializedContext?.equals(sorted)).toBe(true);

    const unsorted = parseHeader(
      header(
        pairsInOrder([
          ['b', '2'],
          ['a', '1'],
        ]),
      ),
    );
    if (!unsorted) throw new Error('truncated');
    expect(unsorted.header.encryptionContext).toEqual({ a: '1', b: '2' });
    expect(unsorted.serializedContext).toBeUndefined();
  });
});
