/**
 * A KMS error as it goes on the wire: `{"__type": name, "message": message}` with an HTTP status.
 *
 * Statuses follow DESIGN §5 (what KMS actually sends), not the SDK model's `httpError` traits: the wire
 * carries 400 for every client fault, 412 for DryRun, 500 for internal errors and 503 for dependency
 * timeouts. The SDK picks the error class from `__type`, so the status only matters to retry logic.
 */
export class KmsError extends Error {
  readonly type: string;
  readonly status: number;

  constructor(type: string, message: string, status = 400) {
    super(message);
    this.type = type;
    this.status = status;
    this.name = 'KmsError';
  }
}

/** The exact throttle message KMS sends (DESIGN §5). */
export const THROTTLE_MESSAGE =
  'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.';

/** `ValidationException` with the AWS wording for one failed constraint. */
export function validation(message: string): KmsError {
  return new KmsError('ValidationException', message);
}

/** `SerializationException`: the body is not the JSON shape the operation takes. */
export function serialization(message: string): KmsError {
  return new KmsError('SerializationException', message);
}

/** `NotFoundException` for a key that does not exist in the request's region. */
export function keyNotFound(arnOrId: string): KmsError {
  return new KmsError('NotFoundException', `Key '${arnOrId}' does not exist`);
}

/** `NotFoundException` for an alias that does not exist in the request's region. */
export function aliasNotFound(aliasArn: string): KmsError {
  return new KmsError('NotFoundException', `Alias ${aliasArn} is not found.`);
}
