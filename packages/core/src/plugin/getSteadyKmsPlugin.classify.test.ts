import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import * as kms from '@aws-sdk/client-kms';
import { CHANNEL_NAMES, type OperationStartMessage } from '../events/channels.js';
import { LimiterRegistry } from '../limiter/LimiterRegistry.js';
import { KMS_OPERATIONS, classifyOperation } from '../quotas/index.js';
import { withSteadyKms } from './getSteadyKmsPlugin.js';
import { scriptedHandler, TEST_CREDENTIALS, type ScriptedAnswer } from './testSupport.js';

const starts: OperationStartMessage[] = [];
const onStart = (m: unknown): void => void starts.push(m as OperationStartMessage);
subscribe(CHANNEL_NAMES.operationStart, onStart);
afterEach(() => {
  starts.length = 0;
});
process.on('exit', () => unsubscribe(CHANNEL_NAMES.operationStart, onStart));

type AnyCommand = new (input: object) => Parameters<kms.KMSClient['send']>[0];
const commandOf = (op: string): AnyCommand =>
  (kms as unknown as Record<string, AnyCommand>)[`${op}Command`] as AnyCommand;

function client(answers: ScriptedAnswer[] | ((t: string, n: number) => ScriptedAnswer)) {
  const registry = new LimiterRegistry();
  const c = withSteadyKms(
    new kms.KMSClient({
      region: 'eu-west-1',
      credentials: TEST_CREDENTIALS,
      requestHandler: scriptedHandler(answers),
    }),
    { registry },
  );
  return { c, registry };
}

describe('classification through the plugin', () => {
  it('classifies every KMS operation into its pool and paces that pool', async () => {
    const { c, registry } = client([{ status: 200, body: {} }]);
    const input = { KeyId: 'k', KeyPairSpec: 'ECC_NIST_P256' };
    for (const op of KMS_OPERATIONS) {
      await c.send(new (commandOf(op))(input));
      const expected = classifyOperation(op, input, 'eu-west-1').charges[0].pool;
      expect(starts.at(-1)?.operation, op).toBe(op);
      expect(starts.at(-1)?.pool, op).toBe(expected);
      expect(
        registry.limiters().some((l) => l.key.pool === expected && l.key.region === 'eu-west-1'),
        op,
      ).toBe(true);
    }
    c.destroy();
  });

  it('learns a key spec from DescribeKey and the account from its ARN', async () => {
    const arn = 'arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const { c, registry } = client((target) =>
      target.endsWith('DescribeKey')
        ? {
            status: 200,
            body: {
              KeyMetadata: {
                Arn: arn,
                KeyId: '1234abcd-12ab-34cd-56ef-1234567890ab',
                KeySpec: 'RSA_3072',
              },
            },
          }
        : { status: 200, body: { KeyId: arn } },
    );
    await c.send(new kms.EncryptCommand({ KeyId: 'alias/app', Plaintext: Buffer.from('x') }));
    expect(starts.at(-1)?.pool).toBe('symmetric'); // nothing known yet
    await c.send(new kms.DescribeKeyCommand({ KeyId: 'alias/app' }));
    await c.send(new kms.EncryptCommand({ KeyId: 'alias/app', Plaintext: Buffer.from('x') }));
    expect(starts.at(-1)?.pool).toBe('rsa');
    expect(starts.at(-1)?.billing).toBe('asymmetric');
    expect(starts.at(-1)?.accountId).toBe('444455556666');
    await c.send(
      new kms.SignCommand({
        KeyId: arn,
        Message: Buffer.from('m'),
        SigningAlgorithm: 'ECDSA_SHA_256',
      }),
    );
    expect(starts.at(-1)?.pool).toBe('ecc'); // the input's algorithm wins
    expect(
      registry.limiters().some((l) => l.key.accountId === '444455556666' && l.key.pool === 'rsa'),
    ).toBe(true);
    c.destroy();
  });

  it('charges ReplicateKey to the replica region as two CreateKey', async () => {
    const { c, registry } = client([{ status: 200, body: {} }]);
    await c.send(new kms.ReplicateKeyCommand({ KeyId: 'mrk-1', ReplicaRegion: 'ap-south-1' }));
    const keys = registry.limiters().map((l) => `${l.key.region}/${l.key.pool}`);
    expect(keys).toEqual(['eu-west-1/control/ReplicateKey', 'ap-south-1/control/CreateKey']);
    c.destroy();
  });
});
