import { afterEach, describe, expect, it } from 'vitest';
import {
  ConnectCustomKeyStoreCommand,
  CreateCustomKeyStoreCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  DisconnectCustomKeyStoreCommand,
  EncryptCommand,
  GenerateRandomCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { catchKmsError, fakeClock, startTestKms, type TestKms } from './support/index.js';

let kms: TestKms | undefined;
afterEach(async () => {
  await kms?.close();
  kms = undefined;
});

const store = (name: string, cluster = 'cluster-1234567890a') =>
  new CreateCustomKeyStoreCommand({
    CustomKeyStoreName: name,
    CloudHsmClusterId: cluster,
    TrustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
    KeyStorePassword: 'kmsuser-password',
  });

async function connectedStore(client: KMSClient): Promise<string> {
  const id = (await client.send(store('hsm'))).CustomKeyStoreId!;
  await client.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
  return id;
}

describe('custom key stores (simulated CloudHSM)', () => {
  it('create, connect, keys in the store, Unavailable while disconnected, delete only when empty', async () => {
    kms = await startTestKms({ quotas: false });
    const client = kms.client();
    const id = (await client.send(store('hsm'))).CustomKeyStoreId!;
    expect(id).toMatch(/^cks-[0-9a-f]{17}$/);
    const listed = await client.send(new DescribeCustomKeyStoresCommand({}));
    expect(listed.CustomKeyStores?.[0]).toMatchObject({
      CustomKeyStoreId: id,
      CustomKeyStoreName: 'hsm',
      ConnectionState: 'DISCONNECTED',
      CustomKeyStoreType: 'AWS_CLOUDHSM',
    });
    const early = await catchKmsError(
      client.send(new CreateKeyCommand({ CustomKeyStoreId: id, Origin: 'AWS_CLOUDHSM' })),
    );
    expect(early.name).toBe('CustomKeyStoreInvalidStateException');
    await client.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    const key = (
      await client.send(new CreateKeyCommand({ CustomKeyStoreId: id, Origin: 'AWS_CLOUDHSM' }))
    ).KeyMetadata!;
    expect(key).toMatchObject({
      CustomKeyStoreId: id,
      CloudHsmClusterId: 'cluster-1234567890a',
      Origin: 'AWS_CLOUDHSM',
      KeyState: 'Enabled',
    });
    const e = await client.send(
      new EncryptCommand({ KeyId: key.KeyId!, Plaintext: Buffer.from('hsm') }),
    );
    const d = await client.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob }));
    expect(Buffer.from(d.Plaintext!).toString()).toBe('hsm');

    await client.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    expect(
      (await client.send(new DescribeKeyCommand({ KeyId: key.KeyId! }))).KeyMetadata?.KeyState,
    ).toBe('Unavailable');
    const off = await catchKmsError(
      client.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob })),
    );
    expect(off.name).toBe('KMSInvalidStateException');
    const busy = await catchKmsError(
      client.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id })),
    );
    expect(busy.name).toBe('CustomKeyStoreHasCMKsException');
  });

  it('rejects unknown stores, taken names and clusters, and an Origin without a store', async () => {
    kms = await startTestKms({ quotas: false });
    const client = kms.client();
    await client.send(store('hsm'));
    expect((await catchKmsError(client.send(store('hsm', 'cluster-0000000000b')))).name).toBe(
      'CustomKeyStoreNameInUseException',
    );
    expect((await catchKmsError(client.send(store('other')))).name).toBe(
      'CloudHsmClusterInUseException',
    );
    expect(
      (
        await catchKmsError(
          client.send(new CreateKeyCommand({ CustomKeyStoreId: 'cks-00000000000000000' })),
        )
      ).name,
    ).toBe('CustomKeyStoreNotFoundException');
    expect(
      (await catchKmsError(client.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM' })))).name,
    ).toBe('ValidationException');
    const empty = (await client.send(store('spare', 'cluster-0000000000c'))).CustomKeyStoreId!;
    await client.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: empty }));
    expect(
      (
        await catchKmsError(
          client.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: empty })),
        )
      ).name,
    ).toBe('CustomKeyStoreNotFoundException');
  });

  it("crypto on a store's keys also debits custom-key-store/<id> (core's classifier charges)", async () => {
    const clock = fakeClock();
    const control = Object.fromEntries(
      ['CreateKey', 'CreateCustomKeyStore', 'ConnectCustomKeyStore'].map((op) => [
        `control/${op}`,
        50,
      ]),
    );
    // scale 0.002: the store's 1,800 rps becomes 3.6 (3 or 4 per second); symmetric in ca-central-1 is 20.
    kms = await startTestKms({ clock, quotas: { scale: 0.002, overrides: control } });
    const client = kms.client({ region: 'ca-central-1' });
    const id = await connectedStore(client);
    const inStore = (
      await client.send(new CreateKeyCommand({ CustomKeyStoreId: id, Origin: 'AWS_CLOUDHSM' }))
    ).KeyMetadata!.KeyId!;
    const plain = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    clock.advance(1000);
    const encrypt = (keyId: string) =>
      client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => encrypt(inStore)));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    expect(ok).toBeGreaterThanOrEqual(3);
    expect(ok).toBeLessThanOrEqual(4);
    // The plain key shares the symmetric pool (20) but not the store's: it is not throttled.
    await Promise.all(Array.from({ length: 5 }, () => encrypt(plain)));
    const s = kms.server.stats();
    expect(s.byPool[`custom-key-store/${id}`]).toMatchObject({ accepted: ok, throttled: 8 - ok });
    expect(s.byPool['symmetric']?.accepted).toBe(ok + 5);
    // GenerateRandom can draw from a connected store.
    clock.advance(1000);
    const r = await client.send(
      new GenerateRandomCommand({ NumberOfBytes: 16, CustomKeyStoreId: id }),
    );
    expect(r.Plaintext?.length).toBe(16);
  });
});
