// Shared by the keyring specification tests (*.spec.test.ts); not part of the package build.
import {
  CreateKeyCommand,
  ReplicateKeyCommand,
  type CreateKeyCommandInput,
  type KMSClient,
} from '@aws-sdk/client-kms';
import type { TestKms } from '../../../../test/support/index.js';
import type { EncryptionContext } from '../format/encryptionContext.js';
import type { EncryptedDataKey } from '../format/header.js';
import { getSuite, type AlgorithmSuite } from '../suites.js';
import type { DecryptionMaterials, EncryptionMaterials, Keyring } from './types.js';

/** The suite every keyring spec test runs under. */
export const SUITE = getSuite(0x0478) as AlgorithmSuite;

/** Fresh materials for one encryption context, and the EDK a keyring writes for a given data key. */
export interface MaterialsKit {
  readonly encMaterials: (key?: Buffer) => EncryptionMaterials;
  readonly decMaterials: (key?: Buffer) => DecryptionMaterials;
  readonly edkFor: (k: Keyring, key: Buffer) => Promise<EncryptedDataKey>;
}

export function materialsFor(
  encryptionContext: EncryptionContext = {},
  serializedContext: Buffer = Buffer.alloc(0),
): MaterialsKit {
  const encMaterials = (key?: Buffer): EncryptionMaterials => ({
    suite: SUITE,
    encryptionContext,
    serializedContext,
    plaintextDataKey: key,
    encryptedDataKeys: [],
  });
  return {
    encMaterials,
    decMaterials: (key) => ({
      suite: SUITE,
      encryptionContext,
      serializedContext,
      plaintextDataKey: key,
    }),
    edkFor: async (k, key) =>
      (await k.onEncrypt(encMaterials(key))).encryptedDataKeys[0] as EncryptedDataKey,
  };
}

/** The error `p` rejects with; fails the test when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

/** The KMS calls (operation and key id) `kms` answered while `run` ran, from its audit log. */
export async function kmsCalls(
  kms: TestKms,
  run: () => Promise<unknown>,
): Promise<Array<[string, unknown]>> {
  const before = kms.server.auditEvents().length;
  await run();
  return kms.server
    .auditEvents()
    .slice(before)
    .map((e) => [e.eventName, e.requestParameters?.['keyId']]);
}

/** A new symmetric KMS key's ARN. */
export async function newKey(
  client: KMSClient,
  input: CreateKeyCommandInput = {},
): Promise<string> {
  return (await client.send(new CreateKeyCommand(input))).KeyMetadata?.Arn as string;
}

/** A new multi-Region key and its replica in `replicaRegion`, as ARNs. */
export async function multiRegionKey(
  client: KMSClient,
  replicaRegion: string,
): Promise<{ mrk: string; replica: string }> {
  const mrk = await newKey(client, { MultiRegion: true });
  const replica = (
    await client.send(new ReplicateKeyCommand({ KeyId: mrk, ReplicaRegion: replicaRegion }))
  ).ReplicaKeyMetadata?.Arn as string;
  return { mrk, replica };
}
