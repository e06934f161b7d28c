/** A parsed AWS KMS key ARN. @internal */
export interface KmsArn {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly resourceType: string;
  readonly resourceId: string;
}

/**
 * Parses `arn:<partition>:kms:<region>:<account>:<type>/<id>`; undefined when it is not a valid AWS KMS
 * ARN (the ESDK's definition: type `key` or `alias`, every part non-empty). @internal
 */
export function parseKmsArn(s: string): KmsArn | undefined {
  const parts = s.split(':');
  if (parts.length !== 6 || parts[0] !== 'arn' || parts[2] !== 'kms') return undefined;
  const [, partition, , region, account, resource] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const slash = resource.indexOf('/');
  if (!partition || !region || !account || slash <= 0) return undefined;
  const resourceType = resource.slice(0, slash);
  const resourceId = resource.slice(slash + 1);
  if ((resourceType !== 'key' && resourceType !== 'alias') || !resourceId) return undefined;
  return { partition, region, account, resourceType, resourceId };
}

/** True for a multi-Region key ARN (or bare key id): its resource id starts with `mrk-`. @internal */
export function isMrk(idOrArn: string): boolean {
  const arn = parseKmsArn(idOrArn);
  if (arn) return arn.resourceType === 'key' && arn.resourceId.startsWith('mrk-');
  return idOrArn.startsWith('mrk-');
}

/**
 * The ESDK's multi-Region-key match: identical identifiers match; two MRK ARNs match when everything but
 * the region is equal. @internal
 */
export function mrkMatch(a: string, b: string): boolean {
  //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-match-for-decrypt.md#implementation
  //# If both identifiers are identical, this function MUST return `true`.
  if (a === b) return true;
  //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-match-for-decrypt.md#implementation
  //# Otherwise if either input is not identified as a multi-Region key,
  //# then this function MUST return `false`.
  if (!isMrk(a) || !isMrk(b)) return false;
  const x = parseKmsArn(a);
  const y = parseKmsArn(b);
  // Two bare `mrk-` key ids that differ are different keys: there is no ARN to compare.
  if (!x || !y) return false;
  //= aws-encryption-sdk-specification/framework/aws-kms/aws-kms-mrk-match-for-decrypt.md#implementation
  //# Otherwise if both inputs are identified as a multi-Region keys,
  //# this function MUST return the result of comparing
  //# the `partition`, `service`, `accountId`, `resourceType`, and `resource` parts of both ARN inputs.
  // `service` is `kms` in both: parseKmsArn accepts nothing else.
  return (
    x.partition === y.partition &&
    x.account === y.account &&
    x.resourceType === y.resourceType &&
    x.resourceId === y.resourceId
  );
}
