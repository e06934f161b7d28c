import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { KmsError } from './errors.js';

/**
 * Reads the region from the credential scope of a SigV4 `Authorization` header:
 * `AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1/kms/aws4_request, SignedHeaders=..., Signature=...`.
 *
 * Signatures are not verified: local-kms trusts whoever can reach it, and parsing is a handful of
 * `indexOf` calls because this runs on every request. Returns `undefined` when the header has no
 * credential scope for the `kms` service.
 */
export function regionFromAuthorization(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const start = header.indexOf('Credential=');
  if (start < 0) return undefined;
  let end = header.indexOf(',', start);
  if (end < 0) end = header.length;
  const from = start + 11;
  // A client signs every request with the same scope all day: compare it in place with the last one.
  if (
    lastScope !== undefined &&
    end - from === lastScope.length &&
    header.startsWith(lastScope, from)
  ) {
    return lastRegion;
  }
  const raw = header.slice(from, end);
  const region = regionOfScope(raw.trim());
  lastScope = raw;
  lastRegion = region;
  return region;
}

/** The credential scope last parsed by {@link regionFromAuthorization}, as sent, and its region. */
let lastScope: string | undefined;
let lastRegion: string | undefined;

function regionOfScope(scope: string): string | undefined {
  // AKID / date / region / service / aws4_request
  const parts = scope.split('/');
  if (parts.length !== 5) return undefined;
  const region = parts[2];
  if (region === undefined || !/^[a-z0-9-]{1,64}$/.test(region)) return undefined;
  if (parts[3] !== 'kms' || parts[4] !== 'aws4_request') return undefined;
  return region;
}

/** The access key id of a SigV4 `Authorization` header's credential scope, or `undefined`. */
export function accessKeyIdFromAuthorization(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const start = header.indexOf('Credential=');
  if (start < 0) return undefined;
  const slash = header.indexOf('/', start);
  return slash < 0 ? undefined : header.slice(start + 11, slash);
}

/** A strict-mode credential: the secret, or the secret and the principal ARN it signs as. */
export type StrictCredential =
  string | { readonly secretAccessKey: string; readonly principal: string };

const INVALID_SIGNATURE =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.';

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** Header values as SigV4 canonicalises them: every value of the name, trimmed, spaces collapsed, joined by commas. */
function canonicalHeaderValue(raw: readonly string[], name: string): string | undefined {
  const values: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() === name) values.push((raw[i + 1] ?? '').trim().replace(/\s+/g, ' '));
  }
  return values.length === 0 ? undefined : values.join(',');
}

/**
 * Verifies the AWS Signature Version 4 of a request (strict mode): the access key must be one of
 * `credentials`, and the signature must match the canonical request rebuilt from the method, path,
 * query, signed headers and the body's SHA-256. Returns the KMS error to answer with, or `undefined`.
 */
export function verifySignature(
  req: Pick<IncomingMessage, 'headers' | 'rawHeaders' | 'url' | 'method'>,
  body: Buffer,
  credentials: Readonly<Record<string, StrictCredential>>,
): KmsError | undefined {
  const auth = req.headers.authorization;
  if (auth === undefined) {
    return new KmsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/.exec(
      auth.trim(),
    );
  if (m === null) {
    return new KmsError(
      'IncompleteSignatureException',
      'The Authorization header is not a SigV4 header.',
    );
  }
  const [, accessKeyId, date, region, service, signedHeaders, signature] = m as unknown as string[];
  const credential = credentials[accessKeyId!];
  const secret = typeof credential === 'string' ? credential : credential?.secretAccessKey;
  if (secret === undefined) {
    return new KmsError(
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  }
  const amzDate = req.headers['x-amz-date'];
  if (typeof amzDate !== 'string' || !amzDate.startsWith(date!)) {
    return new KmsError(
      'IncompleteSignatureException',
      'X-Amz-Date is missing or does not match the credential scope date.',
    );
  }
  const names = signedHeaders!.split(';');
  const lines: string[] = [];
  for (const name of names) {
    const value = canonicalHeaderValue(req.rawHeaders, name);
    if (value === undefined) return new KmsError('InvalidSignatureException', INVALID_SIGNATURE);
    lines.push(`${name}:${value}\n`);
  }
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query =
    q < 0
      ? ''
      : url
          .slice(q + 1)
          .split('&')
          .filter((p) => p !== '')
          .sort()
          .join('&');
  const payloadHash = createHash('sha256').update(body).digest('hex');
  const canonical = [
    'POST' === req.method ? 'POST' : (req.method ?? ''),
    path,
    query,
    lines.join(''),
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonical).digest('hex'),
  ].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date!), region!), service!), 'aws4_request');
  const expected = Buffer.from(hmac(key, toSign).toString('hex'));
  const given = Buffer.from(signature!);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return new KmsError('InvalidSignatureException', INVALID_SIGNATURE);
  }
  return undefined;
}
