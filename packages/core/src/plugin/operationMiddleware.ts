import {
  SMITHY_CONTEXT_KEY,
  type AbsoluteLocation,
  type HandlerExecutionContext,
  type InitializeHandler,
  type InitializeHandlerArguments,
  type InitializeHandlerOptions,
  type InitializeHandlerOutput,
  type MetadataBearer,
} from '@smithy/types';
import {
  AbortedError,
  KmsError,
  QuotaExceededError,
  SteadyKmsError,
  ThrottledError,
  type OperationFacts,
} from '../errors.js';
import {
  channels,
  type CacheResult,
  type OperationEndMessage,
  type OperationStartMessage,
} from '../events/channels.js';
import { classifyOperation, keyIdOf, keyInfoFromResponse } from '../quotas/index.js';
import { classifyError } from '../retry/classifyError.js';
import {
  CONTEXT_KEYS,
  type CallOptions,
  type OperationState,
  type StateContext,
} from './context.js';
import { deadlineOf } from './deadlineSignal.js';
import type { KeyFacts } from './KeyFacts.js';
import type { SteadyKmsResolvedConfig } from './options.js';
import type { PoolLimiter } from '../limiter/PoolLimiter.js';

let lastOperationId = 0;

/** Options of the operation middleware: outermost in the initialize step. */
export const operationMiddlewareOptions: InitializeHandlerOptions &
  AbsoluteLocation & { name: string } = {
  name: 'steadykmsOperationMiddleware',
  step: 'initialize',
  priority: 'high',
  tags: ['STEADYKMS'],
  override: true,
};

/** Shared between the middlewares of one plugin instance. */
export interface PluginState {
  readonly config: SteadyKmsResolvedConfig;
  readonly facts: KeyFacts;
  /** The client's region once the signing scope has shown it, when not configured. */
  learnedRegion: string | undefined;
  /** The configured region, resolved once (a client's region does not change). */
  region: string | undefined;
  /** Pool limiters by account, region and pool (`null`: not paced), so a call skips the lookups. */
  readonly limiters: Map<string, PoolLimiter | null>;
}

const REFUSALS: Record<string, string> = {
  'not-retryable': 'not retryable',
  ambiguous: 'not retried: the call is not idempotent and may have taken effect',
  'max-attempts': 'retry.maxAttempts reached',
  'max-total-time': 'retry.maxTotalTimeMs reached',
  deadline: "the caller's deadline would pass",
  budget: 'the retry budget is spent',
  aborted: 'aborted',
};

function operationName(context: HandlerExecutionContext): string {
  const smithy = context[SMITHY_CONTEXT_KEY] as { operation?: unknown } | undefined;
  if (typeof smithy?.operation === 'string') return smithy.operation;
  const name = context.commandName ?? 'Unknown';
  return name.endsWith('Command') ? name.slice(0, -'Command'.length) : name;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function isFromKms(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const r = e as Record<string, unknown>;
  return r['$metadata'] !== undefined || r['$fault'] !== undefined;
}

/** Turns whatever reached the operation boundary into the error the caller sees. */
export function toCallerError(e: unknown, s: OperationState): unknown {
  if (SteadyKmsError.is(e)) return e;
  const facts: OperationFacts = {
    operation: s.operation,
    attempts: s.attempts,
    throttles: s.throttles,
    waitMs: s.waitMs,
  };
  const cls = classifyError(e);
  let wrapped: KmsError | AbortedError;
  if (cls === 'aborted' || s.signal?.aborted === true) {
    return new AbortedError(`${s.operation} aborted by the caller`, { cause: e });
  } else if (cls === 'throttled') {
    wrapped = new ThrottledError(facts, e, REFUSALS[s.refusal ?? 'max-attempts'] ?? 'gave up');
  } else if (cls === 'quota') {
    wrapped = new QuotaExceededError(facts, e);
  } else if (cls === 'client' && !isFromKms(e)) {
    // Not an answer from KMS nor a transport failure (a bug in a user middleware, a credentials
    // provider error): the caller gets it unchanged.
    return e;
  } else {
    wrapped = new KmsError(facts, e);
  }
  (wrapped.$metadata as Record<string, unknown>)['totalRetryDelay'] = s.retryDelayMs;
  return wrapped;
}

/**
 * The operation middleware (initialize step, outermost): classifies the call, sets
 * `context['steadykms.operationId']` before anything else runs, publishes `operation:start` and
 * `operation:end`, learns key specs and the account from responses, and turns errors into typed
 * `SteadyKmsError`s.
 */
export function operationMiddleware(plugin: PluginState) {
  const { config, facts } = plugin;
  return <Input extends object, Output extends MetadataBearer>(
      next: InitializeHandler<Input, Output>,
      context: HandlerExecutionContext,
    ): InitializeHandler<Input, Output> =>
    async (args: InitializeHandlerArguments<Input>): Promise<InitializeHandlerOutput<Output>> => {
      const ctx = context as StateContext;
      const id = ++lastOperationId;
      ctx[CONTEXT_KEYS.operationId] = id;
      const operation = operationName(context);
      const input = args.input as Record<string, unknown>;
      const keyId = keyIdOf(operation, input);
      const arn = facts.arn(keyId);
      let region: string;
      let regionKnown = true;
      if (config.region !== undefined) region = plugin.region ??= await config.region();
      else if (plugin.learnedRegion !== undefined) region = plugin.learnedRegion;
      else {
        region = arn?.region ?? 'unknown';
        regionKnown = false;
      }
      if (arn !== undefined && arn.region === region) {
        facts.learnAccount(arn.region, arn.accountId);
        if (
          config.accountId === undefined &&
          config.registry.bindDefaultAccount(region, arn.accountId)
        ) {
          plugin.limiters.clear();
        }
      }
      const accountId =
        (arn?.region === region ? arn.accountId : undefined) ??
        facts.account(region) ??
        config.accountId;
      const call = ctx[CONTEXT_KEYS.call] as CallOptions | undefined;
      const signal = (context[SMITHY_CONTEXT_KEY] as { abortSignal?: AbortSignal } | undefined)
        ?.abortSignal;
      const budget = call?.deadlineMs ?? config.deadlineMs;
      const signalDeadline = deadlineOf(signal);
      const observed = channels.operationEnd.hasSubscribers;
      const needNow = observed || budget !== undefined;
      const startedAt = needNow ? config.clock.now() : 0;
      const deadline =
        budget !== undefined
          ? Math.min(startedAt + budget, signalDeadline ?? Number.POSITIVE_INFINITY)
          : signalDeadline;
      const state: OperationState = {
        id,
        operation,
        input,
        classification: classifyOperation(operation, input, region, facts.keyInfo(keyId)),
        region,
        regionKnown,
        accountId,
        keyId,
        priority: call?.priority ?? config.priority,
        signal,
        deadline,
        attempts: 0,
        throttles: 0,
        waitMs: 0,
        retryDelayMs: 0,
        refusal: undefined,
      };
      ctx[CONTEXT_KEYS.operation] = state;
      if (channels.operationStart.hasSubscribers) {
        const ec = input['EncryptionContext'];
        const message: OperationStartMessage = {
          operationId: id,
          operation,
          region,
          accountId,
          pool: state.classification.charges[0].pool,
          billing: state.classification.billing,
          keyId,
          encryptionContext:
            ec !== null && typeof ec === 'object' ? (ec as Record<string, string>) : undefined,
          startTime: Date.now(),
        };
        channels.operationStart.publish(message);
      }
      const end = (
        output: Record<string, unknown> | undefined,
        error: unknown,
        requestId: string | undefined,
      ): void => {
        if (!observed || !channels.operationEnd.hasSubscribers) return;
        const cache = (ctx[CONTEXT_KEYS.cache] as CacheResult | undefined) ?? 'bypass';
        const keyArn =
          str(output?.['KeyId']) ??
          str((output?.['KeyMetadata'] as Record<string, unknown> | undefined)?.['Arn']);
        const message: OperationEndMessage = {
          operationId: id,
          operation,
          region: state.region,
          accountId: state.accountId,
          pool: state.classification.charges[0].pool,
          billing: state.classification.billing,
          keyId,
          keyArn: keyArn !== undefined && keyArn.startsWith('arn:') ? keyArn : undefined,
          requestId,
          attempts: state.attempts,
          throttles: state.throttles,
          waitMs: state.waitMs,
          durationMs: config.clock.now() - startedAt,
          cache,
          error:
            error === undefined
              ? undefined
              : {
                  name: error instanceof Error ? error.name : 'Error',
                  code: SteadyKmsError.is(error) ? error.code : undefined,
                },
        };
        channels.operationEnd.publish(message);
      };
      let result: InitializeHandlerOutput<Output>;
      try {
        result = await next(args);
      } catch (e) {
        const err = toCallerError(e, state);
        const meta = (err as { $metadata?: { requestId?: string } }).$metadata;
        end(undefined, err, meta?.requestId);
        throw err;
      }
      const output = result.output as unknown as Record<string, unknown>;
      const learned = keyInfoFromResponse(output);
      if (learned !== undefined) facts.learnKey(learned.keyArn, learned.info, keyId);
      const outArn = facts.arn(str(output['KeyId'])) ?? facts.arn(learned?.keyArn);
      if (outArn !== undefined) {
        facts.learnAccount(outArn.region, outArn.accountId);
        if (
          config.accountId === undefined &&
          config.registry.bindDefaultAccount(outArn.region, outArn.accountId)
        ) {
          plugin.limiters.clear();
        }
        if (state.accountId === undefined && outArn.region === state.region) {
          state.accountId = outArn.accountId;
        }
      }
      end(output, undefined, result.output.$metadata?.requestId);
      return result;
    };
}
