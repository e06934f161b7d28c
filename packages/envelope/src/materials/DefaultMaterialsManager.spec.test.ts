/**
 * DefaultMaterialsManager.ts against framework/default-cmm.md and framework/cmm-interface.md: each test
 * is named with the MUST sentence quoted above the code. Real raw AES keyring, real ECDSA keys; signatures
 * are checked with a public key decoded by hand from the context (spec.testkit.ts).
 */
import { randomBytes, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decrypt } from '../decrypt.js';
import { DecryptionError } from '../errors.js';
import { PUBLIC_KEY_CONTEXT_KEY, type EncryptionContext } from '../format/encryptionContext.js';
import { RawAesKeyring } from '../keyrings/RawAesKeyring.js';
import type { Keyring } from '../keyrings/types.js';
import {
  contextBytes,
  countingKeyring,
  forge,
  keyring,
  publicKeyOf,
  rejection,
  signingPair,
  suite,
  unwrap,
} from '../spec.testkit.js';
import {
  DefaultMaterialsManager,
  type DecryptionMaterialsRequest,
  type EncryptionMaterialsResult,
} from './DefaultMaterialsManager.js';

const S0578 = suite(0x0578);
const S0478 = suite(0x0478);
const manager = new DefaultMaterialsManager(keyring);

function encryptRequest(s = S0578, encryptionContext: EncryptionContext = { a: 'b' }) {
  return { suite: s, encryptionContext, requiredEncryptionContextKeys: [], plaintextLength: 10 };
}
/** The request decrypt would make for materials `m`, with the context replaced when given. */
function decryptRequest(
  m: EncryptionMaterialsResult,
  encryptionContext: EncryptionContext = m.encryptionContext,
  reproduced?: EncryptionContext,
): DecryptionMaterialsRequest {
  return {
    suite: m.suite,
    encryptionContext,
    encryptedDataKeys: m.encryptedDataKeys,
    reproducedEncryptionContext: reproduced,
  };
}
function withoutPublicKey(c: EncryptionContext): EncryptionContext {
  const { [PUBLIC_KEY_CONTEXT_KEY]: _pub, ...rest } = c;
  return rest;
}

describe('default-cmm.md#get-encryption-materials', () => {
  it('If the algorithm suite contains a signing algorithm, the default CMM MUST Generate a signing key. If the algorithm suite contains a signing algorithm, the default CMM MUST Add the key-value pair of key `aws-crypto-public-key`, value `base64-encoded public verification key` to the encryption context.', async () => {
    const sync = manager.encryptSync(encryptRequest())?.materials;
    const results = [await manager.getEncryptionMaterials(encryptRequest()), sync];
    const seen = new Set<string>();
    for (const m of results) {
      if (!m) throw new Error('no materials');
      expect(m.signingKey?.type).toBe('private');
      expect(m.signingKey?.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
      const pub = m.encryptionContext[PUBLIC_KEY_CONTEXT_KEY] as string;
      expect(Object.keys(m.encryptionContext).sort()).toEqual(['a', PUBLIC_KEY_CONTEXT_KEY]);
      // Base64 of the compressed P-384 point of the signing key: what it signs, the context key verifies.
      const point = Buffer.from(pub, 'base64');
      expect(point.toString('base64')).toBe(pub);
      expect(point.length).toBe(49);
      expect([2, 3]).toContain(point[0]);
      const data = randomBytes(64);
      const sig = sign('sha384', data, { key: m.signingKey as never, dsaEncoding: 'der' });
      expect(verify('sha384', data, { key: publicKeyOf(pub), dsaEncoding: 'der' }, sig)).toBe(true);
      // The keyring wrapped the data key under the context that includes the public key.
      expect(
        unwrap(m.encryptedDataKeys[0] as never, m.encryptionContext).equals(m.plaintextDataKey),
      ).toBe(true);
      seen.add(pub);
    }
    expect(seen.size).toBe(2); // a new key for every request
    const unsigned = await manager.getEncryptionMaterials(encryptRequest(S0478));
    expect(unsigned.signingKey).toBeUndefined();
    expect(unsigned.encryptionContext).toEqual({ a: 'b' });
  });
});

describe('default-cmm.md#decrypt-materials', () => {
  it('If the algorithm suite contains a signing algorithm, the default CMM MUST extract the verification key from the encryption context under the reserved `aws-crypto-public-key` key. If this key is not present in the encryption context, the operation MUST fail without returning any decryption materials.', async () => {
    const m = await manager.getEncryptionMaterials(encryptRequest());
    const d = await manager.decryptMaterials(decryptRequest(m));
    const data = randomBytes(32);
    const sig = sign('sha384', data, { key: m.signingKey as never, dsaEncoding: 'der' });
    expect(
      verify('sha384', data, { key: d.verificationKey as never, dsaEncoding: 'der' }, sig),
    ).toBe(true);
    // Another public key in the context gives the verification key of that key.
    const other = signingPair();
    const ctx = { a: 'b', [PUBLIC_KEY_CONTEXT_KEY]: other.publicKey };
    const wrapped = await keyring.onEncrypt({
      suite: S0578,
      encryptionContext: ctx,
      serializedContext: contextBytes(ctx),
      plaintextDataKey: randomBytes(32),
      encryptedDataKeys: [],
    });
    const d2 = await manager.decryptMaterials({
      suite: S0578,
      encryptionContext: ctx,
      encryptedDataKeys: wrapped.encryptedDataKeys,
      reproducedEncryptionContext: undefined,
    });
    const vk2 = { key: d2.verificationKey as never, dsaEncoding: 'der' } as const;
    expect(verify('sha384', data, vk2, sig)).toBe(false);
    const sig2 = sign('sha384', data, { key: other.privateKey, dsaEncoding: 'der' });
    expect(verify('sha384', data, vk2, sig2)).toBe(true);
    const k = countingKeyring();
    const dm = new DefaultMaterialsManager(k.keyring);
    // Without the key: no materials, and the keyring is not even asked.
    const calls = k.decrypts();
    const e = await rejection(
      dm.decryptMaterials(decryptRequest(m, withoutPublicKey(m.encryptionContext))),
    );
    expect(DecryptionError.is(e)).toBe(true);
    expect((e as Error).message).toMatch(/without a public key/);
    expect(k.decrypts()).toBe(calls);
    // A whole signed message whose context lacks the key is refused.
    const signer = signingPair();
    const msg = await forge({
      suiteId: 0x0578,
      plaintext: Buffer.from('x'),
      signingKey: signer.privateKey,
    });
    expect(DecryptionError.is(await rejection(decrypt(msg, { keyring })))).toBe(true);
    const good = await forge({
      suiteId: 0x0578,
      plaintext: Buffer.from('x'),
      signingKey: signer.privateKey,
      context: { [PUBLIC_KEY_CONTEXT_KEY]: signer.publicKey },
    });
    expect((await decrypt(good, { keyring })).plaintext.toString()).toBe('x');
  });

  it('If the algorithm suite does not contain a signing algorithm, but the encryption context includes the reserved `aws-crypto-public-key` key, the operation MUST fail without returning any decryption materials.', async () => {
    const m = await manager.getEncryptionMaterials(encryptRequest(S0478));
    expect((await manager.decryptMaterials(decryptRequest(m))).plaintextDataKey.length).toBe(32);
    const carrying = { ...m.encryptionContext, [PUBLIC_KEY_CONTEXT_KEY]: signingPair().publicKey };
    const e = await rejection(manager.decryptMaterials(decryptRequest(m, carrying)));
    expect(DecryptionError.is(e)).toBe(true);
    expect(() => manager.decryptSync(decryptRequest(m, carrying), undefined)).toThrow(
      DecryptionError,
    );
    // A whole unsigned message carrying the key is refused, though its key and tags are all good.
    const msg = await forge({
      suiteId: 0x0478,
      plaintext: Buffer.from('x'),
      context: { [PUBLIC_KEY_CONTEXT_KEY]: signingPair().publicKey },
    });
    expect(DecryptionError.is(await rejection(decrypt(msg, { keyring })))).toBe(true);
  });

  it('The default CMM MUST obtain the Plaintext Data Key from the On Decrypt response and include it in the decrypt materials returned.', async () => {
    for (const s of [S0478, S0578]) {
      const m = await manager.getEncryptionMaterials(encryptRequest(s));
      const dataKey = Buffer.from(m.plaintextDataKey);
      const d = await manager.decryptMaterials(decryptRequest(m));
      expect(d.plaintextDataKey.equals(dataKey)).toBe(true);
      if (s === S0478) {
        expect(
          manager.decryptSync(decryptRequest(m), undefined)?.plaintextDataKey.equals(dataKey),
        ).toBe(true);
      }
    }
  });
});

describe('cmm-interface.md#decrypt-materials', () => {
  it('The value of the plaintext data key MUST be non-NULL.', async () => {
    const m = await manager.getEncryptionMaterials(encryptRequest(S0478));
    // A keyring that returns without a data key (and without failing), and one that cannot unwrap.
    const silent: Keyring = {
      onEncrypt: (x) => keyring.onEncrypt(x),
      onDecrypt: (x) => Promise.resolve(x),
    };
    const wrongKey = new RawAesKeyring({
      keyNamespace: 'ns',
      keyName: 'spec',
      wrappingKey: randomBytes(32),
    });
    for (const k of [silent, wrongKey]) {
      const e = await rejection(new DefaultMaterialsManager(k).decryptMaterials(decryptRequest(m)));
      expect(DecryptionError.is(e)).toBe(true);
    }
    expect(() =>
      new DefaultMaterialsManager(wrongKey).decryptSync(decryptRequest(m), undefined),
    ).toThrow(DecryptionError);
  });

  it('The CMM MUST validate the Encryption Context by comparing it to the customer supplied Reproduced Encryption Context in decrypt materials request. For every key that exists in both Reproduced Encryption Context and Encryption Context, the values MUST be equal or the operation MUST fail.', async () => {
    const m = await manager.getEncryptionMaterials(encryptRequest(S0478, { a: 'b', c: 'd' }));
    const ok = await manager.decryptMaterials(decryptRequest(m, undefined, { a: 'b' }));
    expect(ok.encryptionContext).toEqual({ a: 'b', c: 'd' });
    const k = countingKeyring();
    const dm = new DefaultMaterialsManager(k.keyring);
    for (const reproduced of [{ a: 'B' }, { a: 'b', c: '' }, { c: 'd ' }]) {
      const e = await rejection(dm.decryptMaterials(decryptRequest(m, undefined, reproduced)));
      expect(DecryptionError.is(e)).toBe(true);
      expect(() =>
        manager.decryptSync(decryptRequest(m, undefined, reproduced), undefined),
      ).toThrow(DecryptionError);
    }
    expect(k.decrypts()).toBe(0);
    // Through decrypt: the stored pairs must match the ones given.
    const msg = await forge({ suiteId: 0x0478, plaintext: Buffer.from('x'), context: { t: 'a' } });
    expect(
      (await decrypt(msg, { keyring, encryptionContext: { t: 'a' } })).plaintext.toString(),
    ).toBe('x');
    expect(
      DecryptionError.is(await rejection(decrypt(msg, { keyring, encryptionContext: { t: 'b' } }))),
    ).toBe(true);
  });
});
