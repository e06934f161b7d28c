import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decrypt } from './decrypt.js';
import { encrypt } from './encrypt.js';
import { DecryptionError } from './errors.js';
import { serializeEncryptionContext } from './format/encryptionContext.js';
import { serializeHeaderBody } from './format/header.js';
import { framedBodySize, writeFinalFrameHeader } from './format/body.js';
import { FrameCipher, headerTag } from './internal/FrameCipher.js';
import { deriveKeys } from './internal/kdf.js';
import { RawAesKeyring } from './keyrings/RawAesKeyring.js';
import type { EncryptionMaterials } from './keyrings/types.js';
import { getSuite } from './suites.js';

const keyring = new RawAesKeyring({
  keyNamespace: 'ns',
  keyName: 'k',
  wrappingKey: randomBytes(32),
});
const suite = getSuite(0x0478);
if (!suite) throw new Error('no suite 0x0478');

/** Context {a: '1', b: '2'} serialised with its pairs out of key order, as a careless writer might. */
const UNSORTED = Buffer.from([0, 2, 0, 1, 0x62, 0, 1, 0x32, 0, 1, 0x61, 0, 1, 0x31]);
const CONTEXT = { a: '1', b: '2' };

/**
 * A one-frame 0x0478 message whose header stores the context as `UNSORTED`, with the raw AES data key
 * wrapped under `keyringAad`.
 */
function message(plaintext: Buffer, keyringAad: Buffer): Buffer {
  const materials: EncryptionMaterials = {
    suite: suite as NonNullable<typeof suite>,
    encryptionContext: CONTEXT,
    serializedContext: keyringAad,
    plaintextDataKey: undefined,
    encryptedDataKeys: [],
  };
  keyring.onEncryptSync(materials);
  const s = suite as NonNullable<typeof suite>;
  const messageId = randomBytes(32);
  const keys = deriveKeys(s, materials.plaintextDataKey as Buffer, messageId);
  const { buf, length } = serializeHeaderBody(
    {
      suite: s,
      messageId,
      serializedContext: UNSORTED,
      encryptedDataKeys: materials.encryptedDataKeys,
      contentType: 2,
      frameLength: 4096,
      suiteData: keys.commitKey as Buffer,
    },
    16 + framedBodySize(plaintext.length, 4096),
  );
  headerTag(s, keys.key, Buffer.alloc(12), buf.subarray(0, length), Buffer.alloc(0)).copy(
    buf,
    length,
  );
  const frames = new FrameCipher(s, keys.key, messageId);
  let o = writeFinalFrameHeader(buf, length + 16, 1, frames.iv(1), plaintext.length);
  o = frames.encryptInto(1, 1, plaintext, buf, o);
  return buf.subarray(0, o);
}

describe('a header whose encryption context is not in canonical order', () => {
  // raw-aes-keyring.md#on-decrypt: the AAD is the decryption materials' encryption context, serialized in
  // the format of the header's key-value pairs (sorted), not whatever bytes a header happened to carry.
  it('decrypts when the data key was wrapped under the canonical serialisation', async () => {
    const pt = randomBytes(100);
    const r = await decrypt(message(pt, serializeEncryptionContext(CONTEXT)), { keyring });
    expect(r.plaintext.equals(pt)).toBe(true);
    expect(r.encryptionContext).toEqual(CONTEXT);
  });

  it('is refused when the data key was wrapped under the header bytes instead (they are not the serialisation)', async () => {
    const e = await decrypt(message(randomBytes(100), UNSORTED), { keyring }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(DecryptionError.is(e)).toBe(true);
  });
});

describe('an encryption context with a leading U+FEFF', () => {
  it('round-trips exactly: the mark is part of the key and the value', async () => {
    const ctx = { '\ufeffkey': '\ufeffvalue', plain: 'x' };
    const { ciphertext } = await encrypt('hello', {
      keyring,
      suite: 0x0478,
      encryptionContext: ctx,
    });
    const r = await decrypt(ciphertext, { keyring, encryptionContext: ctx });
    expect(r.plaintext.toString()).toBe('hello');
    expect(r.encryptionContext).toEqual(ctx);
  });
});
