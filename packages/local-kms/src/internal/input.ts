import { KmsError, serialization, validation } from './errors.js';
import type { EncryptionContext } from './ciphertext.js';

/** A request body after JSON parsing: always an object. */
export type Input = Readonly<Record<string, unknown>>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function constraint(field: string, rule: string): KmsError {
  return validation(
    `1 validation error detected: Value at '${field}' failed to satisfy constraint: ${rule}`,
  );
}

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** An optional string member with length bounds. */
export function optString(input: Input, name: string, min = 1, max = 2048): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw serialization(`${name} must be a string`);
  if (v.length < min) {
    throw constraint(lowerFirst(name), `Member must have length greater than or equal to ${min}`);
  }
  if (v.length > max) {
    throw constraint(lowerFirst(name), `Member must have length less than or equal to ${max}`);
  }
  return v;
}

/** A required string member with length bounds. */
export function reqString(input: Input, name: string, min = 1, max = 2048): string {
  const v = optString(input, name, min, max);
  if (v === undefined) throw constraint(lowerFirst(name), 'Member must not be null');
  return v;
}

/** An optional integer member within [min, max]. */
export function optInt(input: Input, name: string, min: number, max: number): number | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw serialization(`${name} must be an integer`);
  if (v < min)
    throw constraint(lowerFirst(name), `Member must have value greater than or equal to ${min}`);
  if (v > max)
    throw constraint(lowerFirst(name), `Member must have value less than or equal to ${max}`);
  return v;
}

/** An optional boolean member. */
export function optBool(input: Input, name: string): boolean | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw serialization(`${name} must be a boolean`);
  return v;
}

/** A required blob member: base64 on the wire, `min..max` bytes once decoded. */
export function reqBlob(input: Input, name: string, min: number, max: number): Buffer {
  const v = input[name];
  if (v === undefined || v === null) throw constraint(lowerFirst(name), 'Member must not be null');
  if (typeof v !== 'string' || !BASE64.test(v)) {
    throw serialization(`${name} is not valid base64`);
  }
  const bytes = Buffer.from(v, 'base64');
  if (bytes.length < min) {
    throw constraint(lowerFirst(name), `Member must have length greater than or equal to ${min}`);
  }
  if (bytes.length > max) {
    throw constraint(lowerFirst(name), `Member must have length less than or equal to ${max}`);
  }
  return bytes;
}

/** An optional encryption context: an object of string values. */
export function optContext(input: Input, name: string): EncryptionContext | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw serialization(`${name} must be a map`);
  for (const value of Object.values(v as Record<string, unknown>)) {
    if (typeof value !== 'string') throw serialization(`${name} values must be strings`);
  }
  return v as EncryptionContext;
}

/** An optional list of grant tokens; local-kms accepts and ignores them. */
export function checkGrantTokens(input: Input): void {
  const v = input['GrantTokens'];
  if (v === undefined || v === null) return;
  if (!Array.isArray(v) || v.some((t) => typeof t !== 'string')) {
    throw serialization('GrantTokens must be a list of strings');
  }
  if (v.length > 10)
    throw constraint('grantTokens', 'Member must have length less than or equal to 10');
}

/** An optional enum member. */
export function optEnum<T extends string>(
  input: Input,
  name: string,
  values: readonly T[],
): T | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw serialization(`${name} must be a string`);
  if (!(values as readonly string[]).includes(v)) {
    throw constraint(
      lowerFirst(name),
      `Member must satisfy enum value set: [${values.join(', ')}]`,
    );
  }
  return v as T;
}
