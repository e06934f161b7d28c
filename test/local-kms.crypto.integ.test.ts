import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DisableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateRandomCommand,
  ReEncryptCommand,
  ScheduleKeyDeletionCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { catchKmsError, startTestKms, type TestKms } from './support/index.js';

let kms: TestKms;
let client: KMSClient;
let keyId: string;
let keyArn: string;
const DRY_RUN = 'The request would have succeeded, but the DryRun option is set.';
const MISSING = '00000000-0000-4000-8000-000000000000';

beforeAll(async () => {
  kms = await startTestKms({ quotas: false });
  client = kms.client();
  const m = (await client.send(new CreateKeyCommand({}))).KeyMetadata!;
  keyId = m.KeyId!;
  keyArn = m.Arn!;
  await client.send(new CreateAliasCommand({ AliasName: 'alias/crypto', TargetKeyId: keyId }));
});
afterAll(() => kms.close());

async function newKey(): Promise<string> {
  return (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
}

const text = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('utf8');

describe('Encrypt and Decrypt', () => {
  it('round-trips under every way of naming the key, with and without KeyId on Decrypt', async () => {
    for (const ref of [keyId, keyArn, 'alias/crypto', keyArn.replace(/key\/.*/, 'alias/crypto')]) {
      const e = await client.send(
        new EncryptCommand({
          KeyId: ref,
          Plaintext: Buffer.from('secret'),
          EncryptionContext: { k: 'v' },
        }),
      );
      expect(e.KeyId).toBe(keyArn);
      expect(e.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
      const d = await client.send(
        new DecryptCommand({ CiphertextBlob: e.CiphertextBlob, EncryptionContext: { k: 'v' } }),
      );
      expect(text(d.Plaintext)).toBe('secret');
      expect(d.KeyId).toBe(keyArn);
      expect(d.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
      const withKey = await client.send(
        new DecryptCommand({
          CiphertextBlob: e.CiphertextBlob,
          EncryptionContext: { k: 'v' },
          KeyId: ref,
        }),
      );
      expect(text(withKey.Plaintext)).toBe('secret');
    }
  });

  it('accepts 1 to 4,096 bytes of plaintext and rejects 0 and 4,097', async () => {
    for (const n of [1, 4096]) {
      const e = await client.send(
        new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(n, 7) }),
      );
      const d = await client.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob }));
      expect(d.Plaintext?.length).toBe(n);
    }
    const big = await catchKmsError(
      client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(4097) })),
    );
    expect(big.name).toBe('ValidationException');
    expect(big.message).toMatch(/less than or equal to 4096/);
    const empty = await catchKmsError(
      client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(0) })),
    );
    expect(empty.name).toBe('ValidationException');
  });

  it('a wrong or missing encryption context is InvalidCiphertextException', async () => {
    const e = await client.send(
      new EncryptCommand({
        KeyId: keyId,
        Plaintext: Buffer.from('x'),
        EncryptionContext: { a: '1', b: '2' },
      }),
    );
    for (const ctx of [undefined, { a: '1' }, { a: '1', b: '3' }, { a: '1', b: '2', c: '3' }]) {
      const err = await catchKmsError(
        client.send(
          new DecryptCommand({
            CiphertextBlob: e.CiphertextBlob,
            ...(ctx ? { EncryptionContext: ctx } : {}),
          }),
        ),
      );
      expect(err.name).toBe('InvalidCiphertextException');
      expect(err.$metadata.httpStatusCode).toBe(400);
    }
    // Same entries in another order are the same context.
    const ok = await client.send(
      new DecryptCommand({
        CiphertextBlob: e.CiphertextBlob,
        EncryptionContext: { b: '2', a: '1' },
      }),
    );
    expect(text(ok.Plaintext)).toBe('x');
  });

  it('any changed byte of the blob is InvalidCiphertextException', async () => {
    const e = await client.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('abc') }),
    );
    const blob = Buffer.from(e.CiphertextBlob!);
    for (let i = 0; i < blob.length; i++) {
      const bad = Buffer.from(blob);
      bad[i] = bad[i]! ^ 0x01;
      const err = await catchKmsError(client.send(new DecryptCommand({ CiphertextBlob: bad })));
      expect(err.name, `byte ${i}`).toBe('InvalidCiphertextException');
    }
    const short = await catchKmsError(
      client.send(new DecryptCommand({ CiphertextBlob: blob.subarray(0, 20) })),
    );
    expect(short.name).toBe('InvalidCiphertextException');
  });

  it('Decrypt with another key id is IncorrectKeyException; with an unknown one NotFoundException', async () => {
    const other = await newKey();
    const e = await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
    const wrong = await catchKmsError(
      client.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob, KeyId: other })),
    );
    expect(wrong.name).toBe('IncorrectKeyException');
    const missing = await catchKmsError(
      client.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob, KeyId: MISSING })),
    );
    expect(missing.name).toBe('NotFoundException');
  });

  it('a blob from another region does not decrypt there', async () => {
    const e = await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
    const west = kms.client({ region: 'eu-west-1' });
    const err = await catchKmsError(
      west.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob })),
    );
    expect(err.name).toBe('InvalidCiphertextException');
  });

  it('disabled and pending-deletion keys neither encrypt nor decrypt', async () => {
    const id = await newKey();
    const e = await client.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') }));
    await client.send(new DisableKeyCommand({ KeyId: id }));
    expect(
      (await catchKmsError(client.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob }))))
        .name,
    ).toBe('DisabledException');
    const id2 = await newKey();
    const e2 = await client.send(new EncryptCommand({ KeyId: id2, Plaintext: Buffer.from('x') }));
    await client.send(new ScheduleKeyDeletionCommand({ KeyId: id2 }));
    expect(
      (await catchKmsError(client.send(new DecryptCommand({ CiphertextBlob: e2.CiphertextBlob }))))
        .name,
    ).toBe('KMSInvalidStateException');
    expect(
      (
        await catchKmsError(
          client.send(new GenerateDataKeyCommand({ KeyId: id2, KeySpec: 'AES_256' })),
        )
      ).name,
    ).toBe('KMSInvalidStateException');
  });

  it('rejects an asymmetric algorithm for a symmetric key and an unknown key', async () => {
    const alg = await catchKmsError(
      client.send(
        new EncryptCommand({
          KeyId: keyId,
          Plaintext: Buffer.from('x'),
          EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        }),
      ),
    );
    expect(alg.name).toBe('InvalidKeyUsageException');
    const nf = await catchKmsError(
      client.send(new EncryptCommand({ KeyId: MISSING, Plaintext: Buffer.from('x') })),
    );
    expect(nf.name).toBe('NotFoundException');
  });
});

describe('DryRun', () => {
  it('answers 412 DryRunOperationException when the call would succeed, and the real error otherwise', async () => {
    const e = await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
    const calls: (() => Promise<unknown>)[] = [
      () =>
        client.send(
          new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x'), DryRun: true }),
        ),
      () => client.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob, DryRun: true })),
      () =>
        client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', DryRun: true })),
      () =>
        client.send(
          new GenerateDataKeyWithoutPlaintextCommand({
            KeyId: keyId,
            KeySpec: 'AES_256',
            DryRun: true,
          }),
        ),
      () =>
        client.send(
          new ReEncryptCommand({
            CiphertextBlob: e.CiphertextBlob,
            DestinationKeyId: keyId,
            DryRun: true,
          }),
        ),
    ];
    for (const call of calls) {
      const err = await catchKmsError(call());
      expect(err.name).toBe('DryRunOperationException');
      expect(err.message).toBe(DRY_RUN);
      expect(err.$metadata.httpStatusCode).toBe(412);
    }
    const nf = await catchKmsError(
      client.send(
        new EncryptCommand({ KeyId: MISSING, Plaintext: Buffer.from('x'), DryRun: true }),
      ),
    );
    expect(nf.name).toBe('NotFoundException');
  });
});

describe('GenerateDataKey and GenerateDataKeyWithoutPlaintext', () => {
  it('returns a data key whose blob decrypts to the same plaintext', async () => {
    const g = await client.send(
      new GenerateDataKeyCommand({
        KeyId: 'alias/crypto',
        KeySpec: 'AES_256',
        EncryptionContext: { p: 'q' },
      }),
    );
    expect(g.Plaintext?.length).toBe(32);
    expect(g.KeyId).toBe(keyArn);
    const d = await client.send(
      new DecryptCommand({ CiphertextBlob: g.CiphertextBlob, EncryptionContext: { p: 'q' } }),
    );
    expect(Buffer.from(d.Plaintext!).equals(Buffer.from(g.Plaintext!))).toBe(true);
    const g16 = await client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_128' }));
    expect(g16.Plaintext?.length).toBe(16);
    const n = await client.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 1024 }));
    expect(n.Plaintext?.length).toBe(1024);
  });

  it('WithoutPlaintext returns only the blob, which decrypts to 32 bytes', async () => {
    const g = await client.send(
      new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, KeySpec: 'AES_256' }),
    );
    expect((g as { Plaintext?: unknown }).Plaintext).toBeUndefined();
    expect(g.KeyId).toBe(keyArn);
    const d = await client.send(new DecryptCommand({ CiphertextBlob: g.CiphertextBlob }));
    expect(d.Plaintext?.length).toBe(32);
  });

  it('needs exactly one of KeySpec and NumberOfBytes, within 1..1024', async () => {
    const cases = [
      new GenerateDataKeyCommand({ KeyId: keyId }),
      new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', NumberOfBytes: 32 }),
      new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 0 }),
      new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 1025 }),
    ];
    for (const c of cases)
      expect((await catchKmsError(client.send(c))).name).toBe('ValidationException');
    expect(
      (
        await catchKmsError(
          client.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId })),
        )
      ).name,
    ).toBe('ValidationException');
    expect(
      (
        await catchKmsError(
          client.send(new GenerateDataKeyCommand({ KeyId: MISSING, KeySpec: 'AES_256' })),
        )
      ).name,
    ).toBe('NotFoundException');
  });
});

describe('ReEncrypt', () => {
  it('moves a ciphertext to another key and context', async () => {
    const dest = await newKey();
    const e = await client.send(
      new EncryptCommand({
        KeyId: keyId,
        Plaintext: Buffer.from('move me'),
        EncryptionContext: { s: '1' },
      }),
    );
    const r = await client.send(
      new ReEncryptCommand({
        CiphertextBlob: e.CiphertextBlob,
        SourceEncryptionContext: { s: '1' },
        DestinationKeyId: dest,
        DestinationEncryptionContext: { d: '2' },
      }),
    );
    expect(r.SourceKeyId).toBe(keyArn);
    expect(r.KeyId).toContain(dest);
    expect(r.SourceEncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
    const d = await client.send(
      new DecryptCommand({ CiphertextBlob: r.CiphertextBlob, EncryptionContext: { d: '2' } }),
    );
    expect(text(d.Plaintext)).toBe('move me');
    expect(d.KeyId).toContain(dest);
    const bad = await catchKmsError(
      client.send(
        new ReEncryptCommand({ CiphertextBlob: e.CiphertextBlob, DestinationKeyId: dest }),
      ),
    );
    expect(bad.name).toBe('InvalidCiphertextException');
    const wrongSource = await catchKmsError(
      client.send(
        new ReEncryptCommand({
          CiphertextBlob: e.CiphertextBlob,
          SourceEncryptionContext: { s: '1' },
          SourceKeyId: dest,
          DestinationKeyId: dest,
        }),
      ),
    );
    expect(wrongSource.name).toBe('IncorrectKeyException');
    const noDest = await catchKmsError(
      client.send(
        new ReEncryptCommand({
          CiphertextBlob: e.CiphertextBlob,
          SourceEncryptionContext: { s: '1' },
          DestinationKeyId: MISSING,
        }),
      ),
    );
    expect(noDest.name).toBe('NotFoundException');
  });
});

describe('GenerateRandom', () => {
  it('returns NumberOfBytes random bytes, 1..1024', async () => {
    const a = await client.send(new GenerateRandomCommand({ NumberOfBytes: 64 }));
    const b = await client.send(new GenerateRandomCommand({ NumberOfBytes: 64 }));
    expect(a.Plaintext?.length).toBe(64);
    expect(Buffer.from(a.Plaintext!).equals(Buffer.from(b.Plaintext!))).toBe(false);
    for (const n of [0, 1025]) {
      expect(
        (await catchKmsError(client.send(new GenerateRandomCommand({ NumberOfBytes: n })))).name,
      ).toBe('ValidationException');
    }
    expect(
      (
        await catchKmsError(
          client.send(new GenerateRandomCommand({ NumberOfBytes: 8, CustomKeyStoreId: 'cks-1' })),
        )
      ).name,
    ).toBe('CustomKeyStoreNotFoundException');
  });
});
