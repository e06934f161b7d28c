import { LRUCache } from 'lru-cache';
import type { KeyInfo } from '../quotas/index.js';

/** The parts of a KMS key or alias ARN. */
export interface KmsArn {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
  readonly resource: 'key' | 'alias';
  readonly id: string;
}

const ARN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):(key|alias)\/(.+)$/;

/** Parses a KMS key or alias ARN; `undefined` for ids, alias names and anything else. */
export function parseKmsArn(value: string | undefined): KmsArn | undefined {
  if (value === undefined) return undefined;
  const m = ARN.exec(value);
  if (m === null) return undefined;
  const [, partition, region, accountId, resource, id] = m;
  if (
    partition === undefined ||
    region === undefined ||
    accountId === undefined ||
    id === undefined
  ) {
    return undefined;
  }
  return { partition, region, accountId, resource: resource === 'alias' ? 'alias' : 'key', id };
}

/**
 * What one client has learned from responses: each key's spec and custom key store (so the next call
 * on it is classified into the right pool), and the account behind each region (so calls naming keys by
 * alias share the bucket of calls naming them by ARN).
 */
export class KeyFacts {
  readonly #keys: LRUCache<string, KeyInfo>;
  readonly #accounts = new Map<string, string>();
  readonly #arns = new Map<string, KmsArn | null>();

  constructor(max: number) {
    this.#keys = new LRUCache({ max });
  }

  /** `parseKmsArn`, memoized: a client names the same few keys over and over. */
  arn(value: string | undefined): KmsArn | undefined {
    if (value === undefined) return undefined;
    let parsed = this.#arns.get(value);
    if (parsed === undefined) {
      if (this.#arns.size >= 1_000) this.#arns.clear();
      parsed = parseKmsArn(value) ?? null;
      this.#arns.set(value, parsed);
    }
    return parsed ?? undefined;
  }

  /** What is known about the key a caller named (ARN, id, alias name or alias ARN). */
  keyInfo(keyId: string | undefined): KeyInfo | undefined {
    if (keyId === undefined) return undefined;
    const direct = this.#keys.get(keyId);
    if (direct !== undefined) return direct;
    const arn = parseKmsArn(keyId);
    return arn?.resource === 'key' ? this.#keys.get(arn.id) : undefined;
  }

  /** Records a key's spec under its ARN, its bare id and the name the caller used. */
  learnKey(keyArn: string, info: KeyInfo, callerKeyId: string | undefined): void {
    if (info.keySpec === undefined && info.customKeyStoreId === undefined) return;
    this.#keys.set(keyArn, info);
    const arn = parseKmsArn(keyArn);
    if (arn !== undefined) {
      this.#keys.set(arn.id, info);
      this.learnAccount(arn.region, arn.accountId);
    }
    if (callerKeyId !== undefined) this.#keys.set(callerKeyId, info);
  }

  /** The account a region's keys belong to, once an ARN has shown it. */
  account(region: string): string | undefined {
    return this.#accounts.get(region);
  }

  learnAccount(region: string, accountId: string): void {
    if (!this.#accounts.has(region)) this.#accounts.set(region, accountId);
  }
}
