import type {
  InitializeHandler,
  InitializeHandlerArguments,
  HandlerExecutionContext,
  MetadataBearer,
  Pluggable,
  Provider,
  RelativeMiddlewareOptions,
} from '@smithy/types';
import { getCacheMiddleware } from '../cache/index.js';
import { CONTEXT_KEYS, type CallOptions } from './context.js';
import { KeyFacts } from './KeyFacts.js';
import { limiterMiddleware, limiterMiddlewareOptions } from './limiterMiddleware.js';
import {
  operationMiddleware,
  operationMiddlewareOptions,
  type PluginState,
} from './operationMiddleware.js';
import {
  resolveSteadyKmsConfig,
  type SteadyKmsPluginOptions,
  type SteadyKmsResolvedConfig,
} from './options.js';
import { retryMiddleware, retryMiddlewareOptions } from './retryMiddleware.js';

/**
 * The steadykms plugin for a `KMSClient`: `client.middlewareStack.use(getSteadyKmsPlugin(options))`.
 *
 * It adds three middlewares (four with a Decrypt cache or coalescing) and changes nothing at call sites:
 * - `steadykmsOperationMiddleware` (initialize, high): classifies the call, events, typed errors;
 * - `steadykmsCacheMiddleware` (right after it, only with `decryptCache` or `coalesce`);
 * - `retryMiddleware` (finalizeRequest, high; replaces the SDK's): retries by `SteadyRetryStrategy`;
 * - `steadykmsLimiterMiddleware` (right after `retryMiddleware`): paces every attempt.
 *
 * Accepts options or an already resolved config (from `resolveSteadyKmsConfig`). The learned key-spec
 * cache, the learned region and the Decrypt cache belong to each client the plugin is applied to (a
 * `DecryptCache` instance passed in is shared on purpose); the pool limiters belong to the process (see
 * `registry`).
 */
export function getSteadyKmsPlugin<
  Input extends object = object,
  Output extends MetadataBearer = MetadataBearer,
>(options: SteadyKmsPluginOptions | SteadyKmsResolvedConfig = {}): Pluggable<Input, Output> {
  const config = isResolved(options) ? options : resolveSteadyKmsConfig(options);
  const raw = isResolved(options) ? {} : options;
  const wantsCache = raw.decryptCache !== undefined || raw.coalesce === true;
  const makeCache = () =>
    getCacheMiddleware<Input, Output>({
      decryptCache: raw.decryptCache,
      coalesce: raw.coalesce ?? false,
      clock: config.clock,
    });
  // Built now so bad cache options fail when the plugin is made; the first client gets this one.
  let unusedCache = wantsCache ? makeCache() : undefined;
  return {
    applyToStack(stack) {
      // Per client, not per plugin object: a plugin applied to two clients (other regions, other
      // credentials) must not let one answer the other's Decrypt from cache, nor share a learned region.
      const state: PluginState = {
        config,
        facts: new KeyFacts(config.keySpecCacheSize),
        learnedRegion: undefined,
        region: undefined,
        limiters: new Map(),
      };
      const cache = wantsCache ? (unusedCache ?? makeCache()) : undefined;
      unusedCache = undefined;
      stack.add(operationMiddleware(state), operationMiddlewareOptions);
      if (cache !== undefined) {
        // Right inside the operation middleware: it reads the operationId the operation middleware
        // set and reports hit/miss/coalesced back through the context; a hit never reaches the limiter.
        stack.addRelativeTo(cache.middleware, {
          name: cache.options.name,
          tags: cache.options.tags ?? [],
          relation: 'after',
          toMiddleware: operationMiddlewareOptions.name,
          override: true,
        });
      }
      stack.add(retryMiddleware(state), retryMiddlewareOptions);
      stack.addRelativeTo(limiterMiddleware(state), limiterMiddlewareOptions);
    },
  };
}

function isResolved(
  o: SteadyKmsPluginOptions | SteadyKmsResolvedConfig,
): o is SteadyKmsResolvedConfig {
  return 'retryStrategy' in o && 'registry' in o && typeof o.share === 'function';
}

/** What `withSteadyKms` needs of a client: its stack and (optionally) its resolved region. */
export interface PluggableClient {
  readonly middlewareStack: { use(plugin: Pluggable<object, MetadataBearer>): void };
  readonly config?: { readonly region?: unknown };
}

/**
 * Adds the steadykms plugin to `client` (taking the region from `client.config.region` unless given)
 * and returns the same client.
 *
 * @example
 * ```ts
 * const kms = withSteadyKms(new KMSClient({ region: 'eu-west-1' }), { share: 0.5 });
 * ```
 */
export function withSteadyKms<C extends PluggableClient>(
  client: C,
  options: SteadyKmsPluginOptions = {},
): C {
  const region = client.config?.region;
  const withRegion: SteadyKmsPluginOptions =
    options.region === undefined && (typeof region === 'function' || typeof region === 'string')
      ? { ...options, region: region as string | Provider<string> }
      : options;
  client.middlewareStack.use(getSteadyKmsPlugin(withRegion));
  return client;
}

/** Options of the per-call middleware, placed just before the operation middleware. */
export const callOptionsMiddlewareOptions: RelativeMiddlewareOptions & {
  name: string;
  override: boolean;
} = {
  name: 'steadykmsCallOptionsMiddleware',
  relation: 'before',
  toMiddleware: operationMiddlewareOptions.name,
  tags: ['STEADYKMS'],
  override: true,
};

/**
 * Per-call overrides for one command: `command.middlewareStack.use(getSteadyKmsCallPlugin({ priority:
 * 'batch', deadlineMs: 250 }))`. Needs the client plugin.
 */
export function getSteadyKmsCallPlugin<
  Input extends object = object,
  Output extends MetadataBearer = MetadataBearer,
>(options: CallOptions): Pluggable<Input, Output> {
  const middleware =
    (
      next: InitializeHandler<Input, Output>,
      context: HandlerExecutionContext,
    ): InitializeHandler<Input, Output> =>
    (args: InitializeHandlerArguments<Input>) => {
      (context as Record<string, unknown>)[CONTEXT_KEYS.call] = options;
      return next(args);
    };
  return {
    applyToStack(stack) {
      stack.addRelativeTo(middleware, callOptionsMiddlewareOptions);
    },
  };
}
