/**
 * The official cross-language ESDK decrypt vectors (../shared/esdk-vectors beside the repository, or
 * $ESDK_VECTORS_DIR): every positive case must decrypt to its plaintext, every negative case must fail with
 * a typed error, and the cases that cannot pass on this Node.js are exactly the known list.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DecryptionError,
  MessageFormatError,
  MultiKeyring,
  RawAesKeyring,
  RawRsaKeyring,
  decrypt,
  type DecryptionMaterials,
  type Keyring,
  type RsaPadding,
} from './index.js';
import knownFailures from './vectors.known-failures.json' with { type: 'json' };

const here = dirname(fileURLToPath(import.meta.url));
const DIR = process.env['ESDK_VECTORS_DIR'] ?? resolve(here, '../../../../shared/esdk-vectors');

interface KeyRef {
  type: 'aes' | 'rsa-private' | 'rsa-public';
  base64?: string;
  pem?: string;
}
interface KeyringRef {
  type: 'raw-aes' | 'raw-rsa';
  key_namespace: string;
  key_name: string;
  key: string;
  padding?: RsaPadding;
}
interface Case {
  set: string;
  id: string;
  ciphertext: string;
  plaintext: string | null;
  expect: 'success' | 'failure';
  suite: string;
  keyrings: KeyringRef[];
  cmm: 'default' | 'required-encryption-context';
  reproduced_encryption_context: Record<string, string> | null;
  required_encryption_context_keys?: string[];
}

const index = JSON.parse(readFileSync(join(DIR, 'index.json'), 'utf8')) as {
  keys: Record<string, KeyRef>;
  cases: Case[];
};

/** Node.js 20.20+ refuses RSA PKCS#1 v1.5 decryption (CVE-2023-46809) unless the security revert flag is on. */
const pkcs1Refused = !process.execArgv.some((a) => a.includes('CVE-2023-46809'));
const known = new Set(pkcs1Refused ? knownFailures.cases : []);

function keyringFor(c: Case): Keyring {
  const rings = c.keyrings.map((k): Keyring => {
    const key = index.keys[k.key];
    if (!key) throw new Error(`missing key ${k.key}`);
    if (k.type === 'raw-aes') {
      return new RawAesKeyring({
        keyNamespace: k.key_namespace,
        keyName: k.key_name,
        wrappingKey: Buffer.from(key.base64 as string, 'base64'),
      });
    }
    return new RawRsaKeyring({
      keyNamespace: k.key_namespace,
      keyName: k.key_name,
      padding: k.padding as RsaPadding,
      ...(key.type === 'rsa-private'
        ? { privateKey: key.pem as string }
        : { publicKey: key.pem as string }),
    });
  });
  const [generator, ...children] = rings;
  return rings.length === 1
    ? (generator as Keyring)
    : new MultiKeyring({ generator: generator as Keyring, children });
}

const caseId = (c: Case): string => `${c.set}/${c.id}`;

describe('ESDK decrypt vectors', () => {
  it('finds the vectors', () => {
    expect(existsSync(join(DIR, 'index.json'))).toBe(true);
    expect(index.cases.length).toBe(544);
  });

  const results = new Map<string, 'pass' | 'fail'>();

  it.each(index.cases.map((c) => [caseId(c), c] as const))('%s', async (_id, c) => {
    const ct = readFileSync(join(DIR, c.ciphertext));
    const run = decrypt(ct, {
      keyring: keyringFor(c),
      commitmentPolicy: 'REQUIRE_ENCRYPT_ALLOW_DECRYPT',
      ...(c.reproduced_encryption_context
        ? { encryptionContext: c.reproduced_encryption_context }
        : {}),
      ...(c.required_encryption_context_keys
        ? { requiredEncryptionContextKeys: c.required_encryption_context_keys }
        : {}),
    });
    if (c.expect === 'failure' || known.has(caseId(c))) {
      const e = await run.then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(DecryptionError.is(e) || MessageFormatError.is(e)).toBe(true);
      results.set(caseId(c), 'fail');
      return;
    }
    const r = await run;
    expect(r.plaintext.equals(readFileSync(join(DIR, c.plaintext as string)))).toBe(true);
    results.set(caseId(c), 'pass');
  });

  //= aws-encryption-sdk-specification/client-apis/decrypt.md#get-the-decryption-materials
  //# If the parsed algorithm suite ID is not supported by the commitment policy configured in the client decrypt MUST yield an error.
  it('If the parsed algorithm suite ID is not supported by the commitment policy configured in the client decrypt MUST yield an error.', async () => {
    const c = index.cases.find(
      (x) =>
        x.expect === 'success' &&
        x.suite === '0178' &&
        x.keyrings.every((k) => k.type === 'raw-aes'),
    );
    if (!c) throw new Error('no v1 case');
    const ct = readFileSync(join(DIR, c.ciphertext));
    const e = await decrypt(ct, { keyring: keyringFor(c) }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(DecryptionError.is(e)).toBe(true);
    expect((e as Error).message).toMatch(/commitment policy/);
    // The same message decrypts under a policy that allows legacy suites.
    const r = await decrypt(ct, {
      keyring: keyringFor(c),
      commitmentPolicy: 'FORBID_ENCRYPT_ALLOW_DECRYPT',
    });
    expect(r.suiteId).toBe(0x0178);
  });

  it('the cases that cannot pass on this Node.js are exactly the known list', () => {
    // Each known failure uses only RSA PKCS#1 v1.5 keys that Node refuses to use for decryption.
    for (const id of known) {
      const c = index.cases.find((x) => caseId(x) === id);
      expect(c?.keyrings.every((k) => k.padding === 'pkcs1')).toBe(true);
    }
    const pkcs1Only = index.cases.filter(
      (c) => c.expect === 'success' && c.keyrings.every((k) => k.padding === 'pkcs1'),
    );
    expect(new Set(pkcs1Only.map(caseId))).toEqual(pkcs1Refused ? known : new Set());
  });
});

/** Test-only keyring for the commitment KATs: hands back the data key given in the file. */
class StaticKeyring implements Keyring {
  constructor(private readonly key: Buffer) {}
  onEncrypt(): Promise<never> {
    return Promise.reject(new Error('decrypt only'));
  }
  onDecrypt(m: DecryptionMaterials): Promise<DecryptionMaterials> {
    m.plaintextDataKey = Buffer.from(this.key);
    return Promise.resolve(m);
  }
}

interface Kat {
  ciphertext: string;
  'decrypted-dek': string;
  status: 'True' | 'False' | boolean;
  'plaintext-frames': string | string[];
  comment?: string;
}

describe('key commitment known-answer messages', () => {
  const kat = JSON.parse(
    readFileSync(join(DIR, 'commitment-kat/commitment-test-vectors.json'), 'utf8'),
  ) as { tests: Kat[] };
  it.each(kat.tests.map((t, i) => [i + 1, t] as const))('KAT %i', async (_i, t) => {
    const ok = t.status === true || t.status === 'True';
    const run = decrypt(Buffer.from(t.ciphertext, 'base64'), {
      keyring: new StaticKeyring(Buffer.from(t['decrypted-dek'], 'base64')),
    });
    if (!ok) {
      const e = await run.then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(DecryptionError.is(e)).toBe(true);
      expect((e as Error).message).toMatch(/commitment/);
      return;
    }
    const pf = t['plaintext-frames'];
    const frames = Array.isArray(pf) ? pf : (JSON.parse(pf.replace(/'/g, '"')) as string[]);
    const r = await run;
    expect(r.plaintext.toString('utf8')).toBe(frames.join(''));
  });
});
