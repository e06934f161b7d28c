import { describe, expect, it } from 'vitest';
import { isMrk, mrkMatch, parseKmsArn } from './arn.js';

const A = 'arn:aws:kms:us-east-1:111122223333:key/mrk-80bd8ecdcd4342aebd84b7dc9da498a7';
const B = 'arn:aws:kms:eu-west-1:111122223333:key/mrk-80bd8ecdcd4342aebd84b7dc9da498a7';
const plain = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('KMS ARNs and multi-Region key matching', () => {
  it('parses key and alias ARNs and refuses anything else', () => {
    expect(parseKmsArn(A)).toEqual({
      partition: 'aws',
      region: 'us-east-1',
      account: '111122223333',
      resourceType: 'key',
      resourceId: 'mrk-80bd8ecdcd4342aebd84b7dc9da498a7',
    });
    expect(parseKmsArn('arn:aws:kms:us-east-1:111122223333:alias/app')?.resourceType).toBe('alias');
    expect(parseKmsArn('arn:aws:s3:::bucket')).toBeUndefined();
    expect(parseKmsArn('alias/app')).toBeUndefined();
    expect(parseKmsArn('arn:aws:kms:us-east-1:111122223333:grant/x')).toBeUndefined();
  });

  it('recognises multi-Region keys by the mrk- prefix', () => {
    expect(isMrk(A)).toBe(true);
    expect(isMrk('mrk-123')).toBe(true);
    expect(isMrk(plain)).toBe(false);
    expect(isMrk('arn:aws:kms:us-east-1:111122223333:alias/mrk-x')).toBe(false);
  });

  //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-match-for-decrypt.md#implementation
  //# If both identifiers are identical, this function MUST return `true`.
  it('If both identifiers are identical, this function MUST return `true`.', () => {
    expect(mrkMatch(plain, plain)).toBe(true);
    expect(mrkMatch(A, A)).toBe(true);
    // Identical identifiers of any form, not only ARNs.
    expect(mrkMatch('alias/app', 'alias/app')).toBe(true);
    expect(mrkMatch('mrk-123', 'mrk-123')).toBe(true);
  });

  //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-match-for-decrypt.md#implementation
  //# Otherwise if either input is not identified as a multi-Region key,
  //# then this function MUST return `false`.
  it('Otherwise if either input is not identified as a multi-Region key, then this function MUST return `false`.', () => {
    expect(mrkMatch(plain, plain.replace('us-east-1', 'eu-west-1'))).toBe(false);
    expect(mrkMatch(A, plain)).toBe(false);
    expect(mrkMatch(plain, A)).toBe(false);
    // An alias whose name starts with mrk- is not a multi-Region key.
    const alias = 'arn:aws:kms:us-east-1:111122223333:alias/mrk-80bd8ecdcd4342aebd84b7dc9da498a7';
    expect(mrkMatch(alias, alias.replace('us-east-1', 'eu-west-1'))).toBe(false);
  });

  //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-match-for-decrypt.md#implementation
  //# Otherwise if both inputs are identified as a multi-Region keys,
  //# this function MUST return the result of comparing
  //# the `partition`, `service`, `accountId`, `resourceType`, and `resource` parts of both ARN inputs.
  it('Otherwise if both inputs are identified as a multi-Region keys, this function MUST return the result of comparing the `partition`, `service`, `accountId`, `resourceType`, and `resource` parts of both ARN inputs.', () => {
    expect(mrkMatch(A, B)).toBe(true);
    expect(mrkMatch(A, B.replace('111122223333', '444455556666'))).toBe(false);
    expect(mrkMatch(A, B.replace(':aws:', ':aws-cn:'))).toBe(false);
    expect(mrkMatch(A, B.replace('mrk-80bd', 'mrk-90bd'))).toBe(false);
    // Another service is not a KMS ARN at all.
    expect(mrkMatch(A, B.replace(':kms:', ':kmz:'))).toBe(false);
    // Two bare multi-Region key ids that differ have no ARN parts to compare.
    expect(mrkMatch('mrk-1', 'mrk-2')).toBe(false);
  });
});
