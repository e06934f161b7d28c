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
  it('gives each scope its own region when scopes of the same length alternate', () => {
    const header = (region: string, signature: string): string =>
      `AWS4-HMAC-SHA256 Credential=AKID/20261128/${region}/kms/aws4_request, SignedHeaders=host, Signature=${signature}`;
    for (let i = 0; i < 3; i++) {
      expect(regionFromAuthorization(header('eu-west-1', `a${i}`))).toBe('eu-west-1');
      expect(regionFromAuthorization(header('eu-west-2', `b${i}`))).toBe('eu-west-2');
      expect(regionFromAuthorization(header('eu_west-1', `c${i}`))).toBeUndefined();
      expect(regionFromAuthorization(header('eu-west-1', `d${i}`))).toBe('eu-west-1');
    }
    // The same scope as the last one, then one that only extends it.
    expect(
      regionFromAuthorization(
        'AWS4-HMAC-SHA256 Credential=AKID/20261128/eu-west-1/kms/aws4_request',
      ),
    ).toBe('eu-west-1');
    expect(
      regionFromAuthorization(
        'AWS4-HMAC-SHA256 Credential=AKID/20261128/eu-west-1/kms/aws4_requestX, SignedHeaders=host',
      ),
    ).toBeUndefined();
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
