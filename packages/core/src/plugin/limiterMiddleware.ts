import {
  SMITHY_CONTEXT_KEY,
  type FinalizeHandler,
  type FinalizeHandlerArguments,
  type FinalizeHandlerOutput,
  type HandlerExecutionContext,
  type MetadataBearer,
  type RelativeMiddlewareOptions,
} from '@smithy/types';
import {
  channels,
  type AttemptEndMessage,
  type AttemptStartMessage,
  type LimiterWaitMessage,
  type ThrottleMessage,
} from '../events/channels.js';
import type { PoolLimiter } from '../limiter/PoolLimiter.js';
import { classifyOperation } from '../quotas/index.js';
import { classifyError } from '../retry/classifyError.js';
import { operationState, type OperationState } from './context.js';
import type { PluginState } from './operationMiddleware.js';

/**
 * Options of the limiter middleware: right after the retry middleware, so it runs once per attempt,
 * and before request signing, so a long wait does not age the signature.
 */
export const limiterMiddlewareOptions: RelativeMiddlewareOptions & {
  name: string;
  override: boolean;
} = {
  name: 'steadykmsLimiterMiddleware',
  relation: 'after',
  toMiddleware: 'retryMiddleware',
  tags: ['STEADYKMS'],
  override: true,
};

function signingRegion(context: HandlerExecutionContext): string | undefined {
  const smithy = context[SMITHY_CONTEXT_KEY] as
    | { selectedHttpAuthScheme?: { httpAuthOption?: { signingProperties?: { region?: unknown } } } }
    | undefined;
  const region = smithy?.selectedHttpAuthScheme?.httpAuthOption?.signingProperties?.region;
  return typeof region === 'string' && region.length > 0 ? region : undefined;
}

/**
 * Publishes `attempt:end` for a response's output or an SDK error (both carry `$metadata`). Called only
 * when the attempt was timed, i.e. someone listened when it started.
 */
function publishAttemptEnd(
  state: OperationState,
  attempt: number,
  pool: string,
  durationMs: number,
  carrier: unknown,
  outcome: AttemptEndMessage['outcome'],
): void {
  if (!channels.attemptEnd.hasSubscribers) return;
  const message: AttemptEndMessage = {
    operationId: state.id,
    operation: state.operation,
    attempt,
    pool,
    region: state.region,
    durationMs,
    httpStatus: statusOf(carrier),
    requestId: requestIdOf(carrier),
    outcome,
    errorName: outcome !== 'ok' && carrier instanceof Error ? carrier.name : undefined,
  };
  channels.attemptEnd.publish(message);
}

/** Error classes reported as a `transient` attempt outcome: 5xx, resets, timeouts, unsent requests. */
const TRANSIENT_CLASSES: ReadonlySet<string> = new Set(['transient', 'server', 'unsent']);

function statusOf(e: unknown): number | undefined {
  const meta = (e as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata;
  return typeof meta?.httpStatusCode === 'number' ? meta.httpStatusCode : undefined;
}

function requestIdOf(e: unknown): string | undefined {
  const meta = (e as { $metadata?: { requestId?: unknown } } | null)?.$metadata;
  return typeof meta?.requestId === 'string' ? meta.requestId : undefined;
}

/**
 * The limiter middleware (finalizeRequest, after retry): for every attempt, waits for a send slot in
 * each pool the call debits, publishes `attempt:start`/`attempt:end`, and on a throttle lowers the
 * primary pool's rate and publishes `throttle`.
 */
export function limiterMiddleware(plugin: PluginState) {
  const { config, facts } = plugin;

  const refineRegion = (state: OperationState, context: HandlerExecutionContext): void => {
    if (state.regionKnown) return;
    const region = signingRegion(context);
    if (region === undefined) return;
    plugin.learnedRegion = region;
    state.regionKnown = true;
    if (region !== state.region) {
      state.region = region;
      state.accountId ??= facts.account(region) ?? config.accountId;
      state.classification = classifyOperation(
        state.operation,
        state.input,
        region,
        facts.keyInfo(state.keyId),
      );
    }
  };

  return <Input extends object, Output extends MetadataBearer>(
      next: FinalizeHandler<Input, Output>,
      context: HandlerExecutionContext,
    ): FinalizeHandler<Input, Output> =>
    async (args: FinalizeHandlerArguments<Input>): Promise<FinalizeHandlerOutput<Output>> => {
      const state = operationState(context);
      if (state === undefined) return next(args);
      refineRegion(state, context);
      const attempt = ++state.attempts;
      let primary: PoolLimiter | undefined;
      let grantedAt = 0;
      if (!config.unlimited) {
        const account = state.accountId ?? 'default';
        for (const charge of state.classification.charges) {
          const id = `${account}\u0000${charge.region}\u0000${charge.pool}`;
          let limiter = plugin.limiters.get(id);
          if (limiter === undefined) {
            const quota = config.quota(charge.pool, charge.region);
            limiter = Number.isFinite(quota)
              ? config.registry.limiter(
                  { accountId: account, region: charge.region, pool: charge.pool },
                  quota,
                  config.share(charge.pool),
                  config.limiter,
                )
              : null;
            plugin.limiters.set(id, limiter);
          }
          if (limiter === null) continue;
          primary ??= limiter;
          const waitMs =
            state.signal?.aborted !== true && limiter.tryAcquire(charge.cost)
              ? 0
              : await limiter.acquire({
                  cost: charge.cost,
                  priority: state.priority,
                  signal: state.signal,
                  deadline: state.deadline,
                });
          state.waitMs += waitMs;
          if (waitMs > 0 && channels.limiterWait.hasSubscribers) {
            const message: LimiterWaitMessage = {
              operationId: state.id,
              pool: charge.pool,
              region: charge.region,
              accountId: state.accountId,
              waitMs,
              priority: state.priority,
            };
            channels.limiterWait.publish(message);
          }
        }
        if (primary !== undefined) grantedAt = config.clock.now();
      }
      const pool = state.classification.charges[0].pool;
      if (channels.attemptStart.hasSubscribers) {
        const message: AttemptStartMessage = {
          operationId: state.id,
          operation: state.operation,
          attempt,
          pool,
          region: state.region,
        };
        channels.attemptStart.publish(message);
      }
      const timed = channels.attemptEnd.hasSubscribers;
      const t0 = timed ? config.clock.now() : 0;
      try {
        const result = await next(args);
        if (timed)
          publishAttemptEnd(state, attempt, pool, config.clock.now() - t0, result.output, 'ok');
        return result;
      } catch (e) {
        const cls = classifyError(e);
        if (cls === 'throttled') {
          state.throttles++;
          const rate = primary?.onThrottle(grantedAt);
          if (channels.throttle.hasSubscribers) {
            const message: ThrottleMessage = {
              operationId: state.id,
              operation: state.operation,
              attempt,
              pool,
              region: state.region,
              accountId: state.accountId,
              rate: rate ?? Number.POSITIVE_INFINITY,
            };
            channels.throttle.publish(message);
          }
        }
        if (timed) {
          const outcome =
            cls === 'throttled' ? 'throttled' : TRANSIENT_CLASSES.has(cls) ? 'transient' : 'error';
          publishAttemptEnd(state, attempt, pool, config.clock.now() - t0, e, outcome);
        }
        throw e;
      }
    };
}
