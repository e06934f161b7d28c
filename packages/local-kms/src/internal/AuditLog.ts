import { createWriteStream, type WriteStream } from 'node:fs';
import { randomUUID } from 'node:crypto';

/** One audit record, shaped like the CloudTrail record KMS writes for an API call. */
export interface AuditEvent {
  readonly eventVersion: '1.08';
  readonly userIdentity: {
    readonly type: 'IAMUser';
    readonly accountId: string;
    readonly accessKeyId?: string;
  };
  /** ISO 8601 time from the server's clock. */
  readonly eventTime: string;
  readonly eventSource: 'kms.amazonaws.com';
  readonly eventName: string;
  readonly awsRegion: string;
  readonly sourceIPAddress: string;
  readonly userAgent: string;
  /** The request, with camelCase names and every blob (plaintext, ciphertext, message...) left out. */
  readonly requestParameters: Readonly<Record<string, unknown>> | null;
  readonly responseElements: null;
  readonly requestID: string;
  readonly eventID: string;
  readonly readOnly: boolean;
  readonly resources?: readonly {
    readonly accountId: string;
    readonly type: 'AWS::KMS::Key';
    readonly ARN: string;
  }[];
  readonly eventType: 'AwsApiCall';
  readonly managementEvent: true;
  readonly recipientAccountId: string;
  readonly eventCategory: 'Management';
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

/** Request members that carry secrets or bulk bytes; CloudTrail omits them too. */
const BLOBS = new Set([
  'Plaintext',
  'CiphertextBlob',
  'Message',
  'Signature',
  'Mac',
  'Policy',
  'PublicKey',
  'EncryptedKeyMaterial',
  'ImportToken',
  'Recipient',
  'GrantTokens',
]);

/** Operations that change nothing, so CloudTrail marks them `readOnly`. */
const WRITES =
  /^(Create|Delete|Disable|Enable|Import|Put|Replicate|Retire|Revoke|Rotate|Schedule|Cancel|Tag|Untag|Update|Connect|Disconnect)/;

/** The request parameters as CloudTrail logs them. */
export function requestParameters(
  input: Readonly<Record<string, unknown>>,
): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    if (BLOBS.has(k)) continue;
    out[k.charAt(0).toLowerCase() + k.slice(1)] = v;
  }
  return Object.keys(out).length === 0 ? null : out;
}

/** What the server knows about one call when it answers it. */
export interface AuditInput {
  readonly operation: string;
  readonly region: string;
  readonly input: Readonly<Record<string, unknown>> | undefined;
  readonly keyArn: string | undefined;
  readonly accessKeyId: string | undefined;
  readonly sourceIp: string;
  readonly userAgent: string;
  readonly requestId: string;
  readonly time: number;
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

/**
 * CloudTrail-shaped audit records: the last `capacity` in memory (for `GET /__admin/audit`) and, when a
 * path is given, every one appended to that file as a JSON line. The file is buffered, not synced per
 * record: audit must not put a disk flush on the crypto hot path.
 */
export class AuditLog {
  readonly #accountId: string;
  readonly #ring: AuditEvent[] = [];
  readonly #capacity: number;
  readonly #file: WriteStream | undefined;

  constructor(accountId: string, path: string | undefined, capacity = 1000) {
    this.#accountId = accountId;
    this.#capacity = capacity;
    this.#file =
      path === undefined ? undefined : createWriteStream(path, { flags: 'a', mode: 0o600 });
  }

  record(a: AuditInput): void {
    const event: AuditEvent = {
      eventVersion: '1.08',
      userIdentity: {
        type: 'IAMUser',
        accountId: this.#accountId,
        ...(a.accessKeyId === undefined ? {} : { accessKeyId: a.accessKeyId }),
      },
      eventTime: new Date(a.time).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      eventSource: 'kms.amazonaws.com',
      eventName: a.operation,
      awsRegion: a.region,
      sourceIPAddress: a.sourceIp,
      userAgent: a.userAgent,
      requestParameters: a.input === undefined ? null : requestParameters(a.input),
      responseElements: null,
      requestID: a.requestId,
      eventID: randomUUID(),
      readOnly: !WRITES.test(a.operation),
      ...(a.keyArn === undefined
        ? {}
        : { resources: [{ accountId: this.#accountId, type: 'AWS::KMS::Key', ARN: a.keyArn }] }),
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: this.#accountId,
      eventCategory: 'Management',
      ...(a.errorCode === undefined ? {} : { errorCode: a.errorCode }),
      ...(a.errorMessage === undefined ? {} : { errorMessage: a.errorMessage }),
    };
    this.#ring.push(event);
    if (this.#ring.length > this.#capacity) this.#ring.shift();
    this.#file?.write(`${JSON.stringify(event)}\n`);
  }

  /** The most recent records, oldest first. */
  recent(limit = this.#capacity): AuditEvent[] {
    return this.#ring.slice(-limit);
  }

  close(): Promise<void> {
    const file = this.#file;
    if (file === undefined) return Promise.resolve();
    return new Promise((resolve) => file.end(() => resolve()));
  }
}
