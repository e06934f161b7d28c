import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { regionFromAuthorization } from './sigv4.js';

describe('regionFromAuthorization', () => {
  it('reads the region from the SigV4 credential scope', () => {
    expect(
      regionFromAuthorization(
        'AWS4-HMAC-SHA256 Credential=AKID/20261128/eu-west-1/kms/aws4_request, SignedHeaders=host, Signature=abc',
      ),
    ).toBe('eu-west-1');
  });
  it('rejects a missing header, a scope for another service and a malformed scope', () => {
    expect(regionFromAuthorization(undefined)).toBeUndefined();
    expect(
      regionFromAuthorization(
        'AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1/s3/aws4_request',
      ),
    ).toBeUndefined();
    expect(regionFromAuthorization('AWS4-HMAC-SHA256 Credential=AKID/us-east-1')).toBeUndefined();
    expect(regionFromAuthorization('Bearer token')).toBeUndefined();
  });
  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const r = regionFromAuthorization(s);
        expect(r === undefined || /^[a-z0-9-]+$/.test(r)).toBe(true);
      }),
    );
  });
});
