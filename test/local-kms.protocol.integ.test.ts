import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { KMS_OPERATIONS } from '@steadykms/core';
import { fakeClock, startTestKms, type TestKms } from './support/index.js';

let kms: TestKms;
let keyId: string;
const AUTH =
  'AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00';

beforeAll(async () => {
  // Audit on, so random inputs also go through the audit record builder.
  kms = await startTestKms({ quotas: false, auditLog: true, hotKeyStateChanges: 1000 });
  keyId = (await kms.client().send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
});
afterAll(() => kms.close());

async function raw(
  body: string,
  headers: Record<string, string>,
  method = 'POST',
): Promise<{ status: number; type: string | undefined; json: Record<string, unknown> }> {
  const res = await fetch(`${kms.url}/`, {
    method,
    headers,
    ...(method === 'POST' ? { body } : {}),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // left empty: the assertions below check json fields
  }
  return { status: res.status, type: json['__type'] as string | undefined, json };
}

const kmsHeaders = (op: string) => ({
  'x-amz-target': `TrentService.${op}`,
  'content-type': 'application/x-amz-json-1.1',
  authorization: AUTH,
});

describe('protocol errors are 4xx with the right __type, never a 5xx', () => {
  it.each([
    ['no X-Amz-Target', '{}', { authorization: AUTH }, 400, 'UnknownOperationException'],
    ['an unknown operation', '{}', kmsHeaders('MakeCoffee'), 400, 'UnknownOperationException'],
    [
      'another service prefix',
      '{}',
      { ...kmsHeaders('x'), 'x-amz-target': 'DynamoDB_20120810.GetItem' },
      400,
      'UnknownOperationException',
    ],
    [
      'no Authorization',
      '{}',
      { 'x-amz-target': 'TrentService.ListKeys' },
      400,
      'MissingAuthenticationTokenException',
    ],
    [
      'a non-SigV4 Authorization',
      '{}',
      { ...kmsHeaders('ListKeys'), authorization: 'Basic abc' },
      400,
      'IncompleteSignatureException',
    ],
    ['invalid JSON', '{"KeyId":', kmsHeaders('DescribeKey'), 400, 'SerializationException'],
    ['a JSON array', '[]', kmsHeaders('DescribeKey'), 400, 'SerializationException'],
    [
      'a string where a number goes',
      '{"Limit":"ten"}',
      kmsHeaders('ListKeys'),
      400,
      'SerializationException',
    ],
    [
      'a modelled operation local-kms does not implement',
      '{}',
      kmsHeaders('ImportKeyMaterial'),
      400,
      'UnsupportedOperationException',
    ],
  ] as const)('%s', async (_name, body, headers, status, type) => {
    const r = await raw(body, headers);
    expect(r.status).toBe(status);
    expect(r.type).toBe(type);
    expect(typeof r.json['message']).toBe('string');
  });

  it('bad base64 and wrong lengths in blobs', async () => {
    const bad = await raw(
      JSON.stringify({ KeyId: keyId, Plaintext: 'not base64!' }),
      kmsHeaders('Encrypt'),
    );
    expect([bad.status, bad.type]).toEqual([400, 'SerializationException']);
    const long = await raw(
      JSON.stringify({ CiphertextBlob: Buffer.alloc(6145).toString('base64') }),
      kmsHeaders('Decrypt'),
    );
    expect([long.status, long.type]).toEqual([400, 'ValidationException']);
    const ctx = await raw(
      JSON.stringify({ KeyId: keyId, Plaintext: 'eA==', EncryptionContext: { a: 1 } }),
      kmsHeaders('Encrypt'),
    );
    expect([ctx.status, ctx.type]).toEqual([400, 'SerializationException']);
  });

  it('answers GET / with 405 and unknown admin routes with 404', async () => {
    expect((await raw('', {}, 'GET')).status).toBe(405);
    expect((await fetch(`${kms.url}/__admin/nothing`)).status).toBe(404);
  });

  it('the throttle body is exactly the one KMS sends', async () => {
    const local = await startTestKms({
      clock: fakeClock(),
      quotas: { overrides: { 'control/ListKeys': 1 } },
    });
    const send = () =>
      fetch(`${local.url}/`, { method: 'POST', headers: kmsHeaders('ListKeys'), body: '{}' });
    const codes: number[] = [];
    let body = '';
    for (let i = 0; i < 3; i++) {
      const r = await send();
      codes.push(r.status);
      if (r.status === 400) body = await r.text();
      else await r.text();
    }
    // A fake clock that never moves: one window, one admitted call.
    expect(codes).toEqual([200, 400, 400]);
    expect(body).toBe(
      '{"__type":"ThrottlingException","message":"You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."}',
    );
    await local.close();
  });
});

describe('random requests (fast-check)', () => {
  const anyValue = fc.oneof(
    fc.string(),
    fc.base64String(),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(keyId),
    fc.constant('alias/x'),
    fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())),
    fc.array(fc.string()),
  );
  const fields = fc.dictionary(
    fc.constantFrom(
      'KeyId',
      'Plaintext',
      'CiphertextBlob',
      'EncryptionContext',
      'NumberOfBytes',
      'KeySpec',
      'Limit',
      'Marker',
      'AliasName',
      'TargetKeyId',
      'PendingWindowInDays',
      'DestinationKeyId',
      'GrantTokens',
      'DryRun',
      'Description',
      'Tags',
      'EncryptionAlgorithm',
      'KeyUsage',
      'Recipient',
    ),
    anyValue,
  );
  const body = fc.oneof(
    fields.map((f) => JSON.stringify(f)),
    fc.string(),
    fc.json(),
    fc.constant(''),
  );
  const target = fc.oneof(
    fc.constantFrom(...KMS_OPERATIONS).map((op) => `TrentService.${op}`),
    fc.string().filter((s) => /^[\x20-\x7e]*$/.test(s)),
  );
  const printable = fc
    .string({ maxLength: 80 })
    .filter((s) => /^[\x20-\x7e]*$/.test(s.trim()) && s.trim() === s);

  it('never get a 5xx or a hang when no fault is configured', async () => {
    await fc.assert(
      fc.asyncProperty(
        body,
        target,
        fc.option(printable),
        fc.option(
          fc.constantFrom(AUTH, 'AWS4-HMAC-SHA256 Credential=a/b/zz-top-9/kms/aws4_request'),
        ),
        async (b, t, junk, auth) => {
          const headers: Record<string, string> = { 'x-amz-target': t };
          if (auth !== null) headers['authorization'] = auth;
          if (junk !== null) headers['x-junk'] = junk;
          const r = await raw(b, headers);
          expect(r.status, `${t} ${b}`).toBeGreaterThanOrEqual(200);
          expect(r.status, `${t} ${b}`).toBeLessThan(500);
          if (r.status >= 400) expect(typeof r.type).toBe('string');
        },
      ),
      { numRuns: 250 },
    );
    expect(kms.server.stats().total.faulted).toBe(0);
  });
});
