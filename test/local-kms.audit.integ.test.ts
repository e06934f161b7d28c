import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import type { AuditEvent } from '@steadykms/local-kms';
import { catchKmsError, fakeClock, startTestKms } from './support/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('CloudTrail-shaped audit log', () => {
  it('records every answered call, errors and throttles included, without blobs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'local-kms-audit-'));
    dirs.push(dir);
    const path = join(dir, 'audit.jsonl');
    const clock = fakeClock();
    const kms = await startTestKms({
      clock,
      auditLog: path,
      quotas: { overrides: { symmetric: 2 } },
    });
    const client = kms.client({ region: 'eu-central-1' });
    const key = (await client.send(new CreateKeyCommand({}))).KeyMetadata!;
    const e = await client.send(
      new EncryptCommand({
        KeyId: key.KeyId!,
        Plaintext: Buffer.from('secret'),
        EncryptionContext: { a: 'b' },
      }),
    );
    const bad = await catchKmsError(
      client.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob })),
    );
    const throttled = await catchKmsError(
      client.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob })),
    );
    expect(throttled.name).toBe('ThrottlingException');

    const events = kms.server.auditEvents();
    expect(events.map((x) => [x.eventName, x.errorCode])).toEqual([
      ['CreateKey', undefined],
      ['Encrypt', undefined],
      ['Decrypt', 'InvalidCiphertextException'],
      ['Decrypt', 'ThrottlingException'],
    ]);
    const enc = events[1]!;
    expect(enc).toMatchObject({
      eventSource: 'kms.amazonaws.com',
      awsRegion: 'eu-central-1',
      eventType: 'AwsApiCall',
      readOnly: true,
      recipientAccountId: '111122223333',
      requestID: e.$metadata.requestId,
      eventTime: new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      resources: [{ type: 'AWS::KMS::Key', ARN: key.Arn, accountId: '111122223333' }],
      requestParameters: { keyId: key.KeyId, encryptionContext: { a: 'b' } },
      userIdentity: { accessKeyId: 'AKIDLOCALKMS' },
    });
    expect(events[0]!.readOnly).toBe(false);
    expect(events[2]!.requestID).toBe(bad.$metadata.requestId);
    expect(JSON.stringify(events)).not.toContain(Buffer.from('secret').toString('base64'));
    expect(JSON.stringify(events)).not.toContain('ciphertextBlob');

    const viaAdmin = (await (await fetch(`${kms.url}/__admin/audit?limit=2`)).json()) as {
      events: AuditEvent[];
    };
    expect(viaAdmin.events.map((x) => x.eventName)).toEqual(['Decrypt', 'Decrypt']);
    await kms.close();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as AuditEvent).eventID)).toEqual(
      events.map((x) => x.eventID),
    );
  });

  it('is off by default', async () => {
    const kms = await startTestKms({ quotas: false });
    await kms.client().send(new CreateKeyCommand({}));
    expect(kms.server.auditEvents()).toEqual([]);
    await kms.close();
  });
});
