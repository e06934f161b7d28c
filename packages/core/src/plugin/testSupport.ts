/**
 * Test helpers for the plugin's unit tests: a `KMSClient` request handler that answers from a script
 * without a network, in the awsJson1_1 wire format. Not exported from the package.
 */
import { Readable } from 'node:stream';

/** One scripted answer: a status and a JSON body, or a thrown network error. */
export type ScriptedAnswer =
  | { readonly status: number; readonly body: Record<string, unknown> }
  | { readonly networkError: string };

export const THROTTLE_BODY = {
  __type: 'ThrottlingException',
  message:
    'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.',
};

export interface ScriptedHandler {
  readonly handle: (request: {
    headers: Record<string, string>;
    body?: unknown;
  }) => Promise<{ response: unknown }>;
  readonly requests: { target: string | undefined; headers: Record<string, string> }[];
}

/**
 * A request handler that answers each request with the next scripted answer (the last one repeats),
 * calling `onRequest` first so a test can record the order of events.
 */
export function scriptedHandler(
  answers: readonly ScriptedAnswer[] | ((target: string, n: number) => ScriptedAnswer),
  onRequest?: (target: string) => void,
): ScriptedHandler {
  const requests: ScriptedHandler['requests'] = [];
  return {
    requests,
    handle(request) {
      const target = request.headers['x-amz-target'];
      requests.push({ target, headers: { ...request.headers } });
      onRequest?.(target ?? '');
      const n = requests.length - 1;
      const answer =
        typeof answers === 'function'
          ? answers(target ?? '', n)
          : (answers[Math.min(n, answers.length - 1)] as ScriptedAnswer);
      if ('networkError' in answer) {
        return Promise.reject(
          Object.assign(new Error(`socket failure ${answer.networkError}`), {
            code: answer.networkError,
          }),
        );
      }
      const body = Buffer.from(JSON.stringify(answer.body));
      return Promise.resolve({
        response: {
          statusCode: answer.status,
          reason: undefined,
          headers: {
            'content-type': 'application/x-amz-json-1.1',
            'content-length': String(body.length),
            'x-amzn-requestid': `req-${n}`,
          },
          body: Readable.from([body]),
        },
      });
    },
  };
}

export const TEST_CREDENTIALS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };

/**
 * Advances a fake clock in `stepMs` steps until `promise` settles (the SDK takes a few event-loop turns
 * to reach the limiter, so one big step could pass before anyone waits). Returns the promise's value.
 */
export async function settle<T>(
  clock: { advance(ms: number): Promise<void> },
  promise: Promise<T>,
  stepMs = 20,
  maxSteps = 5_000,
): Promise<T> {
  let settled = false;
  const watched = promise.finally(() => {
    settled = true;
  });
  watched.catch(() => undefined);
  for (let i = 0; i < maxSteps && !settled; i++) await clock.advance(stepMs);
  return watched;
}
