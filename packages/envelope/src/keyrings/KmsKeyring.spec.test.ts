/**
 * The AWS KMS keyring against framework/aws-kms/aws-kms-keyring.md (0.3.0, OnEncrypt) and
 * framework/aws-kms/aws-kms-mrk-keyring.md (0.2.2, OnDecrypt): each test is named with the MUST sentence
 * it checks, as quoted above the code in KmsKeyring.ts. Every call goes through the real
 * `@aws-sdk/client-kms` over HTTP to a real local-kms; what reached KMS is read from local-kms's audit
 * log. The only stand-in is an SDK middleware that edits a response, for the sentences about a KMS that
 * answers wrongly (which a correct KMS never does).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { InvalidOptionError } from '@steadykms/core';
import { startTestKms, type TestKms } from '../../../../test/support/index.js';
import { decrypt } from '../decrypt.js';
import { encrypt } from '../encrypt.js';
import { DecryptionError } from '../errors.js';
import type { EncryptedDataKey } from '../format/header.js';
import { KmsKeyring } from './KmsKeyring.js';
import type { DecryptionMaterials, EncryptionMaterials } from './types.js';
import {
  materialsFor,
  multiRegionKey,
  newKey,
  rejection,
  kmsCalls as auditedCalls,
} from './keyrings.testkit.js';

const context = { purpose: 'keyring spec' };

let kms: TestKms;
let client: KMSClient;
let keyA: string;
let keyB: string;
let mrk: string;
let mrkReplica: string;

beforeAll(async () => {
  kms = await startTestKms({ quotas: false, auditLog: true });
  client = kms.client();
  keyA = await newKey(client);
  keyB = await newKey(client);
  ({ mrk, replica: mrkReplica } = await multiRegionKey(client, 'eu-west-1'));
});
afterAll(async () => {
  await kms?.close();
});

const { encMaterials, decMaterials } = materialsFor(context);
const kmsCalls = (run: () => Promise<unknown>): Promise<Array<[string, unknown]>> =>
  auditedCalls(kms, run);
/** A data key and the EDK the keyring `k` wrote for it. */
async function wrapped(k: KmsKeyring): Promise<{ key: Buffer; edk: EncryptedDataKey }> {
  const m = await k.onEncrypt(encMaterials());
  return { key: m.plaintextDataKey as Buffer, edk: m.encryptedDataKeys[0] as EncryptedDataKey };
}
/** An aws-kms EDK that KMS decrypts to a 16-byte value: too short for suite 0x0478. */
async function shortEdk(keyId: string): Promise<EncryptedDataKey> {
  const r = await client.send(
    new EncryptCommand({ KeyId: keyId, Plaintext: randomBytes(16), EncryptionContext: context }),
  );
  return {
    providerId: 'aws-kms',
    providerInfo: Buffer.from(r.KeyId as string),
    encryptedDataKey: Buffer.from(r.CiphertextBlob as Uint8Array),
  };
}
/** A client whose `command` responses pass through `edit` before the keyring sees them. */
function answering(command: string, edit: (output: Record<string, unknown>) => void): KMSClient {
  const c = kms.client();
  c.middlewareStack.add(
    (next, ctx) => async (args) => {
      const r = await next(args);
      if (ctx.commandName === command) edit(r.output as unknown as Record<string, unknown>);
      return r;
    },
    { step: 'initialize', name: `edit${command}` },
  );
  return c;
}

describe('aws-kms-keyring.md#onencrypt', () => {
  it('If the input encryption materials do not contain a plaintext data key OnEncrypt MUST attempt to generate a new plaintext data key by calling AWS KMS GenerateDataKey.', async () => {
    const k = new KmsKeyring({ client, generatorKeyId: keyA, keyIds: [keyB] });
    let m: EncryptionMaterials | undefined;
    const calls = await kmsCalls(async () => {
      m = await k.onEncrypt(encMaterials());
    });
    expect(calls).toEqual([
      ['GenerateDataKey', keyA],
      ['Encrypt', keyB],
    ]);
    expect(m?.plaintextDataKey?.length).toBe(32);
    expect(m?.encryptedDataKeys.map((e) => [e.providerId, e.providerInfo.toString()])).toEqual([
      ['aws-kms', keyA],
      ['aws-kms', keyB],
    ]);
    // Both EDKs unwrap to the generated key.
    for (const keyId of [keyA, keyB]) {
      const back = await new KmsKeyring({ client, keyIds: [keyId] }).onDecrypt(
        decMaterials(),
        m?.encryptedDataKeys ?? [],
      );
      expect(back.plaintextDataKey?.equals(m?.plaintextDataKey as Buffer)).toBe(true);
    }
  });

  it("If the Generate Data Key call succeeds, OnEncrypt MUST verify that the response `Plaintext` length matches the specification of the algorithm suite's Key Derivation Input Length field.", async () => {
    const short = answering('GenerateDataKeyCommand', (o) => {
      o['Plaintext'] = (o['Plaintext'] as Uint8Array).subarray(0, 16);
    });
    const m = encMaterials();
    const e = await rejection(new KmsKeyring({ client: short, generatorKeyId: keyA }).onEncrypt(m));
    expect(InvalidOptionError.is(e)).toBe(true);
    expect((e as Error).message).toMatch(/wrong length/);
    expect(m.plaintextDataKey).toBeUndefined();
    expect(m.encryptedDataKeys).toEqual([]);
  });

  it('The Generate Data Key response’s `KeyId` MUST be a valid AWS KMS key ARN.', async () => {
    for (const keyId of [undefined, 'not-an-arn', keyA.replace(/key\/.*/, 'alias/app')]) {
      const odd = answering('GenerateDataKeyCommand', (o) => {
        o['KeyId'] = keyId;
      });
      const m = encMaterials();
      const e = await rejection(new KmsKeyring({ client: odd, generatorKeyId: keyA }).onEncrypt(m));
      expect((e as Error).message).toMatch(/no valid KeyId ARN/);
      expect(m.plaintextDataKey).toBeUndefined();
    }
  });

  it('If the input encryption materials do contain a plaintext data key, OnEncrypt MUST attempt to encrypt the plaintext data key using the configured AWS KMS key identifier.', async () => {
    const key = randomBytes(32);
    let m: EncryptionMaterials | undefined;
    const calls = await kmsCalls(async () => {
      m = await new KmsKeyring({ client, keyIds: [keyB] }).onEncrypt(encMaterials(key));
    });
    expect(calls).toEqual([['Encrypt', keyB]]);
    expect(m?.plaintextDataKey).toBe(key);
    const back = await new KmsKeyring({ client, keyIds: [keyB] }).onDecrypt(
      decMaterials(),
      m?.encryptedDataKeys ?? [],
    );
    expect(back.plaintextDataKey?.equals(key)).toBe(true);
  });

  it('If the Encrypt call succeeds the response’s `KeyId` MUST be A valid AWS KMS key ARN.', async () => {
    const odd = answering('EncryptCommand', (o) => {
      o['KeyId'] = 'alias/app';
    });
    const m = encMaterials(randomBytes(32));
    const e = await rejection(new KmsKeyring({ client: odd, keyIds: [keyB] }).onEncrypt(m));
    expect((e as Error).message).toMatch(/Encrypt response has no valid KeyId ARN/);
    expect(m.encryptedDataKeys).toEqual([]);
  });
});

describe('aws-kms-mrk-keyring.md#ondecrypt', () => {
  it('If the decryption materials already contained a valid plaintext data key OnDecrypt MUST immediately return the unmodified decryption materials.', async () => {
    const { edk } = await wrapped(new KmsKeyring({ client, generatorKeyId: keyA }));
    const held = randomBytes(32);
    const input = decMaterials(held);
    let out: DecryptionMaterials | undefined;
    const calls = await kmsCalls(async () => {
      out = await new KmsKeyring({ client, keyIds: [keyA] }).onDecrypt(input, [edk]);
    });
    expect(out).toBe(input);
    expect(input.plaintextDataKey).toBe(held);
    expect(calls).toEqual([]);
  });

  it('The set of encrypted data keys MUST first be filtered to match this keyring’s configuration.', async () => {
    const a = await wrapped(new KmsKeyring({ client, generatorKeyId: keyA }));
    const b = await wrapped(new KmsKeyring({ client, generatorKeyId: keyB }));
    let out: DecryptionMaterials | undefined;
    const calls = await kmsCalls(async () => {
      out = await new KmsKeyring({ client, keyIds: [keyB] }).onDecrypt(decMaterials(), [
        a.edk,
        b.edk,
      ]);
    });
    // keyA's EDK never reaches KMS.
    expect(calls).toEqual([['Decrypt', keyB]]);
    expect(out?.plaintextDataKey?.equals(b.key)).toBe(true);
  });

  it('Its provider ID MUST exactly match the value “aws-kms”.', async () => {
    const { edk } = await wrapped(new KmsKeyring({ client, generatorKeyId: keyA }));
    const k = new KmsKeyring({ client, keyIds: [keyA] });
    for (const providerId of ['aws-kms-x', 'AWS-KMS', 'aws-km', ' aws-kms']) {
      const m = decMaterials();
      let e: unknown;
      const calls = await kmsCalls(async () => {
        e = await rejection(k.onDecrypt(m, [{ ...edk, providerId }]));
      });
      expect(calls).toEqual([]);
      expect(DecryptionError.is(e)).toBe(true);
      expect(m.plaintextDataKey).toBeUndefined();
    }
  });

  it('The provider info MUST be a valid AWS KMS ARN with a resource type of `key` or OnDecrypt MUST fail.', async () => {
    const good = await wrapped(new KmsKeyring({ client, generatorKeyId: keyA }));
    const k = new KmsKeyring({ client, keyIds: [keyA] });
    const alias = keyA.replace(/key\/.*/, 'alias/app');
    for (const info of [alias, 'arn:aws:kms:us-east-1:111122223333', 'garbage', '']) {
      // The bad EDK comes first and fails the whole call, although a good EDK follows it.
      const bad = { ...good.edk, providerInfo: Buffer.from(info) };
      const m = decMaterials();
      let e: unknown;
      const calls = await kmsCalls(async () => {
        e = await rejection(k.onDecrypt(m, [bad, good.edk]));
      });
      expect(DecryptionError.is(e)).toBe(true);
      expect((e as Error).message).toMatch(/does not name an AWS KMS key ARN/);
      expect(calls).toEqual([]);
      expect(m.plaintextDataKey).toBeUndefined();
    }
    // An EDK of another key provider is not looked at, whatever its provider info.
    const other = {
      providerId: 'other',
      providerInfo: Buffer.from('garbage'),
      encryptedDataKey: good.edk.encryptedDataKey,
    };
    const ok = await k.onDecrypt(decMaterials(), [other, good.edk]);
    expect(ok.plaintextDataKey?.equals(good.key)).toBe(true);
  });

  it('The the function AWS KMS MRK Match for Decrypt called with the configured AWS KMS key identifier and the provider info MUST return `true`.', async () => {
    const { key, edk } = await wrapped(new KmsKeyring({ client, generatorKeyId: mrk }));
    const eu = kms.client({ region: 'eu-west-1' });
    let out: DecryptionMaterials | undefined;
    // The replica's ARN matches the EDK's ARN in another Region, and is the one called.
    const calls = await kmsCalls(async () => {
      out = await new KmsKeyring({ client: eu, keyIds: [keyB, mrkReplica] }).onDecrypt(
        decMaterials(),
        [edk],
      );
    });
    expect(calls).toEqual([['Decrypt', mrkReplica]]);
    expect(out?.plaintextDataKey?.equals(key)).toBe(true);
    // A single-Region key only matches itself.
    const single = await wrapped(new KmsKeyring({ client, generatorKeyId: keyA }));
    const elsewhere = keyA.replace('us-east-1', 'eu-west-1');
    const e = await rejection(
      new KmsKeyring({ client: eu, keyIds: [elsewhere] }).onDecrypt(decMaterials(), [single.edk]),
    );
    expect((e as Error).message).toMatch(/no encrypted data key matched/);
  });

  it('For each encrypted data key in the filtered set, one at a time, the OnDecrypt MUST attempt to decrypt the data key.', async () => {
    const first = await wrapped(new KmsKeyring({ client, generatorKeyId: keyA }));
    const second = await wrapped(new KmsKeyring({ client, generatorKeyId: keyA }));
    const broken = {
      ...first.edk,
      encryptedDataKey: randomBytes(first.edk.encryptedDataKey.length),
    };
    let out: DecryptionMaterials | undefined;
    const calls = await kmsCalls(async () => {
      out = await new KmsKeyring({ client, keyIds: [keyA] }).onDecrypt(decMaterials(), [
        broken,
        second.edk,
        first.edk,
      ]);
    });
    expect(calls).toEqual([
      ['Decrypt', keyA],
      ['Decrypt', keyA],
    ]);
    expect(out?.plaintextDataKey?.equals(second.key)).toBe(true);
  });

  it('If this attempt results in an error, then these errors MUST be collected.', async () => {
    const { edk } = await wrapped(new KmsKeyring({ client, generatorKeyId: keyA }));
    const broken = { ...edk, encryptedDataKey: randomBytes(edk.encryptedDataKey.length) };
    const e = await rejection(
      new KmsKeyring({ client, keyIds: [keyA] }).onDecrypt(
        { ...decMaterials(), encryptionContext: { purpose: 'another' } },
        [broken, edk],
      ),
    );
    expect(DecryptionError.is(e)).toBe(true);
    const errors = ((e as Error).cause as AggregateError).errors as Error[];
    expect(errors.map((x) => x.name)).toEqual([
      'InvalidCiphertextException',
      'InvalidCiphertextException',
    ]);
  });

  it('The `KeyId` field in the response MUST equal the configured AWS KMS key identifier.', async () => {
    const { edk } = await wrapped(new KmsKeyring({ client, generatorKeyId: keyA }));
    const odd = answering('DecryptCommand', (o) => {
      o['KeyId'] = keyB;
    });
    const e = await rejection(
      new KmsKeyring({ client: odd, keyIds: [keyA] }).onDecrypt(decMaterials(), [edk]),
    );
    expect(DecryptionError.is(e)).toBe(true);
    expect((e as Error).message).toMatch(/names another key than the one requested/);
  });

  it('The length of the response’s `Plaintext` MUST equal the key derivation input length specified by the algorithm suite included in the input decryption materials.', async () => {
    const m = decMaterials();
    const e = await rejection(
      new KmsKeyring({ client, keyIds: [keyA] }).onDecrypt(m, [await shortEdk(keyA)]),
    );
    expect(DecryptionError.is(e)).toBe(true);
    expect((e as Error).message).toMatch(/wrong length for the suite/);
    expect(m.plaintextDataKey).toBeUndefined();
  });

  it('If the response does not satisfies these requirements then an error MUST be collected and the next encrypted data key in the filtered set MUST be attempted.', async () => {
    const { key, edk } = await wrapped(new KmsKeyring({ client, generatorKeyId: keyA }));
    let out: DecryptionMaterials | undefined;
    const calls = await kmsCalls(async () => {
      out = await new KmsKeyring({ client, keyIds: [keyA] }).onDecrypt(decMaterials(), [
        await shortEdk(keyA),
        edk,
      ]);
    });
    expect(calls).toEqual([
      ['Encrypt', keyA],
      ['Decrypt', keyA],
      ['Decrypt', keyA],
    ]);
    expect(out?.plaintextDataKey?.equals(key)).toBe(true);
  });

  it('If OnDecrypt fails to successfully decrypt any encrypted data key, then it MUST yield an error that includes all the collected errors.', async () => {
    const k = new KmsKeyring({ client, keyIds: [keyA] });
    // Nothing matched: nothing was collected, and it still fails.
    const none = await rejection(k.onDecrypt(decMaterials(), []));
    expect(DecryptionError.is(none)).toBe(true);
    expect((none as Error).message).toMatch(/no encrypted data key matched/);
    // Two failures: both are in the message and in the cause.
    const { edk } = await wrapped(new KmsKeyring({ client, generatorKeyId: keyA }));
    const broken = { ...edk, encryptedDataKey: randomBytes(edk.encryptedDataKey.length) };
    const e = await rejection(k.onDecrypt(decMaterials(), [broken, await shortEdk(keyA)]));
    expect((e as Error).message).toMatch(
      /InvalidCiphertextException.*; DecryptionError: KMS Decrypt returned a data key of the wrong length/,
    );
    expect(((e as Error).cause as AggregateError).errors).toHaveLength(2);
    // Through decrypt(), the caller gets a DecryptionError caused by this one.
    const { ciphertext } = await encrypt('x', {
      keyring: new KmsKeyring({ client, generatorKeyId: keyB }),
      suite: 0x0478,
    });
    const top = await rejection(decrypt(ciphertext, { keyring: k }));
    expect(DecryptionError.is(top)).toBe(true);
    expect(((top as Error).cause as Error).message).toMatch(
      /^KmsKeyring: no encrypted data key could be decrypted/,
    );
  });
});
