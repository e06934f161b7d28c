import { randomUUID } from 'node:crypto';
import type {
  AbsoluteLocation,
  FinalizeHandler,
  FinalizeHandlerArguments,
  FinalizeHandlerOutput,
  FinalizeRequestHandlerOptions,
  HandlerExecutionContext,
  MetadataBearer,
  RetryErrorType,
  SdkError,
} from '@smithy/types';
import { AbortedError, SteadyKmsError } from '../errors.js';
import { channels, type RetryMessage } from '../events/channels.js';
import { classifyError, type ErrorClass } from '../retry/classifyError.js';
import { RetryRefusedError, type SteadyRetryToken } from '../retry/retryStrategy.js';
import { operationState } from './context.js';
import type { PluginState } from './operationMiddleware.js';

/**
 * Options of the retry middleware. It takes the SDK's own `retryMiddleware` slot (same name, step and
 * priority, `override: true`), so the client's `retryStrategy`, `retryMode` and the SDK's adaptive rate
 * limiter are never consulted: exactly one retry loop and one pacer per call.
 */
export const retryMiddlewareOptions: FinalizeRequestHandlerOptions &
  AbsoluteLocation & { name: string; override: boolean } = {
  name: 'retryMiddleware',
  step: 'finalizeRequest',
  priority: 'high',
  tags: ['RETRY', 'STEADYKMS'],
  override: true,
};

const ERROR_TYPES: Record<ErrorClass, RetryErrorType> = {
  throttled: 'THROTTLING',
  transient: 'TRANSIENT',
  unsent: 'TRANSIENT',
  server: 'SERVER_ERROR',
  quota: 'CLIENT_ERROR',
  aborted: 'CLIENT_ERROR',
  client: 'CLIENT_ERROR',
};

function headersOf(request: unknown): Record<string, string> | undefined {
  if (typeof request !== 'object' || request === null) return undefined;
  const headers = (request as { headers?: unknown }).headers;
  return typeof headers === 'object' && headers !== null
    ? (headers as Record<string, string>)
    : undefined;
}

/**
 * The retry loop (finalizeRequest step), driven by the plugin's `SteadyRetryStrategy`. Each attempt
 * goes down through the limiter middleware, which waits for a send slot, so every attempt is paced.
 * Backoff sleeps honour the caller's `abortSignal`.
 */
export function retryMiddleware(plugin: PluginState) {
  const { config } = plugin;
  const strategy = config.retryStrategy;
  return <Input extends object, Output extends MetadataBearer>(
      next: FinalizeHandler<Input, Output>,
      context: HandlerExecutionContext,
    ): FinalizeHandler<Input, Output> =>
    async (args: FinalizeHandlerArguments<Input>): Promise<FinalizeHandlerOutput<Output>> => {
      const state = operationState(context);
      let token: SteadyRetryToken = strategy.acquireTokenFor(
        state === undefined
          ? {}
          : {
              idempotent: state.classification.idempotent,
              deadline: state.deadline,
              signal: state.signal,
            },
      );
      const headers = headersOf(args.request);
      if (headers !== undefined) headers['amz-sdk-invocation-id'] = randomUUID();
      for (;;) {
        if (headers !== undefined) {
          headers['amz-sdk-request'] =
            `attempt=${token.retryCount + 1}; max=${strategy.maxAttempts}`;
        }
        try {
          const result = await next(args);
          strategy.recordSuccess(token);
          const meta = result.output.$metadata;
          meta.attempts = token.retryCount + 1;
          meta.totalRetryDelay = state?.retryDelayMs ?? 0;
          return result;
        } catch (e) {
          if (SteadyKmsError.is(e) && (e.code === 'ABORTED' || e.code === 'DEADLINE_EXCEEDED')) {
            throw e;
          }
          const errorClass = classifyError(e);
          try {
            token = strategy.decide(token, {
              error: e as SdkError,
              errorType: ERROR_TYPES[errorClass],
            });
          } catch (refusal) {
            if (state !== undefined && refusal instanceof RetryRefusedError) {
              state.refusal = refusal.reason;
            }
            throw e;
          }
          if (state !== undefined) {
            state.retryDelayMs += token.delayMs;
            if (channels.retry.hasSubscribers) {
              const message: RetryMessage = {
                operationId: state.id,
                operation: state.operation,
                attempt: token.retryCount,
                delayMs: token.delayMs,
                reason: errorClass === 'throttled' ? 'throttled' : 'transient',
              };
              channels.retry.publish(message);
            }
          }
          if (token.delayMs > 0) {
            try {
              await config.sleep(token.delayMs, state?.signal);
            } catch (reason) {
              throw new AbortedError('aborted while backing off before a retry', {
                cause: reason,
              });
            }
          }
        }
      }
    };
}
