import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  ReplicateKeyCommand,
  RotateKeyOnDemandCommand,
  UpdatePrimaryRegionCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { catchKmsError, fakeClock, startTestKms, type TestKms } from './support/index.js';

const clock = fakeClock();
let kms: TestKms;
let east: KMSClient;
let west: KMSClient;

beforeAll(async () => {
  kms = await startTestKms({ clock, quotas: { overrides: { 'control/CreateKey': 3 } } });
  east = kms.client({ region: 'us-east-1' });
  west = kms.client({ region: 'eu-west-1' });
});
afterAll(() => kms.close());

async function mrk(): Promise<{ id: string; arn: string }> {
  clock.advance(1000);
  const m = (await east.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!;
  return { id: m.KeyId!, arn: m.Arn! };
}

describe('multi-Region keys', () => {
  it('a replica shares id and material: ciphertexts from the primary decrypt in the replica region', async () => {
    const { id, arn } = await mrk();
    expect(id).toMatch(/^mrk-[0-9a-f]{32}$/);
    const primary = (await east.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    expect(primary.MultiRegion).toBe(true);
    expect(primary.MultiRegionConfiguration).toEqual({
      MultiRegionKeyType: 'PRIMARY',
      PrimaryKey: { Arn: arn, Region: 'us-east-1' },
      ReplicaKeys: [],
    });
    const r = await east.send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'eu-west-1' }));
    expect(r.ReplicaKeyMetadata?.Arn).toBe(arn.replace('us-east-1', 'eu-west-1'));
    expect(r.ReplicaKeyMetadata?.MultiRegionConfiguration?.MultiRegionKeyType).toBe('REPLICA');
    expect(JSON.parse(r.ReplicaPolicy!)).toHaveProperty('Statement');
    const after = (await east.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    expect(after.MultiRegionConfiguration?.ReplicaKeys).toEqual([
      { Arn: arn.replace('us-east-1', 'eu-west-1'), Region: 'eu-west-1' },
    ]);

    const e = await east.send(
      new EncryptCommand({
        KeyId: id,
        Plaintext: Buffer.from('anywhere'),
        EncryptionContext: { x: 'y' },
      }),
    );
    const d = await west.send(
      new DecryptCommand({ CiphertextBlob: e.CiphertextBlob, EncryptionContext: { x: 'y' } }),
    );
    expect(Buffer.from(d.Plaintext!).toString()).toBe('anywhere');
    expect(d.KeyId).toBe(arn.replace('us-east-1', 'eu-west-1'));
  });

  it('rotating the primary rotates every replica; a replica cannot rotate itself', async () => {
    const { id } = await mrk();
    await east.send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'eu-west-1' }));
    await east.send(new RotateKeyOnDemandCommand({ KeyId: id }));
    const e = await east.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('v1') }));
    const d = await west.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob }));
    expect(Buffer.from(d.Plaintext!).toString()).toBe('v1');
    const [p, r] = await Promise.all([
      east.send(new DescribeKeyCommand({ KeyId: id })),
      west.send(new DescribeKeyCommand({ KeyId: id })),
    ]);
    expect(r.KeyMetadata?.CurrentKeyMaterialId).toBe(p.KeyMetadata?.CurrentKeyMaterialId);
    expect((await catchKmsError(west.send(new RotateKeyOnDemandCommand({ KeyId: id })))).name).toBe(
      'UnsupportedOperationException',
    );
  });

  it('UpdatePrimaryRegion swaps the roles', async () => {
    const { id } = await mrk();
    await east.send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'eu-west-1' }));
    await east.send(new UpdatePrimaryRegionCommand({ KeyId: id, PrimaryRegion: 'eu-west-1' }));
    const w = (await west.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    const e = (await east.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    expect(w.MultiRegionConfiguration?.MultiRegionKeyType).toBe('PRIMARY');
    expect(e.MultiRegionConfiguration?.MultiRegionKeyType).toBe('REPLICA');
    expect(e.MultiRegionConfiguration?.ReplicaKeys?.map((k) => k.Region)).toEqual(['us-east-1']);
    const missing = await catchKmsError(
      west.send(new UpdatePrimaryRegionCommand({ KeyId: id, PrimaryRegion: 'ap-south-1' })),
    );
    expect(missing.name).toBe('NotFoundException');
  });

  it('ReplicateKey errors: single-Region key, same region, existing replica', async () => {
    clock.advance(1000);
    const single = (await east.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    expect(
      (
        await catchKmsError(
          east.send(new ReplicateKeyCommand({ KeyId: single, ReplicaRegion: 'eu-west-1' })),
        )
      ).name,
    ).toBe('UnsupportedOperationException');
    const { id } = await mrk();
    expect(
      (
        await catchKmsError(
          east.send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'us-east-1' })),
        )
      ).name,
    ).toBe('ValidationException');
    await east.send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'eu-west-1' }));
    clock.advance(1000);
    expect(
      (
        await catchKmsError(
          east.send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'eu-west-1' })),
        )
      ).name,
    ).toBe('AlreadyExistsException');
  });

  it('ReplicateKey costs two CreateKey in the replica region (core classifier charges)', async () => {
    const { id } = await mrk();
    clock.advance(1000);
    // eu-west-1's CreateKey pool is 3 per second here; use 2, leaving 1 < the 2 ReplicateKey needs.
    await west.send(new CreateKeyCommand({}));
    await west.send(new CreateKeyCommand({}));
    const t = await catchKmsError(
      east.send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'eu-west-1' })),
    );
    expect(t.name).toBe('ThrottlingException');
    clock.advance(1000);
    await east.send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'eu-west-1' }));
    const s = kms.server.stats();
    expect(s.byRegionPool['eu-west-1/control/CreateKey']?.throttled).toBeGreaterThanOrEqual(1);
    expect(s.byRegionPool['us-east-1/control/ReplicateKey']?.throttled).toBeGreaterThanOrEqual(1);
  });
});
