import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  ListAliasesCommand,
  ListKeysCommand,
  ScheduleKeyDeletionCommand,
  UpdateAliasCommand,
  UpdateKeyDescriptionCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { catchKmsError, fakeClock, startTestKms, type TestKms } from './support/index.js';

const clock = fakeClock();
let kms: TestKms;
let client: KMSClient;
const ACCOUNT = '111122223333';

beforeAll(async () => {
  kms = await startTestKms({ quotas: false, clock });
  client = kms.client();
});
afterAll(() => kms.close());

async function newKey(description = ''): Promise<{ id: string; arn: string }> {
  const out = await client.send(new CreateKeyCommand({ Description: description }));
  return { id: out.KeyMetadata!.KeyId!, arn: out.KeyMetadata!.Arn! };
}

const MISSING = '00000000-0000-4000-8000-000000000000';

describe('CreateKey and DescribeKey', () => {
  it('creates an enabled SYMMETRIC_DEFAULT key with the KMS metadata shape', async () => {
    const out = await client.send(
      new CreateKeyCommand({ Description: 'orders', Tags: [{ TagKey: 't', TagValue: 'v' }] }),
    );
    const m = out.KeyMetadata!;
    expect(m.KeyId).toMatch(/^[0-9a-f-]{36}$/);
    expect(m.Arn).toBe(`arn:aws:kms:us-east-1:${ACCOUNT}:key/${m.KeyId}`);
    expect(m).toMatchObject({
      AWSAccountId: ACCOUNT,
      Enabled: true,
      KeyState: 'Enabled',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      Origin: 'AWS_KMS',
      KeyManager: 'CUSTOMER',
      Description: 'orders',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      MultiRegion: false,
    });
    expect(m.CreationDate).toEqual(new Date(clock.now()));
    const d = await client.send(new DescribeKeyCommand({ KeyId: m.KeyId! }));
    expect(d.KeyMetadata).toEqual(m);
  });

  it('rejects key specs, usages and origins local-kms does not emulate', async () => {
    expect(
      (
        await catchKmsError(
          client.send(new CreateKeyCommand({ KeySpec: 'ML_DSA_44', KeyUsage: 'SIGN_VERIFY' })),
        )
      ).name,
    ).toBe('UnsupportedOperationException');
    expect(
      (await catchKmsError(client.send(new CreateKeyCommand({ KeyUsage: 'SIGN_VERIFY' })))).name,
    ).toBe('ValidationException');
    expect(
      (await catchKmsError(client.send(new CreateKeyCommand({ Origin: 'EXTERNAL' })))).name,
    ).toBe('UnsupportedOperationException');
    const long = await catchKmsError(
      client.send(new CreateKeyCommand({ Description: 'x'.repeat(8193) })),
    );
    expect(long.name).toBe('ValidationException');
    expect(long.$metadata.httpStatusCode).toBe(400);
  });

  it('finds a key by id, key ARN, alias name and alias ARN, and only in its own region', async () => {
    const { id, arn } = await newKey();
    await client.send(new CreateAliasCommand({ AliasName: 'alias/by-name', TargetKeyId: id }));
    const aliasArn = `arn:aws:kms:us-east-1:${ACCOUNT}:alias/by-name`;
    for (const ref of [id, arn, 'alias/by-name', aliasArn]) {
      const d = await client.send(new DescribeKeyCommand({ KeyId: ref }));
      expect(d.KeyMetadata?.Arn).toBe(arn);
    }
    const west = kms.client({ region: 'eu-west-1' });
    const e = await catchKmsError(west.send(new DescribeKeyCommand({ KeyId: id })));
    expect(e.name).toBe('NotFoundException');
    expect(e.$metadata.httpStatusCode).toBe(400);
    expect(e.message).toBe(`Key 'arn:aws:kms:eu-west-1:${ACCOUNT}:key/${id}' does not exist`);
    expect((await catchKmsError(west.send(new DescribeKeyCommand({ KeyId: arn })))).name).toBe(
      'NotFoundException',
    );
  });

  it('answers NotFoundException for unknown keys and aliases', async () => {
    const e = await catchKmsError(client.send(new DescribeKeyCommand({ KeyId: MISSING })));
    expect(e.name).toBe('NotFoundException');
    const a = await catchKmsError(client.send(new DescribeKeyCommand({ KeyId: 'alias/nope' })));
    expect(a.name).toBe('NotFoundException');
    expect(a.message).toBe(`Alias arn:aws:kms:us-east-1:${ACCOUNT}:alias/nope is not found.`);
    expect((await catchKmsError(client.send(new DescribeKeyCommand({ KeyId: '' })))).name).toBe(
      'ValidationException',
    );
  });
});

describe('ListKeys', () => {
  it('pages with Limit and Marker through every key of the region, in creation order', async () => {
    const local = await startTestKms({ quotas: false });
    const c = local.client({ region: 'ap-south-1' });
    const created: string[] = [];
    for (let i = 0; i < 7; i++) {
      created.push((await c.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!);
    }
    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const out = await c.send(
        new ListKeysCommand({ Limit: 3, ...(marker ? { Marker: marker } : {}) }),
      );
      seen.push(...out.Keys!.map((k) => k.KeyId!));
      for (const k of out.Keys!) expect(k.KeyArn).toContain(`:key/${k.KeyId}`);
      expect(out.Truncated).toBe(out.NextMarker !== undefined);
      marker = out.NextMarker;
      pages++;
    } while (marker !== undefined);
    expect(seen).toEqual(created);
    expect(pages).toBe(3);
    expect((await catchKmsError(c.send(new ListKeysCommand({ Marker: 'bogus' })))).name).toBe(
      'InvalidMarkerException',
    );
    expect((await catchKmsError(c.send(new ListKeysCommand({ Limit: 0 })))).name).toBe(
      'ValidationException',
    );
    const other = local.client({ region: 'ap-south-2' });
    expect((await other.send(new ListKeysCommand({}))).Keys).toEqual([]);
    await local.close();
  });
});

describe('key states', () => {
  it('DisableKey stops encryption with DisabledException; EnableKey restores it', async () => {
    const { id, arn } = await newKey();
    await client.send(new DisableKeyCommand({ KeyId: id }));
    const d = await client.send(new DescribeKeyCommand({ KeyId: id }));
    expect(d.KeyMetadata).toMatchObject({ Enabled: false, KeyState: 'Disabled' });
    const e = await catchKmsError(
      client.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') })),
    );
    expect(e.name).toBe('DisabledException');
    expect(e.message).toBe(`${arn} is disabled.`);
    await client.send(new EnableKeyCommand({ KeyId: arn }));
    await client.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') }));
  });

  it('EnableKey and DisableKey take key ids or ARNs, not aliases', async () => {
    const { id } = await newKey();
    await client.send(
      new CreateAliasCommand({ AliasName: 'alias/no-alias-here', TargetKeyId: id }),
    );
    const e = await catchKmsError(
      client.send(new DisableKeyCommand({ KeyId: 'alias/no-alias-here' })),
    );
    expect(e.name).toBe('NotFoundException');
    expect((await catchKmsError(client.send(new EnableKeyCommand({ KeyId: MISSING })))).name).toBe(
      'NotFoundException',
    );
  });

  it('ScheduleKeyDeletion defaults to 30 days, accepts 7..30, and blocks use', async () => {
    const { id, arn } = await newKey();
    const out = await client.send(new ScheduleKeyDeletionCommand({ KeyId: id }));
    expect(out).toMatchObject({ KeyId: arn, KeyState: 'PendingDeletion', PendingWindowInDays: 30 });
    expect(out.DeletionDate).toEqual(new Date(clock.now() + 30 * 86_400_000));
    const d = await client.send(new DescribeKeyCommand({ KeyId: id }));
    expect(d.KeyMetadata).toMatchObject({
      KeyState: 'PendingDeletion',
      Enabled: false,
      PendingDeletionWindowInDays: 30,
    });
    const e = await catchKmsError(
      client.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') })),
    );
    expect(e.name).toBe('KMSInvalidStateException');
    expect(e.message).toBe(`${arn} is pending deletion.`);
    const again = await catchKmsError(client.send(new ScheduleKeyDeletionCommand({ KeyId: id })));
    expect(again.name).toBe('KMSInvalidStateException');
    expect((await catchKmsError(client.send(new EnableKeyCommand({ KeyId: id })))).name).toBe(
      'KMSInvalidStateException',
    );

    for (const days of [6, 31]) {
      const { id: other } = await newKey();
      const bad = await catchKmsError(
        client.send(new ScheduleKeyDeletionCommand({ KeyId: other, PendingWindowInDays: days })),
      );
      expect(bad.name).toBe('ValidationException');
    }
    const { id: seven } = await newKey();
    const s7 = await client.send(
      new ScheduleKeyDeletionCommand({ KeyId: seven, PendingWindowInDays: 7 }),
    );
    expect(s7.PendingWindowInDays).toBe(7);
  });

  it('CancelKeyDeletion returns the key to Disabled; on a live key it is KMSInvalidStateException', async () => {
    const { id, arn } = await newKey();
    expect(
      (await catchKmsError(client.send(new CancelKeyDeletionCommand({ KeyId: id })))).name,
    ).toBe('KMSInvalidStateException');
    await client.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    const out = await client.send(new CancelKeyDeletionCommand({ KeyId: id }));
    expect(out.KeyId).toBe(arn);
    const d = await client.send(new DescribeKeyCommand({ KeyId: id }));
    expect(d.KeyMetadata).toMatchObject({ KeyState: 'Disabled', Enabled: false });
    expect(d.KeyMetadata?.DeletionDate).toBeUndefined();
  });

  it('a key is gone once its deletion window has passed, with its aliases', async () => {
    const { id } = await newKey();
    await client.send(new CreateAliasCommand({ AliasName: 'alias/doomed', TargetKeyId: id }));
    await client.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    clock.advance(7 * 86_400_000);
    expect((await catchKmsError(client.send(new DescribeKeyCommand({ KeyId: id })))).name).toBe(
      'NotFoundException',
    );
    const aliases = await client.send(new ListAliasesCommand({}));
    expect(aliases.Aliases?.map((a) => a.AliasName)).not.toContain('alias/doomed');
  });

  it('UpdateKeyDescription changes the description', async () => {
    const { id } = await newKey('before');
    await client.send(new UpdateKeyDescriptionCommand({ KeyId: id, Description: 'after' }));
    const d = await client.send(new DescribeKeyCommand({ KeyId: id }));
    expect(d.KeyMetadata?.Description).toBe('after');
  });
});

describe('aliases', () => {
  it('CreateAlias, ListAliases (filtered and paged), UpdateAlias, DeleteAlias', async () => {
    const local = await startTestKms({ quotas: false, clock });
    const c = local.client();
    const a = (await c.send(new CreateKeyCommand({}))).KeyMetadata!;
    const b = (await c.send(new CreateKeyCommand({}))).KeyMetadata!;
    for (const n of ['one', 'two', 'three']) {
      await c.send(new CreateAliasCommand({ AliasName: `alias/${n}`, TargetKeyId: a.Arn! }));
    }
    const page1 = await c.send(new ListAliasesCommand({ Limit: 2 }));
    expect(page1.Aliases?.map((x) => x.AliasName)).toEqual(['alias/one', 'alias/two']);
    expect(page1.Truncated).toBe(true);
    const page2 = await c.send(new ListAliasesCommand({ Limit: 2, Marker: page1.NextMarker! }));
    expect(page2.Aliases?.map((x) => x.AliasName)).toEqual(['alias/three']);
    expect(page2.Truncated).toBe(false);
    expect(page1.Aliases?.[0]).toMatchObject({
      AliasArn: `arn:aws:kms:us-east-1:${ACCOUNT}:alias/one`,
      TargetKeyId: a.KeyId,
    });
    expect(page1.Aliases?.[0]?.CreationDate).toBeInstanceOf(Date);

    await c.send(new UpdateAliasCommand({ AliasName: 'alias/two', TargetKeyId: b.KeyId! }));
    const forB = await c.send(new ListAliasesCommand({ KeyId: b.KeyId! }));
    expect(forB.Aliases?.map((x) => x.AliasName)).toEqual(['alias/two']);
    const d = await c.send(new DescribeKeyCommand({ KeyId: 'alias/two' }));
    expect(d.KeyMetadata?.KeyId).toBe(b.KeyId);

    await c.send(new DeleteAliasCommand({ AliasName: 'alias/one' }));
    const left = await c.send(new ListAliasesCommand({}));
    expect(left.Aliases?.map((x) => x.AliasName)).toEqual(['alias/two', 'alias/three']);
    await local.close();
  });

  it('rejects duplicates, bad names, reserved names and unknown targets', async () => {
    const { id } = await newKey();
    await client.send(new CreateAliasCommand({ AliasName: 'alias/dup', TargetKeyId: id }));
    const dup = await catchKmsError(
      client.send(new CreateAliasCommand({ AliasName: 'alias/dup', TargetKeyId: id })),
    );
    expect(dup.name).toBe('AlreadyExistsException');
    expect(dup.$metadata.httpStatusCode).toBe(400);
    expect(
      (
        await catchKmsError(
          client.send(new CreateAliasCommand({ AliasName: 'dup', TargetKeyId: id })),
        )
      ).name,
    ).toBe('ValidationException');
    expect(
      (
        await catchKmsError(
          client.send(new CreateAliasCommand({ AliasName: 'alias/aws/s3', TargetKeyId: id })),
        )
      ).name,
    ).toBe('InvalidAliasNameException');
    expect(
      (
        await catchKmsError(
          client.send(new CreateAliasCommand({ AliasName: 'alias/x', TargetKeyId: MISSING })),
        )
      ).name,
    ).toBe('NotFoundException');
    expect(
      (
        await catchKmsError(
          client.send(new UpdateAliasCommand({ AliasName: 'alias/absent', TargetKeyId: id })),
        )
      ).name,
    ).toBe('NotFoundException');
    expect(
      (await catchKmsError(client.send(new DeleteAliasCommand({ AliasName: 'alias/absent' }))))
        .name,
    ).toBe('NotFoundException');
    const { id: pending } = await newKey();
    await client.send(new ScheduleKeyDeletionCommand({ KeyId: pending }));
    expect(
      (
        await catchKmsError(
          client.send(new CreateAliasCommand({ AliasName: 'alias/late', TargetKeyId: pending })),
        )
      ).name,
    ).toBe('KMSInvalidStateException');
  });
});
