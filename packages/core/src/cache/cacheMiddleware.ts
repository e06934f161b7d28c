import type { DecryptCommandInput, DecryptCommandOutput } from '@aws-sdk/client-kms';
import {
  SMITHY_CONTEXT_KEY,
  type AbsoluteLocation,
  type HandlerExecutionContext,
  type InitializeHandler,
  type InitializeHandlerArguments,
  type InitializeHandlerOptions,
  type InitializeHandlerOutput,
  type InitializeMiddleware,
  type MetadataBearer,
  type Pluggable,
} from '@smithy/types';
import { needs } from '../errors.js';
import { decryptCacheKey, keyOperationKey } from './cacheKey.js';
import { Coalescer } from './Coalescer.js';
import { DecryptCache, type DecryptCacheOptions } from './DecryptCache.js';
import type { SignalLike } from './internal/abort.js';
import { copyBytes } from './internal/bytes.js';
import { publishCache } from './internal/events.js';
import type { Clock } from './types.js';

/**
 * Context key the steadykms operation middleware sets (a number) before calling the cache middleware;
 * carried into `steadykms:cache` events.
 * @internal
 */
export const OPERATION_ID_CONTEXT_KEY = 'steadykms.operationId';

/**
 * Context key the cache middleware sets to `'hit' | 'miss' | 'coalesced'` for an operation it handled,
 * read by the operation middleware for `operation:end`. Left unset when no cache applies.
 * @internal
 */
export const CACHE_RESULT_CONTEXT_KEY = 'steadykms.cache';

/** Options of the cache middleware, as the steadykms plugin takes them. */
export interface CacheMiddlewareOptions {
  /**
   * Caches Decrypt answers: `{ ttlMs, maxEntries }`, or a {@link DecryptCache} to share one cache between
   * clients (only between clients with the same credentials: a hit skips KMS's authorization).
   * @defaultValue no Decrypt cache
   */
  readonly decryptCache?: DecryptCacheOptions | DecryptCache | undefined;
  /**
   * Shares one request among identical concurrent Decrypt, DescribeKey and GetPublicKey calls.
   * @defaultValue false
   */
  readonly coalesce?: boolean | undefined;
  /** Time source for a Decrypt cache built from options (one given in `decryptCache` wins). */
  readonly clock?: Clock | undefined;
}

/** {@link CacheMiddlewareOptions} validated, with the Decrypt cache built. */
export interface ResolvedCacheConfig {
  readonly decryptCache: DecryptCache | undefined;
  readonly coalesce: boolean;
}

/** Validates the options and builds the Decrypt cache. Throws `InvalidOptionError` naming the option. */
export function resolveCacheConfig(options: CacheMiddlewareOptions): ResolvedCacheConfig {
  needs(typeof options === 'object' && options !== null, 'cache options must be an object');
  const coalesce = options.coalesce ?? false;
  needs(typeof coalesce === 'boolean', 'coalesce must be a boolean');
  const dc = options.decryptCache;
  let decryptCache: DecryptCache | undefined;
  if (dc instanceof DecryptCache) decryptCache = dc;
  else if (dc !== undefined) {
    needs(typeof dc === 'object' && dc !== null, 'decryptCache must be { ttlMs, maxEntries }');
    decryptCache = new DecryptCache(
      options.clock !== undefined && dc.clock === undefined ? { ...dc, clock: options.clock } : dc,
    );
  }
  return { decryptCache, coalesce };
}

/** Where the middleware sits: the initialize step, so it acts once per logical operation. */
export const cacheMiddlewareOptions: InitializeHandlerOptions &
  AbsoluteLocation & { name: string } = {
  name: 'steadykmsCacheMiddleware',
  step: 'initialize',
  priority: 'high',
  tags: ['STEADYKMS', 'CACHE'],
  override: true,
};

type Out = InitializeHandlerOutput<MetadataBearer>;

function copyDeep<T>(v: T): T {
  if (v instanceof Uint8Array) return copyBytes(v) as T;
  if (v instanceof Date) return new Date(v.getTime()) as T;
  if (Array.isArray(v)) return v.map((x: unknown) => copyDeep(x)) as T;
  if (typeof v === 'object' && v !== null) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = copyDeep(x);
    return o as T;
  }
  return v;
}

function plaintextOf(r: Out): Uint8Array | undefined {
  const p = (r.output as Partial<DecryptCommandOutput>).Plaintext;
  return p instanceof Uint8Array ? p : undefined;
}

function operationOf(context: HandlerExecutionContext): string | undefined {
  if (context.clientName !== undefined && context.clientName !== 'KMSClient') return undefined;
  const op = context[SMITHY_CONTEXT_KEY]?.operation;
  if (typeof op === 'string') return op;
  const name = context.commandName;
  return typeof name === 'string' ? name.replace(/Command$/, '') : undefined;
}

/**
 * The cache middleware (initialize step): answers Decrypt from the Decrypt cache, and shares identical
 * in-flight Decrypt, DescribeKey and GetPublicKey calls, as configured. Every caller gets its own copy
 * of a result (Plaintext included), so zeroing it harms no one else. A hit returns a fresh output with
 * `$metadata.attempts === 0` and `response: undefined`. Decrypt calls with `Recipient` or `DryRun` pass
 * through untouched.
 *
 * It reads `context['steadykms.operationId']` for its events and sets `context['steadykms.cache']`.
 */
export function cacheMiddleware<Input extends object, Output extends MetadataBearer>(
  config: ResolvedCacheConfig,
): InitializeMiddleware<Input, Output> {
  const cache = config.decryptCache;
  const coalesce = config.coalesce;
  const decrypts = new Coalescer<Out>({
    share: (r) => {
      const p = plaintextOf(r);
      return p === undefined
        ? { output: { ...r.output }, response: r.response }
        : { output: { ...r.output, Plaintext: copyBytes(p) }, response: r.response };
    },
    discard: (r) => plaintextOf(r)?.fill(0),
  });
  const keyOps = new Coalescer<Out>({
    share: (r) => ({ output: copyDeep(r.output), response: r.response }),
  });

  return (next: InitializeHandler<Input, Output>, context: HandlerExecutionContext) => {
    const send = next as unknown as InitializeHandler<object, MetadataBearer>;
    const handler = async (args: InitializeHandlerArguments<object>): Promise<Out> => {
      const op = operationOf(context);
      if (op === 'Decrypt' && (cache !== undefined || coalesce)) {
        const input = args.input as DecryptCommandInput;
        if (
          input.CiphertextBlob instanceof Uint8Array &&
          input.Recipient === undefined &&
          input.DryRun !== true
        ) {
          return decrypt(args, input, context);
        }
      } else if (coalesce && (op === 'DescribeKey' || op === 'GetPublicKey')) {
        return keyOperation(op, args, context);
      }
      return send(args);
    };

    async function decrypt(
      args: InitializeHandlerArguments<object>,
      input: DecryptCommandInput,
      ctx: HandlerExecutionContext,
    ): Promise<Out> {
      const key = decryptCacheKey(input);
      const opId = operationIdOf(ctx);
      const kind = cache !== undefined ? 'decrypt' : 'coalesce';
      if (cache !== undefined) {
        const hit = cache.get(key, opId);
        if (hit !== undefined) {
          ctx[CACHE_RESULT_CONTEXT_KEY] = 'hit';
          publishCache('decrypt', 'hit', 'Decrypt', opId, input.KeyId ?? hit.KeyId, undefined);
          return { output: hit, response: undefined };
        }
      }
      const call = async (): Promise<Out> => {
        const r = await send(args);
        if (cache !== undefined && plaintextOf(r) !== undefined) {
          cache.set(key, r.output);
        }
        return r;
      };
      if (!coalesce) {
        ctx[CACHE_RESULT_CONTEXT_KEY] = 'miss';
        publishCache(kind, 'miss', 'Decrypt', opId, input.KeyId, undefined);
        return call();
      }
      const { joined, result } = decrypts.run(key, {
        start: call,
        signal: signalOf(ctx),
        onTakeover: () => {
          ctx[CACHE_RESULT_CONTEXT_KEY] = 'miss';
        },
      });
      ctx[CACHE_RESULT_CONTEXT_KEY] = joined ? 'coalesced' : 'miss';
      publishCache(kind, joined ? 'coalesced' : 'miss', 'Decrypt', opId, input.KeyId, undefined);
      return result;
    }

    async function keyOperation(
      op: string,
      args: InitializeHandlerArguments<object>,
      ctx: HandlerExecutionContext,
    ): Promise<Out> {
      const input = args.input as { KeyId?: string; GrantTokens?: string[] };
      const opId = operationIdOf(ctx);
      const { joined, result } = keyOps.run(keyOperationKey(op, input), {
        start: () => send(args),
        signal: signalOf(ctx),
        onTakeover: () => {
          ctx[CACHE_RESULT_CONTEXT_KEY] = 'miss';
        },
      });
      ctx[CACHE_RESULT_CONTEXT_KEY] = joined ? 'coalesced' : 'miss';
      publishCache('coalesce', joined ? 'coalesced' : 'miss', op, opId, input.KeyId, undefined);
      return result;
    }

    return handler as unknown as InitializeHandler<Input, Output>;
  };
}

function operationIdOf(context: HandlerExecutionContext): number | undefined {
  const id: unknown = context[OPERATION_ID_CONTEXT_KEY];
  return typeof id === 'number' ? id : undefined;
}

function signalOf(context: HandlerExecutionContext): SignalLike | undefined {
  const s = context[SMITHY_CONTEXT_KEY]?.abortSignal as SignalLike | undefined;
  return s ?? undefined;
}

/**
 * The cache middleware and where it goes, for the steadykms plugin to add right after its operation
 * middleware (`stack.addRelativeTo(middleware, { relation: 'after', toMiddleware: <its name>, name:
 * options.name, override: true })`) or absolutely with `stack.add(middleware, options)`.
 *
 * Call it once per client: the middleware holds that client's Decrypt cache (unless a shared
 * {@link DecryptCache} is passed) and its in-flight calls.
 */
export function getCacheMiddleware<Input extends object, Output extends MetadataBearer>(
  options: CacheMiddlewareOptions,
): {
  middleware: InitializeMiddleware<Input, Output>;
  options: typeof cacheMiddlewareOptions;
  config: ResolvedCacheConfig;
} {
  const config = resolveCacheConfig(options);
  return {
    middleware: cacheMiddleware<Input, Output>(config),
    options: cacheMiddlewareOptions,
    config,
  };
}

/**
 * A plugin adding only the cache middleware, for use without the full steadykms plugin:
 * `client.middlewareStack.use(getDecryptCachePlugin({ decryptCache: { ttlMs: 60_000, maxEntries: 1_000 },
 * coalesce: true }))`. Options are validated now; each client the plugin is applied to gets its own
 * Decrypt cache (unless a shared {@link DecryptCache} is passed).
 */
export function getDecryptCachePlugin<Input extends object, Output extends MetadataBearer>(
  options: CacheMiddlewareOptions,
): Pluggable<Input, Output> {
  // Validate now, and let the first client have the config built for it.
  let unused: ResolvedCacheConfig | undefined = resolveCacheConfig(options);
  return {
    applyToStack: (stack) => {
      const config = unused ?? resolveCacheConfig(options);
      unused = undefined;
      stack.add(cacheMiddleware<Input, Output>(config), cacheMiddlewareOptions);
    },
  };
}
