/**
 * The discovery keyring against framework/aws-kms/aws-kms-mrk-discovery-keyring.md (0.2.2): each test is
 * named with the MUST sentence it checks, as quoted above the code in KmsDiscoveryKeyring.ts. Every call
 * goes through the real `@aws-sdk/client-kms` over HTTP to a real local-kms; what reached KMS is read
 * from local-kms's audit log. The only stand-in is an SDK middleware that edits a Decrypt response, for
 * the sentence about a KMS that answers for another key (which a correct KMS never does).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KMSClient } from '@aws-sdk/client-kms';
import { startTestKms, type TestKms } from '../../../../test/support/index.js';
import { DecryptionError } from '../errors.js';
import type { EncryptedDataKey } from '../format/header.js';
import { KmsDiscoveryKeyring } from './KmsDiscoveryKeyring.js';
import { KmsKeyring } from './KmsKeyring.js';
import type { DecryptionMaterials } from './types.js';
import {
  materialsFor,
  multiRegionKey,
  newKey,
  rejection,
  kmsCalls as auditedCalls,
} from './keyrings.testkit.js';

const context = { purpose: 'discovery spec' };
const ACCOUNT = '111122223333';

let kms: TestKms;
let client: KMSClient;
let eu: KMSClient;
let keyA: string;
let keyEu: string;
let mrk: string;
let mrkReplica: string;

beforeAll(async () => {
  kms = await startTestKms({ quotas: false, auditLog: true });
  client = kms.client();
  eu = kms.client({ region: 'eu-west-1' });
  keyA = await newKey(client);
  keyEu = await newKey(eu);
  ({ mrk, replica: mrkReplica } = await multiRegionKey(client, 'eu-west-1'));
});
afterAll(async () => {
  await kms?.close();
});

const { encMaterials, decMaterials } = materialsFor(context);
const kmsCalls = (run: () => Promise<unknown>): Promise<Array<[string, unknown]>> =>
  auditedCalls(kms, run);
/** A data key and the EDK that `keyId` (through `c`) wrapped it in. */
async function wrapped(keyId: string, c = client): Promise<{ key: Buffer; edk: EncryptedDataKey }> {
  const m = await new KmsKeyring({ client: c, generatorKeyId: keyId }).onEncrypt(encMaterials());
  return { key: m.plaintextDataKey as Buffer, edk: m.encryptedDataKeys[0] as EncryptedDataKey };
}
const filter = (partition: string, accountIds: string[]) => ({ partition, accountIds });

describe('aws-kms-mrk-discovery-keyring.md#initialization', () => {
  it('They keyring MUST fail initialization if any required parameters are missing or null.', () => {
    expect(() => new KmsDiscoveryKeyring({ client: undefined as unknown as KMSClient })).toThrow(
      /client is required/,
    );
    expect(() => new KmsDiscoveryKeyring({ client: null as unknown as KMSClient })).toThrow(
      /client is required/,
    );
    expect(new KmsDiscoveryKeyring({ client }).discoveryFilter).toBeUndefined();
  });
});

describe('aws-kms-mrk-discovery-keyring.md#onencrypt', () => {
  it('This function MUST fail.', async () => {
    const m = encMaterials();
    let e: unknown;
    const calls = await kmsCalls(async () => {
      e = await rejection(new KmsDiscoveryKeyring({ client }).onEncrypt(m));
    });
    expect((e as Error).message).toMatch(/cannot encrypt/);
    expect(calls).toEqual([]);
    expect(m.plaintextDataKey).toBeUndefined();
    expect(m.encryptedDataKeys).toEqual([]);
  });
});

describe('aws-kms-mrk-discovery-keyring.md#ondecrypt', () => {
  it('If the decryption materials already contained a valid plaintext data key, they keyring MUST fail and MUST NOT modify the decryption materials.', async () => {
    const { edk } = await wrapped(keyA);
    const held = randomBytes(32);
    const m = decMaterials(held);
    let e: unknown;
    const calls = await kmsCalls(async () => {
      e = await rejection(new KmsDiscoveryKeyring({ client }).onDecrypt(m, [edk]));
    });
    expect(DecryptionError.is(e)).toBe(true);
    expect(m.plaintextDataKey).toBe(held);
    expect(calls).toEqual([]);
  });

  it('The set of encrypted data keys MUST first be filtered to match this keyring’s configuration.', async () => {
    const a = await wrapped(keyA);
    const raw = {
      providerId: 'raw',
      providerInfo: Buffer.from('k'),
      encryptedDataKey: randomBytes(40),
    };
    const foreign = { ...a.edk, providerInfo: Buffer.from(keyA.replace(ACCOUNT, '444455556666')) };
    let out: DecryptionMaterials | undefined;
    const calls = await kmsCalls(async () => {
      out = await new KmsDiscoveryKeyring({
        client,
        discoveryFilter: filter('aws', [ACCOUNT]),
      }).onDecrypt(decMaterials(), [raw, foreign, a.edk]);
    });
    expect(calls).toEqual([['Decrypt', keyA]]);
    expect(out?.plaintextDataKey?.equals(a.key)).toBe(true);
  });

  it('Its provider ID MUST exactly match the value “aws-kms”.', async () => {
    const { edk } = await wrapped(keyA);
    for (const providerId of ['aws-kms-x', 'AWS-KMS', 'aws-km']) {
      let e: unknown;
      const calls = await kmsCalls(async () => {
        e = await rejection(
          new KmsDiscoveryKeyring({ client }).onDecrypt(decMaterials(), [{ ...edk, providerId }]),
        );
      });
      expect(calls).toEqual([]);
      expect((e as Error).message).toMatch(/no encrypted data key matched/);
    }
  });

  it('The provider info MUST be a valid AWS KMS ARN with a resource type of `key` or OnDecrypt MUST fail.', async () => {
    const good = await wrapped(keyA);
    const alias = keyA.replace(/key\/.*/, 'alias/app');
    for (const info of [alias, 'arn:aws:kms:us-east-1:111122223333', 'mrk-123', '']) {
      const m = decMaterials();
      let e: unknown;
      const calls = await kmsCalls(async () => {
        e = await rejection(
          new KmsDiscoveryKeyring({ client }).onDecrypt(m, [
            { ...good.edk, providerInfo: Buffer.from(info) },
            good.edk,
          ]),
        );
      });
      expect(DecryptionError.is(e)).toBe(true);
      expect((e as Error).message).toMatch(/does not name an AWS KMS key ARN/);
      expect(calls).toEqual([]);
      expect(m.plaintextDataKey).toBeUndefined();
    }
  });

  it('If a discovery filter is configured, its partition and the provider info partition MUST match.', async () => {
    const { key, edk } = await wrapped(keyA);
    const inCn = { ...edk, providerInfo: Buffer.from(keyA.replace(':aws:', ':aws-cn:')) };
    const k = new KmsDiscoveryKeyring({ client, discoveryFilter: filter('aws-cn', [ACCOUNT]) });
    const calls = await kmsCalls(async () => {
      const e = await rejection(k.onDecrypt(decMaterials(), [edk]));
      expect((e as Error).message).toMatch(/no encrypted data key matched/);
    });
    expect(calls).toEqual([]);
    // The aws-cn EDK passes the filter and reaches KMS (which has no such key).
    const e = await rejection(k.onDecrypt(decMaterials(), [inCn]));
    expect(((e as Error).cause as AggregateError).errors).toHaveLength(1);
    const ok = await new KmsDiscoveryKeyring({
      client,
      discoveryFilter: filter('aws', [ACCOUNT]),
    }).onDecrypt(decMaterials(), [edk]);
    expect(ok.plaintextDataKey?.equals(key)).toBe(true);
  });

  it('If a discovery filter is configured, its set of accounts MUST contain the provider info account.', async () => {
    const { key, edk } = await wrapped(keyA);
    const calls = await kmsCalls(async () => {
      const e = await rejection(
        new KmsDiscoveryKeyring({
          client,
          discoveryFilter: filter('aws', ['444455556666', '777788889999']),
        }).onDecrypt(decMaterials(), [edk]),
      );
      expect((e as Error).message).toMatch(/no encrypted data key matched/);
    });
    expect(calls).toEqual([]);
    const ok = await new KmsDiscoveryKeyring({
      client,
      discoveryFilter: filter('aws', ['444455556666', ACCOUNT]),
    }).onDecrypt(decMaterials(), [edk]);
    expect(ok.plaintextDataKey?.equals(key)).toBe(true);
  });

  it('If the provider info is not identified as a multi-Region key, then the provider info’s Region MUST match the AWS KMS client region.', async () => {
    const { key, edk } = await wrapped(keyEu, eu);
    const calls = await kmsCalls(async () => {
      const e = await rejection(
        new KmsDiscoveryKeyring({ client }).onDecrypt(decMaterials(), [edk]),
      );
      expect((e as Error).message).toMatch(/no encrypted data key matched/);
    });
    expect(calls).toEqual([]);
    const ok = await new KmsDiscoveryKeyring({ client: eu }).onDecrypt(decMaterials(), [edk]);
    expect(ok.plaintextDataKey?.equals(key)).toBe(true);
  });

  it('If the provider info’s resource type is `key` and its resource is a multi-Region key then a new ARN MUST be created where the region part MUST equal the AWS KMS client region and every other part MUST equal the provider info. Otherwise it MUST be the provider info.', async () => {
    const m = await wrapped(mrk);
    let out: DecryptionMaterials | undefined;
    const calls = await kmsCalls(async () => {
      out = await new KmsDiscoveryKeyring({ client: eu }).onDecrypt(decMaterials(), [m.edk]);
    });
    expect(calls).toEqual([['Decrypt', mrkReplica]]);
    expect(out?.plaintextDataKey?.equals(m.key)).toBe(true);
    const single = await wrapped(keyA);
    const singleCalls = await kmsCalls(() =>
      new KmsDiscoveryKeyring({ client }).onDecrypt(decMaterials(), [single.edk]),
    );
    expect(singleCalls).toEqual([['Decrypt', keyA]]);
  });

  it('For each encrypted data key in the filtered set, one at a time, the OnDecrypt MUST attempt to decrypt the data key.', async () => {
    const first = await wrapped(keyA);
    const second = await wrapped(mrk);
    const broken = {
      ...first.edk,
      encryptedDataKey: randomBytes(first.edk.encryptedDataKey.length),
    };
    let out: DecryptionMaterials | undefined;
    const calls = await kmsCalls(async () => {
      out = await new KmsDiscoveryKeyring({ client }).onDecrypt(decMaterials(), [
        broken,
        second.edk,
        first.edk,
      ]);
    });
    expect(calls).toEqual([
      ['Decrypt', keyA],
      ['Decrypt', mrk],
    ]);
    expect(out?.plaintextDataKey?.equals(second.key)).toBe(true);
  });

  it('The `KeyId` field in the response MUST equal the requested `KeyId`', async () => {
    const { edk } = await wrapped(keyA);
    const odd = kms.client();
    odd.middlewareStack.add(
      (next, ctx) => async (args) => {
        const r = await next(args);
        if (ctx.commandName === 'DecryptCommand')
          (r.output as { KeyId?: string }).KeyId = mrkReplica;
        return r;
      },
      { step: 'initialize', name: 'editDecrypt' },
    );
    const e = await rejection(
      new KmsDiscoveryKeyring({ client: odd }).onDecrypt(decMaterials(), [edk]),
    );
    expect(DecryptionError.is(e)).toBe(true);
    expect((e as Error).message).toMatch(/names another key than the one requested/);
  });

  it('If OnDecrypt fails to successfully decrypt any encrypted data key, then it MUST yield an error that includes all collected errors.', async () => {
    const a = await wrapped(keyA);
    const b = await wrapped(mrk);
    const k = new KmsDiscoveryKeyring({ client });
    const none = await rejection(k.onDecrypt(decMaterials(), []));
    expect(DecryptionError.is(none)).toBe(true);
    const e = await rejection(
      k.onDecrypt({ ...decMaterials(), encryptionContext: { purpose: 'another' } }, [a.edk, b.edk]),
    );
    expect(DecryptionError.is(e)).toBe(true);
    expect((e as Error).message).toMatch(
      /^KmsDiscoveryKeyring: no encrypted data key could be decrypted \(InvalidCiphertextException: .*; InvalidCiphertextException: /,
    );
    expect(((e as Error).cause as AggregateError).errors).toHaveLength(2);
  });
});
