/**
 * Interop both ways with @aws-crypto/client-node: messages we write, the ESDK decrypts; messages the ESDK
 * writes, we decrypt. Raw AES keyrings offline, and AWS KMS keyrings through local-kms.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AlgorithmSuiteIdentifier,
  CommitmentPolicy,
  KmsKeyringNode,
  MultiKeyringNode,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
  buildClient,
} from '@aws-crypto/client-node';
import { CreateKeyCommand, KMS, ReplicateKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import {
  KmsDiscoveryKeyring,
  KmsKeyring,
  MultiKeyring,
  RawAesKeyring,
  decrypt,
  decryptStream,
  encrypt,
  encryptStream,
  type EncryptSuiteId,
} from '@steadykms/envelope';
import { withSteadyKms } from '@steadykms/core';
import { localKmsClientConfig, startTestKms, type TestKms } from './support/index.js';

const esdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
const SUITE_IDS: Record<EncryptSuiteId, AlgorithmSuiteIdentifier> = {
  0x0478: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
  0x0578: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
};

const wrapping = [randomBytes(32), randomBytes(32)] as const;
const oursFor = (i: 0 | 1): RawAesKeyring =>
  new RawAesKeyring({ keyNamespace: 'interop', keyName: `aes-${i}`, wrappingKey: wrapping[i] });
const theirsFor = (i: 0 | 1): RawAesKeyringNode =>
  new RawAesKeyringNode({
    keyNamespace: 'interop',
    keyName: `aes-${i}`,
    unencryptedMasterKey: new Uint8Array(wrapping[i]),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
const ours = [oursFor(0), oursFor(1)] as const;
const theirs = [theirsFor(0), theirsFor(1)] as const;
const CONTEXT = { purpose: 'interop', ключ: 'значение', 键: '值 ✓' };

const FL = 256;
const sizes: Array<[string, number, number]> = [
  ['empty plaintext', 0, FL],
  ['plaintext exactly one frame', FL, FL],
  ['plaintext exactly 3 frames', 3 * FL, FL],
  ['plaintext of 3 frames and a bit', 3 * FL + 7, FL],
  ['frame length 1', 37, 1],
  ['default frame length, 10,000 bytes', 10_000, 4096],
];

describe.each([
  ['0478', 0x0478],
  ['0578', 0x0578],
] as Array<[string, EncryptSuiteId]>)('raw AES, suite 0x%s', (_hex, suite) => {
  it.each(sizes)('steadykms → ESDK: %s', async (_name, n, frameLength) => {
    const pt = randomBytes(n);
    const { ciphertext } = await encrypt(pt, {
      keyring: ours[0],
      suite,
      frameLength,
      encryptionContext: CONTEXT,
    });
    const r = await esdk.decrypt(theirs[0], ciphertext);
    expect(Buffer.from(r.plaintext).equals(pt)).toBe(true);
    expect(r.messageHeader.encryptionContext).toMatchObject(CONTEXT);
    expect(r.messageHeader.suiteId).toBe(suite);
  });

  it.each(sizes)('ESDK → steadykms: %s', async (_name, n, frameLength) => {
    const pt = randomBytes(n);
    const { result } = await esdk.encrypt(theirs[0], pt, {
      suiteId: SUITE_IDS[suite],
      frameLength,
      encryptionContext: CONTEXT,
    });
    const r = await decrypt(result, {
      keyring: ours[0],
      encryptionContext: CONTEXT,
    });
    expect(r.plaintext.equals(pt)).toBe(true);
    expect(r.suiteId).toBe(suite);
  });

  it('multiple data keys: either key decrypts, both ways', async () => {
    const pt = randomBytes(1000);
    const { ciphertext } = await encrypt(pt, {
      keyring: new MultiKeyring({ generator: ours[0], children: [ours[1]] }),
      suite,
    });
    expect(Buffer.from((await esdk.decrypt(theirs[1], ciphertext)).plaintext).equals(pt)).toBe(
      true,
    );
    const { result } = await esdk.encrypt(
      new MultiKeyringNode({ generator: theirs[0], children: [theirs[1]] }),
      pt,
      { suiteId: SUITE_IDS[suite] },
    );
    expect((await decrypt(result, { keyring: ours[1] })).plaintext.equals(pt)).toBe(true);
  });

  it('10 MiB streams both ways', async () => {
    const pt = randomBytes(10 * 1024 * 1024);
    const source = (): Readable =>
      Readable.from(
        (function* () {
          for (let o = 0; o < pt.length; o += 65536) yield pt.subarray(o, o + 65536);
        })(),
      );
    const collect = async (r: NodeJS.ReadableStream): Promise<Buffer> => {
      const parts: Buffer[] = [];
      for await (const c of r) parts.push(c as Buffer);
      return Buffer.concat(parts);
    };
    // Ours → theirs.
    const ct = await collect(
      source().pipe(encryptStream({ keyring: ours[0], suite, encryptionContext: CONTEXT })),
    );
    const theirDecrypt =
      suite === 0x0578
        ? esdk.decryptStream(theirs[0])
        : esdk.decryptUnsignedMessageStream(theirs[0]);
    const back = await collect(Readable.from([ct]).pipe(theirDecrypt));
    expect(back.equals(pt)).toBe(true);
    // Theirs → ours (no plaintextLength given to the ESDK's encryptStream).
    const ct2 = await collect(
      source().pipe(
        esdk.encryptStream(theirs[0], {
          suiteId: SUITE_IDS[suite],
          encryptionContext: CONTEXT,
        }),
      ),
    );
    const ourDecrypt = decryptStream({ keyring: ours[0] });
    const [back2] = await Promise.all([
      collect(ourDecrypt),
      pipeline(Readable.from([ct2]), ourDecrypt),
    ]);
    expect(back2.equals(pt)).toBe(true);
  }, 60_000);
});

describe('negative: ESDK-written messages', () => {
  it('every byte of a small ESDK message flipped one at a time is rejected', async () => {
    const { result } = await esdk.encrypt(theirs[0], 'small message', {
      suiteId: SUITE_IDS[0x0578],
      frameLength: 8,
      encryptionContext: { a: 'b' },
    });
    const ct = Buffer.from(result);
    for (let i = 0; i < ct.length; i++) {
      const bad = Buffer.from(ct);
      bad[i] = (bad[i] as number) ^ 0x80;
      const e = await decrypt(bad, { keyring: ours[0] }).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(['DecryptionError', 'MessageFormatError'], `byte ${i}`).toContain(
        (e as Error | undefined)?.name,
      );
    }
  });
});

describe('AWS KMS keyrings through local-kms', () => {
  let kms: TestKms;
  let client: KMSClient;
  let esdkKms: KMS;
  let keyA: string;
  let keyB: string;

  beforeAll(async () => {
    kms = await startTestKms({ quotas: false });
    client = kms.client();
    esdkKms = new KMS(localKmsClientConfig(kms.url));
    keyA = (await client.send(new CreateKeyCommand({}))).KeyMetadata?.Arn as string;
    keyB = (await client.send(new CreateKeyCommand({}))).KeyMetadata?.Arn as string;
  });
  afterAll(async () => {
    esdkKms?.destroy();
    await kms?.close();
  });

  const theirKeyring = (
    generatorKeyId: string | undefined,
    keyIds: string[] = [],
  ): KmsKeyringNode =>
    new KmsKeyringNode({
      ...(generatorKeyId ? { generatorKeyId } : {}),
      keyIds,
      clientProvider: (() => esdkKms) as never,
    });

  it.each([
    ['0478', 0x0478],
    ['0578', 0x0578],
  ] as Array<[string, EncryptSuiteId]>)(
    'steadykms → ESDK and back, generator plus an additional key, suite 0x%s',
    async (_hex, suite) => {
      const pt = randomBytes(5000);
      const { ciphertext } = await encrypt(pt, {
        keyring: new KmsKeyring({ client, generatorKeyId: keyA, keyIds: [keyB] }),
        suite,
        encryptionContext: CONTEXT,
      });
      // The ESDK decrypts with only the additional key.
      const r = await esdk.decrypt(theirKeyring(undefined, [keyB]), ciphertext);
      expect(Buffer.from(r.plaintext).equals(pt)).toBe(true);
      const { result } = await esdk.encrypt(theirKeyring(keyA, [keyB]), pt, {
        suiteId: SUITE_IDS[suite],
        encryptionContext: CONTEXT,
      });
      expect(
        (
          await decrypt(result, { keyring: new KmsKeyring({ client, keyIds: [keyB] }) })
        ).plaintext.equals(pt),
      ).toBe(true);
      expect(
        (
          await decrypt(result, {
            keyring: new KmsDiscoveryKeyring({
              client,
              discoveryFilter: { partition: 'aws', accountIds: [keyA.split(':')[4] as string] },
            }),
          })
        ).plaintext.equals(pt),
      ).toBe(true);
    },
  );

  it('multi-Region keys: a replica in another Region decrypts, by configured ARN and by discovery', async () => {
    const mrk = (await client.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata
      ?.Arn as string;
    const replica = (
      await client.send(new ReplicateKeyCommand({ KeyId: mrk, ReplicaRegion: 'eu-west-1' }))
    ).ReplicaKeyMetadata?.Arn as string;
    expect(replica).toContain(':eu-west-1:');
    const eu = kms.client({ region: 'eu-west-1' });
    const pt = randomBytes(100);
    const { ciphertext } = await encrypt(pt, {
      keyring: new KmsKeyring({ client, generatorKeyId: mrk }),
      suite: 0x0478,
    });
    expect(
      (
        await decrypt(ciphertext, { keyring: new KmsKeyring({ client: eu, keyIds: [replica] }) })
      ).plaintext.equals(pt),
    ).toBe(true);
    const account = mrk.split(':')[4] as string;
    expect(
      (
        await decrypt(ciphertext, {
          keyring: new KmsDiscoveryKeyring({
            client: eu,
            discoveryFilter: { partition: 'aws', accountIds: [account] },
          }),
        })
      ).plaintext.equals(pt),
    ).toBe(true);
  });

  it('every KMS call goes through the client given, with the steadykms plugin attached', async () => {
    const paced = withSteadyKms(kms.client());
    const pt = randomBytes(300);
    const { ciphertext } = await encrypt(pt, {
      keyring: new KmsKeyring({ client: paced, generatorKeyId: keyA, keyIds: [keyB] }),
      suite: 0x0578,
    });
    expect(
      Buffer.from((await esdk.decrypt(theirKeyring(keyA), ciphertext)).plaintext).equals(pt),
    ).toBe(true);
    expect(
      (
        await decrypt(ciphertext, { keyring: new KmsKeyring({ client: paced, keyIds: [keyB] }) })
      ).plaintext.equals(pt),
    ).toBe(true);
  });

  it('the discovery filter refuses keys of other accounts', async () => {
    const { ciphertext } = await encrypt('x', {
      keyring: new KmsKeyring({ client, generatorKeyId: keyA }),
      suite: 0x0478,
    });
    const e = await decrypt(ciphertext, {
      keyring: new KmsDiscoveryKeyring({
        client,
        discoveryFilter: { partition: 'aws', accountIds: ['000000000000'] },
      }),
    }).catch((x: unknown) => x);
    expect((e as Error).name).toBe('DecryptionError');
  });
});
