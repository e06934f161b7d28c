import { describe, expect, it } from 'vitest';
import { authorize } from './policy.js';

const ACCOUNT = '111122223333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/app`;
const doc = (...Statement: object[]) => JSON.stringify({ Version: '2012-10-17', Statement });

describe('authorize (strict mode key policies)', () => {
  it('the default policy delegates to the account: every principal of the account, no one else', () => {
    expect(authorize('', [], ROLE, ACCOUNT, 'Encrypt', undefined).allowed).toBe(true);
    expect(
      authorize('', [], 'arn:aws:iam::999999999999:root', ACCOUNT, 'Encrypt', undefined).allowed,
    ).toBe(false);
  });

  it('matches actions with wildcards, case-insensitively, and NotAction', () => {
    const p = doc({
      Effect: 'Allow',
      Principal: { AWS: ROLE },
      Action: ['kms:Generate*', 'KMS:decrypt'],
    });
    expect(authorize(p, [], ROLE, ACCOUNT, 'GenerateDataKey', undefined).allowed).toBe(true);
    expect(authorize(p, [], ROLE, ACCOUNT, 'Decrypt', undefined).allowed).toBe(true);
    expect(authorize(p, [], ROLE, ACCOUNT, 'Encrypt', undefined).allowed).toBe(false);
    const not = doc({ Effect: 'Allow', Principal: '*', NotAction: 'kms:ScheduleKeyDeletion' });
    expect(authorize(not, [], ROLE, ACCOUNT, 'Encrypt', undefined).allowed).toBe(true);
    expect(authorize(not, [], ROLE, ACCOUNT, 'ScheduleKeyDeletion', undefined).allowed).toBe(false);
  });

  it('an explicit deny wins over an allow, and ReEncrypt is checked as kms:ReEncryptTo', () => {
    const p = doc(
      { Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:*' },
      { Effect: 'Deny', Principal: { AWS: [ROLE] }, Action: 'kms:ReEncryptTo' },
    );
    const d = authorize(p, [], ROLE, ACCOUNT, 'ReEncrypt', undefined);
    expect(d).toMatchObject({ allowed: false, action: 'kms:ReEncryptTo' });
    expect(authorize(p, [], ROLE, ACCOUNT, 'Decrypt', undefined).allowed).toBe(true);
  });

  it('skips statements with a Condition', () => {
    const p = doc({
      Effect: 'Allow',
      Principal: '*',
      Action: 'kms:*',
      Condition: { Bool: { x: 'true' } },
    });
    expect(authorize(p, [], ROLE, ACCOUNT, 'Encrypt', undefined).allowed).toBe(false);
  });

  it('grants allow their operations for their grantee within their context constraints', () => {
    const grant = {
      GrantId: 'g',
      GrantToken: 't',
      CreationDate: 0,
      GranteePrincipal: ROLE,
      Operations: ['Decrypt'],
      Constraints: { EncryptionContextEquals: { a: '1' } },
    };
    const p = doc();
    expect(authorize(p, [grant], ROLE, ACCOUNT, 'Decrypt', { a: '1' }).allowed).toBe(true);
    expect(authorize(p, [grant], ROLE, ACCOUNT, 'Decrypt', { a: '1', b: '2' }).allowed).toBe(false);
    expect(authorize(p, [grant], ROLE, ACCOUNT, 'Encrypt', { a: '1' }).allowed).toBe(false);
  });
});
