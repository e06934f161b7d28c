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
  const end = header.indexOf(',', start);
  const scope = header.slice(start + 11, end < 0 ? header.length : end).trim();
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
