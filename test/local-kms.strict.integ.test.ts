import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  ListKeysCommand,
} from '@aws-sdk/client-kms';
import { catchKmsError, startTestKms, TEST_CREDENTIALS, type TestKms } from './support/index.js';

let kms: TestKms;
const APP = 'arn:aws:iam::111122223333:role/app';
const OTHER = 'arn:aws:iam::111122223333:role/other';
const TENANT = 'arn:aws:iam::111122223333:role/tenant';
const as = (accessKeyId: string, secretAccessKey: string) =>
  kms.client({ credentials: { accessKeyId, secretAccessKey } });

beforeAll(async () => {
  kms = await startTestKms({
    quotas: false,
    strict: {
      credentials: {
        [TEST_CREDENTIALS.accessKeyId]: TEST_CREDENTIALS.secretAccessKey,
        AKIDAPP: { secretAccessKey: 'app-secret', principal: APP },
        AKIDOTHER: { secretAccessKey: 'other-secret', principal: OTHER },
        AKIDTENANT: { secretAccessKey: 'tenant-secret', principal: TENANT },
      },
    },
  });
});
afterAll(() => kms.close());

describe('strict mode (SigV4 verification)', () => {
  it('accepts requests the SDK signed with known credentials', async () => {
    const out = await kms.client().send(new CreateKeyCommand({ Description: 'signed' }));
    expect(out.KeyMetadata?.Description).toBe('signed');
    const west = await kms.client({ region: 'eu-west-1' }).send(new ListKeysCommand({}));
    expect(west.Keys).toEqual([]);
  });

  it('rejects a wrong secret with InvalidSignatureException and an unknown key with UnrecognizedClientException', async () => {
    const wrong = kms.client({
      credentials: { accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' },
    });
    const e = await catchKmsError(wrong.send(new ListKeysCommand({})));
    expect(e.name).toBe('InvalidSignatureException');
    expect(e.$metadata.httpStatusCode).toBe(400);
    const stranger = kms.client({
      credentials: { accessKeyId: 'AKIDSTRANGER', secretAccessKey: 'x' },
    });
    expect((await catchKmsError(stranger.send(new ListKeysCommand({})))).name).toBe(
      'UnrecognizedClientException',
    );
  });

  it('rejects a signed request whose body was changed in transit', async () => {
    // Capture a real signed request through the SDK's middleware, then replay it with another body.
    const client = kms.client();
    let captured: { headers: Record<string, string>; body: string } | undefined;
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers: Record<string, string>; body: string };
        captured = { headers: { ...request.headers }, body: request.body };
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'capture' },
    );
    await client.send(new ListKeysCommand({ Limit: 5 }));
    expect(captured).toBeDefined();
    const headers = { ...captured!.headers };
    delete headers['host'];
    delete headers['content-length'];
    const same = await fetch(`${kms.url}/`, { method: 'POST', headers, body: captured!.body });
    expect(same.status).toBe(200);
    await same.text();
    const changed = await fetch(`${kms.url}/`, { method: 'POST', headers, body: '{"Limit":6}' });
    expect(changed.status).toBe(400);
    expect(((await changed.json()) as { __type: string }).__type).toBe('InvalidSignatureException');
  });

  it('rejects a strict setting without credentials at start, naming the option', async () => {
    await expect(startTestKms({ strict: { credentials: {} } })).rejects.toThrow(
      /strict\.credentials/,
    );
  });

  it('authorizes calls on a key by its key policy: allow, explicit deny, and no allow', async () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: APP },
          Action: ['kms:Encrypt', 'kms:Decrypt'],
          Resource: '*',
        },
        { Effect: 'Allow', Principal: { AWS: APP }, Action: 'kms:CreateGrant', Resource: '*' },
        { Effect: 'Deny', Principal: { AWS: OTHER }, Action: 'kms:*', Resource: '*' },
        { Effect: 'Allow', Principal: '*', Action: 'kms:Encrypt', Resource: '*' },
      ],
    });
    const key = (await kms.client().send(new CreateKeyCommand({ Policy: policy }))).KeyMetadata!;
    const app = as('AKIDAPP', 'app-secret');
    const e = await app.send(
      new EncryptCommand({ KeyId: key.KeyId!, Plaintext: Buffer.from('x') }),
    );
    // Decrypt without KeyId is authorized against the key the blob names.
    await app.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob }));
    const describe = await catchKmsError(app.send(new DescribeKeyCommand({ KeyId: key.KeyId! })));
    expect(describe.name).toBe('AccessDeniedException');
    expect(describe.$metadata.httpStatusCode).toBe(400);
    expect(describe.message).toBe(
      `User: ${APP} is not authorized to perform: kms:DescribeKey on resource: ${key.Arn} because no resource-based policy allows the kms:DescribeKey action`,
    );
    const other = as('AKIDOTHER', 'other-secret');
    const denied = await catchKmsError(
      other.send(new EncryptCommand({ KeyId: key.KeyId!, Plaintext: Buffer.from('x') })),
    );
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toMatch(/explicit deny/);
    // Principal "*" lets anyone else encrypt, but not decrypt.
    const user = kms.client();
    await user.send(new EncryptCommand({ KeyId: key.KeyId!, Plaintext: Buffer.from('x') }));
    expect(
      (await catchKmsError(user.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob }))))
        .name,
    ).toBe('AccessDeniedException');
  });

  it('grants give access the policy does not, within their encryption-context constraints', async () => {
    const policy = JSON.stringify({
      Statement: [{ Effect: 'Allow', Principal: { AWS: APP }, Action: 'kms:CreateGrant' }],
    });
    const key = (await kms.client().send(new CreateKeyCommand({ Policy: policy }))).KeyMetadata!;
    const tenant = as('AKIDTENANT', 'tenant-secret');
    const send = (ctx: Record<string, string>) =>
      tenant.send(
        new EncryptCommand({
          KeyId: key.KeyId!,
          Plaintext: Buffer.from('x'),
          EncryptionContext: ctx,
        }),
      );
    expect((await catchKmsError(send({ tenant: 'a' }))).name).toBe('AccessDeniedException');
    await as('AKIDAPP', 'app-secret').send(
      new CreateGrantCommand({
        KeyId: key.KeyId!,
        GranteePrincipal: TENANT,
        Operations: ['Encrypt'],
        Constraints: { EncryptionContextSubset: { tenant: 'a' } },
      }),
    );
    await send({ tenant: 'a', extra: '1' });
    expect((await catchKmsError(send({ tenant: 'b' }))).name).toBe('AccessDeniedException');
  });

  it('the default key policy lets every principal of the account in (IAM is not modelled)', async () => {
    const key = (await kms.client().send(new CreateKeyCommand({}))).KeyMetadata!;
    const other = as('AKIDOTHER', 'other-secret');
    const d = await other.send(new DescribeKeyCommand({ KeyId: key.KeyId! }));
    expect(d.KeyMetadata?.Arn).toBe(key.Arn);
  });
});
