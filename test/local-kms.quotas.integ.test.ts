import { afterEach, describe, expect, it } from 'vitest';
import {
  CreateKeyCommand,
  SignCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  GenerateDataKeyCommand,
  KMSServiceException,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { catchKmsError, fakeClock, startTestKms, type TestKms } from './support/index.js';

const THROTTLE =
  'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.';

let kms: TestKms | undefined;
afterEach(async () => {
  await kms?.close();
  kms = undefined;
});

/** Sends `n` calls at once; returns how many succeeded and the throttle errors. */
async function burst(n: number, call: () => Promise<unknown>) {
  const results = await Promise.allSettled(Array.from({ length: n }, call));
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  const errors = results
    .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    .map((r) => r.reason as KMSServiceException);
  return { ok, errors };
}

async function newKey(client: KMSClient): Promise<string> {
  const out = await client.send(new CreateKeyCommand({}));
  return out.KeyMetadata!.KeyId!;
}

describe('local-kms quotas', () => {
  it('admits exactly the configured rate per one-second window, then sends the exact throttle', async () => {
    const clock = fakeClock();
    kms = await startTestKms({ clock, quotas: { overrides: { symmetric: 10 } } });
    const client = kms.client({ region: 'ca-central-1' });
    const keyId = await newKey(client);
    const gdk = () => client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));

    const first = await burst(15, gdk);
    expect(first.ok).toBe(10);
    expect(first.errors).toHaveLength(5);
    for (const e of first.errors) {
      expect(e).toBeInstanceOf(KMSServiceException);
      expect(e.name).toBe('ThrottlingException');
      expect(e.message).toBe(THROTTLE);
      expect(e.$metadata.httpStatusCode).toBe(400);
    }
    // Still inside the same second: nothing more gets through.
    clock.advance(999);
    expect((await burst(3, gdk)).ok).toBe(0);
    // Next window: a full second's worth again.
    clock.advance(1);
    expect((await burst(12, gdk)).ok).toBe(10);

    const s = kms.server.stats();
    expect(s.byOperation['GenerateDataKey']).toMatchObject({ accepted: 20, throttled: 10 });
    expect(s.byRegionPool['ca-central-1/symmetric']).toMatchObject({ accepted: 20, throttled: 10 });
  });

  it('counts each region separately and each control operation in its own pool', async () => {
    const clock = fakeClock();
    kms = await startTestKms({ clock, quotas: { scale: 0.4 } }); // CreateKey 5 rps -> 2
    const east = kms.client({ region: 'us-east-1' });
    const west = kms.client({ region: 'eu-west-1' });
    expect((await burst(4, () => newKey(east))).ok).toBe(2);
    expect((await burst(4, () => newKey(west))).ok).toBe(2);
    const s = kms.server.stats();
    expect(s.byRegionPool['us-east-1/control/CreateKey']).toMatchObject({
      accepted: 2,
      throttled: 2,
    });
    expect(s.byRegionPool['eu-west-1/control/CreateKey']).toMatchObject({
      accepted: 2,
      throttled: 2,
    });
  });

  it('quotas: false never throttles', async () => {
    kms = await startTestKms({ quotas: false, clock: fakeClock() });
    const client = kms.client();
    expect((await burst(30, () => newKey(client))).ok).toBe(30);
    expect(kms.server.stats().total.throttled).toBe(0);
  });

  it('hotKeyStateChanges throttles state changes of one key, not of others, per one-second window', async () => {
    const clock = fakeClock();
    kms = await startTestKms({ clock, quotas: false, hotKeyStateChanges: 1 });
    const client = kms.client();
    const a = await newKey(client);
    const b = await newKey(client);
    await client.send(new DisableKeyCommand({ KeyId: a }));
    const hot = await catchKmsError(client.send(new EnableKeyCommand({ KeyId: a })));
    expect(hot.name).toBe('ThrottlingException');
    expect(hot.message).toBe(THROTTLE);
    await client.send(new DisableKeyCommand({ KeyId: b }));
    clock.advance(1000);
    await client.send(new EnableKeyCommand({ KeyId: a }));
    expect(kms.server.stats().byOperation['EnableKey']).toMatchObject({
      accepted: 1,
      throttled: 1,
    });
  });

  it('defaults to the current KMS table: CreateKey is 5 per second', async () => {
    kms = await startTestKms({ clock: fakeClock() });
    const client = kms.client();
    expect((await burst(8, () => newKey(client))).ok).toBe(5);
  });

  it("profile '2022' with a scale: ECC Sign is 300 x 0.01 = 3 per second (current would be 10)", async () => {
    const clock = fakeClock();
    kms = await startTestKms({ clock, quotas: { profile: '2022', scale: 0.01 } });
    const client = kms.client();
    const ecc = await client.send(
      new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }),
    );
    clock.advance(1000);
    const sign = () =>
      client.send(
        new SignCommand({
          KeyId: ecc.KeyMetadata!.KeyId!,
          Message: Buffer.from('m'),
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      );
    expect((await burst(6, sign)).ok).toBe(3);
    expect(kms.server.stats().byPool['ecc']).toMatchObject({ accepted: 3, throttled: 3 });
  });

  it('uses real one-second windows with the default clock', async () => {
    kms = await startTestKms({ quotas: { overrides: { symmetric: 5 } } });
    const client = kms.client();
    const keyId = await newKey(client);
    const gdk = () => client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    // 20 calls at once land in one window, or more if they straddle second boundaries (slow machine).
    const start = Math.floor(Date.now() / 1000);
    const first = await burst(20, gdk);
    const windows = Math.floor(Date.now() / 1000) - start + 1;
    expect(first.ok).toBeGreaterThanOrEqual(5);
    expect(first.ok).toBeLessThanOrEqual(5 * windows);
    expect(first.errors.every((e) => e.name === 'ThrottlingException')).toBe(true);
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
    expect((await burst(3, gdk)).ok).toBe(3);
  });
});
