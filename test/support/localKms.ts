/**
 * Shared test helpers for anything that talks to local-kms: start a server, get SDK clients pointed at
 * it, drive a fake clock. Kept small on purpose; other packages' integration tests import it.
 *
 * ```ts
 * const kms = await startTestKms({ quotas: false });
 * const client = kms.client();                 // us-east-1, maxAttempts 1
 * const other = kms.client({ region: 'eu-west-1', maxAttempts: 3 });
 * await kms.close();                            // also destroys every client it made
 * ```
 */
import { KMSClient, KMSServiceException, type KMSClientConfig } from '@aws-sdk/client-kms';
import { startLocalKms, type LocalKms, type LocalKmsOptions } from '@steadykms/local-kms';

/** Credentials local-kms accepts (it reads only the region of the SigV4 scope). */
export const TEST_CREDENTIALS = {
  accessKeyId: 'AKIDLOCALKMS',
  secretAccessKey: 'local-kms-secret',
};

/** Region clients use unless told otherwise. */
export const TEST_REGION = 'us-east-1';

/** SDK client configuration that points at a local-kms `url`. */
export function localKmsClientConfig(
  url: string,
  overrides: Partial<KMSClientConfig> = {},
): KMSClientConfig {
  return {
    endpoint: url,
    region: TEST_REGION,
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
    ...overrides,
  };
}

/** A started local-kms plus a factory of clients that are destroyed on `close()`. */
export interface TestKms {
  readonly url: string;
  readonly server: LocalKms;
  /**
   * A new `KMSClient` for this server: region `us-east-1` and `maxAttempts: 1` unless overridden, so a
   * throttle or fault is visible instead of retried by the SDK.
   */
  client(overrides?: Partial<KMSClientConfig>): KMSClient;
  close(): Promise<void>;
}

/** Starts local-kms in this process (quotas default to the real KMS defaults). */
export async function startTestKms(options: LocalKmsOptions = {}): Promise<TestKms> {
  const server = await startLocalKms(options);
  const clients: KMSClient[] = [];
  return {
    url: server.url,
    server,
    client(overrides = {}) {
      const c = new KMSClient(localKmsClientConfig(server.url, overrides));
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.destroy();
      await server.close();
    },
  };
}

/** A clock the test moves by hand, in milliseconds since the epoch. */
export interface FakeClock {
  now(): number;
  /** Moves time forward by `ms` milliseconds. */
  advance(ms: number): void;
  set(ms: number): void;
}

/** A fake clock starting at `start` (default: 2026-01-01T00:00:00Z, on a second boundary). */
export function fakeClock(start = Date.UTC(2026, 0, 1)): FakeClock {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
    set: (ms) => {
      t = ms;
    },
  };
}

/**
 * Awaits a call that must fail and returns its SDK error (name, message, `$metadata.httpStatusCode`);
 * throws if the call succeeded.
 */
export async function catchKmsError(call: Promise<unknown>): Promise<KMSServiceException> {
  try {
    await call;
  } catch (e) {
    if (e instanceof KMSServiceException) return e;
    throw e;
  }
  throw new Error('expected the KMS call to fail, but it succeeded');
}
