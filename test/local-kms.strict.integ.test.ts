import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { catchKmsError, startTestKms, TEST_CREDENTIALS, type TestKms } from './support/index.js';

let kms: TestKms;

beforeAll(async () => {
  kms = await startTestKms({
    quotas: false,
    strict: { credentials: { [TEST_CREDENTIALS.accessKeyId]: TEST_CREDENTIALS.secretAccessKey } },
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
});
