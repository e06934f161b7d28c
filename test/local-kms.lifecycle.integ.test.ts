import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  ListKeyPoliciesCommand,
  ListKeyRotationsCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  RotateKeyOnDemandCommand,
  TagResourceCommand,
  UntagResourceCommand,
  CreateGrantCommand,
  ListGrantsCommand,
  ListRetirableGrantsCommand,
  RetireGrantCommand,
  RevokeGrantCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { catchKmsError, fakeClock, startTestKms, type TestKms } from './support/index.js';

const clock = fakeClock();
let kms: TestKms;
let client: KMSClient;
const DAY = 86_400_000;

beforeAll(async () => {
  kms = await startTestKms({ clock, quotas: false });
  client = kms.client();
});
afterAll(() => kms.close());

const newKey = async (): Promise<string> =>
  (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;

describe('rotation', () => {
  it('RotateKeyOnDemand adds material; old ciphertexts still decrypt, new ones use the new material', async () => {
    const id = await newKey();
    const before = await client.send(
      new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('old') }),
    );
    const m0 = (await client.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!
      .CurrentKeyMaterialId;
    await client.send(new RotateKeyOnDemandCommand({ KeyId: id }));
    const m1 = (await client.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!
      .CurrentKeyMaterialId;
    expect(m1).not.toBe(m0);
    const after = await client.send(
      new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('new') }),
    );
    const d0 = await client.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob }));
    const d1 = await client.send(new DecryptCommand({ CiphertextBlob: after.CiphertextBlob }));
    expect(Buffer.from(d0.Plaintext!).toString()).toBe('old');
    expect(d0.KeyMaterialId).toBe(m0);
    expect(Buffer.from(d1.Plaintext!).toString()).toBe('new');
    expect(d1.KeyMaterialId).toBe(m1);
    const list = await client.send(new ListKeyRotationsCommand({ KeyId: id }));
    expect(list.Rotations?.map((r) => [r.RotationType, r.KeyMaterialId])).toEqual([
      ['ON_DEMAND', m1],
    ]);
  });

  it('automatic rotation happens once the period has passed', async () => {
    const id = await newKey();
    await client.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 90 }));
    const status = await client.send(new GetKeyRotationStatusCommand({ KeyId: id }));
    expect(status).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 90 });
    expect(status.NextRotationDate).toEqual(new Date(clock.now() + 90 * DAY));
    clock.advance(90 * DAY);
    const after = await client.send(new GetKeyRotationStatusCommand({ KeyId: id }));
    expect(after.NextRotationDate).toEqual(new Date(clock.now() + 90 * DAY));
    const list = await client.send(new ListKeyRotationsCommand({ KeyId: id }));
    expect(list.Rotations?.map((r) => r.RotationType)).toEqual(['AUTOMATIC']);
    await client.send(new DisableKeyRotationCommand({ KeyId: id }));
    expect(
      (await client.send(new GetKeyRotationStatusCommand({ KeyId: id }))).KeyRotationEnabled,
    ).toBe(false);
  });

  it('rejects bad periods, disabled keys, non-symmetric keys, and more than 10 on-demand rotations', async () => {
    const id = await newKey();
    for (const days of [89, 2561]) {
      expect(
        (
          await catchKmsError(
            client.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: days })),
          )
        ).name,
      ).toBe('ValidationException');
    }
    const hmac = (
      await client.send(
        new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }),
      )
    ).KeyMetadata!.KeyId!;
    expect(
      (await catchKmsError(client.send(new RotateKeyOnDemandCommand({ KeyId: hmac })))).name,
    ).toBe('UnsupportedOperationException');
    for (let i = 0; i < 10; i++) await client.send(new RotateKeyOnDemandCommand({ KeyId: id }));
    const limit = await catchKmsError(client.send(new RotateKeyOnDemandCommand({ KeyId: id })));
    expect(limit.name).toBe('LimitExceededException');
    expect(limit.$metadata.httpStatusCode).toBe(400);
    const off = await newKey();
    await client.send(new DisableKeyCommand({ KeyId: off }));
    expect(
      (await catchKmsError(client.send(new RotateKeyOnDemandCommand({ KeyId: off })))).name,
    ).toBe('DisabledException');
  });
});

describe('tags', () => {
  it('TagResource, ListResourceTags, UntagResource', async () => {
    const id = (
      await client.send(new CreateKeyCommand({ Tags: [{ TagKey: 'team', TagValue: 'a' }] }))
    ).KeyMetadata!.KeyId!;
    await client.send(
      new TagResourceCommand({
        KeyId: id,
        Tags: [
          { TagKey: 'env', TagValue: 'dev' },
          { TagKey: 'team', TagValue: 'b' },
        ],
      }),
    );
    const tags = await client.send(new ListResourceTagsCommand({ KeyId: id }));
    expect(tags.Tags).toEqual([
      { TagKey: 'team', TagValue: 'b' },
      { TagKey: 'env', TagValue: 'dev' },
    ]);
    await client.send(new UntagResourceCommand({ KeyId: id, TagKeys: ['team'] }));
    expect((await client.send(new ListResourceTagsCommand({ KeyId: id }))).Tags).toEqual([
      { TagKey: 'env', TagValue: 'dev' },
    ]);
    expect(
      (
        await catchKmsError(
          client.send(
            new TagResourceCommand({ KeyId: id, Tags: [{ TagKey: 'aws:x', TagValue: '' }] }),
          ),
        )
      ).name,
    ).toBe('TagException');
  });
});

describe('key policies', () => {
  it('GetKeyPolicy returns the default policy; PutKeyPolicy stores a valid document only', async () => {
    const id = await newKey();
    const got = await client.send(new GetKeyPolicyCommand({ KeyId: id }));
    expect(got.PolicyName).toBe('default');
    expect(JSON.parse(got.Policy!)).toMatchObject({
      Statement: [{ Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*' }],
    });
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [] });
    await client.send(new PutKeyPolicyCommand({ KeyId: id, Policy: policy }));
    expect(
      (await client.send(new GetKeyPolicyCommand({ KeyId: id, PolicyName: 'default' }))).Policy,
    ).toBe(policy);
    expect((await client.send(new ListKeyPoliciesCommand({ KeyId: id }))).PolicyNames).toEqual([
      'default',
    ]);
    expect(
      (await catchKmsError(client.send(new PutKeyPolicyCommand({ KeyId: id, Policy: 'nope' }))))
        .name,
    ).toBe('MalformedPolicyDocumentException');
  });
});

describe('grants (recorded, not enforced)', () => {
  it('CreateGrant, ListGrants, ListRetirableGrants, RetireGrant by token, RevokeGrant', async () => {
    const id = await newKey();
    const grantee = 'arn:aws:iam::111122223333:role/app';
    const retiree = 'arn:aws:iam::111122223333:role/ops';
    const a = await client.send(
      new CreateGrantCommand({
        KeyId: id,
        GranteePrincipal: grantee,
        RetiringPrincipal: retiree,
        Operations: ['Decrypt', 'GenerateDataKey'],
        Constraints: { EncryptionContextSubset: { app: 'x' } },
        Name: 'app',
      }),
    );
    expect(a.GrantId).toMatch(/^[0-9a-f]{64}$/);
    // A named grant created again with the same request is the same grant.
    const again = await client.send(
      new CreateGrantCommand({
        KeyId: id,
        GranteePrincipal: grantee,
        Operations: ['Decrypt', 'GenerateDataKey'],
        Name: 'app',
      }),
    );
    expect(again.GrantId).toBe(a.GrantId);
    const b = await client.send(
      new CreateGrantCommand({ KeyId: id, GranteePrincipal: grantee, Operations: ['Encrypt'] }),
    );
    const list = await client.send(new ListGrantsCommand({ KeyId: id }));
    expect(list.Grants?.map((g) => g.GrantId)).toEqual([a.GrantId, b.GrantId]);
    expect(list.Grants?.[0]).toMatchObject({
      Name: 'app',
      GranteePrincipal: grantee,
      Operations: ['Decrypt', 'GenerateDataKey'],
      Constraints: { EncryptionContextSubset: { app: 'x' } },
    });
    const retirable = await client.send(
      new ListRetirableGrantsCommand({ RetiringPrincipal: retiree }),
    );
    expect(retirable.Grants?.map((g) => g.GrantId)).toEqual([a.GrantId]);
    await client.send(new RetireGrantCommand({ GrantToken: a.GrantToken }));
    await client.send(new RevokeGrantCommand({ KeyId: id, GrantId: b.GrantId }));
    expect((await client.send(new ListGrantsCommand({ KeyId: id }))).Grants).toEqual([]);
    expect(
      (await catchKmsError(client.send(new RetireGrantCommand({ GrantToken: 'bogus' })))).name,
    ).toBe('InvalidGrantTokenException');
    expect(
      (await catchKmsError(client.send(new RevokeGrantCommand({ KeyId: id, GrantId: b.GrantId! }))))
        .name,
    ).toBe('NotFoundException');
    expect(
      (
        await catchKmsError(
          client.send(
            new CreateGrantCommand({
              KeyId: id,
              GranteePrincipal: grantee,
              Operations: ['Fly' as 'Encrypt'],
            }),
          ),
        )
      ).name,
    ).toBe('ValidationException');
  });
});
