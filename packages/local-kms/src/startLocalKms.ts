import { createServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import {
  classifyOperation,
  keyIdOf,
  KMS_OPERATIONS,
  resolveQuotas,
  type KeyInfo,
  type QuotaCharge,
  type QuotaPool,
  type QuotasSetting,
} from '@steadykms/core';
import { KmsError, serialization, THROTTLE_MESSAGE } from './internal/errors.js';
import { FaultInjector, type FaultDecision, type FaultsSetting } from './internal/faults.js';
import { KeyStore, type Key } from './internal/KeyStore.js';
import { HANDLERS } from './internal/operations/index.js';
import type { Handler } from './internal/operations/shared.js';
import { QuotaWindows, type Debit } from './internal/QuotaWindows.js';
import {
  accessKeyIdFromAuthorization,
  regionFromAuthorization,
  verifySignature,
  type StrictCredential,
} from './internal/sigv4.js';
import { authorize } from './internal/policy.js';
import { readBlobHeader } from './internal/ciphertext.js';
import { AuditLog, type AuditEvent } from './internal/AuditLog.js';
import { adminRoute } from './internal/adminRoute.js';
import { StatsRecorder, type LocalKmsStats, type Outcome } from './internal/Stats.js';
import type { Input } from './internal/input.js';
import type { KmsRequest, Reply } from './internal/transport.js';
import { serveNetConnection, type NetConnection } from './internal/netTransport.js';

/** A source of time in milliseconds since the epoch, injectable so tests can use a fake clock. */
export interface Clock {
  now(): number;
}

/** Options of {@link startLocalKms}. */
export interface LocalKmsOptions {
  /** Interface to listen on. @defaultValue `'127.0.0.1'` */
  readonly host?: string;
  /** TCP port; 0 picks a free one (read it back from `url`). @defaultValue `0` */
  readonly port?: number;
  /**
   * Directory for durable state (keys, aliases, states, sealed material). Without it everything lives
   * in memory and is gone on `close()`. @defaultValue `undefined` (in memory)
   */
  readonly dataDir?: string;
  /** The 12-digit AWS account id that appears in ARNs. @defaultValue `'111122223333'` */
  readonly accountId?: string;
  /**
   * Request quotas, the shape shared with the client plugin: `{ profile, scale, overrides }`, or `false`
   * for none. @defaultValue the current KMS defaults (`undefined`)
   */
  readonly quotas?: QuotasSetting;
  /** Injected faults per operation, from a seed. @defaultValue none */
  readonly faults?: FaultsSetting;
  /**
   * Time for quota windows, creation and deletion dates, in milliseconds since the epoch.
   * @defaultValue `{ now: () => Date.now() }`
   */
  readonly clock?: Clock;
  /**
   * CloudTrail-shaped audit records of every answered KMS call (throttles and faults included): `true`
   * keeps the last 1,000 in memory (`auditEvents()`, `GET /__admin/audit`); a path also appends every
   * record to that file as JSON lines (buffered, not synced). Blobs are never recorded.
   * @defaultValue `false`
   */
  readonly auditLog?: boolean | string;
  /**
   * Strict mode: verify every request's SigV4 signature against these credentials (access key id to
   * its secret, or to `{ secretAccessKey, principal }` to sign as a given IAM principal ARN; otherwise
   * the principal is `arn:aws:iam::<account>:user/<access key id>`), and authorize every call on a
   * key against its key policy and grants. Unknown keys get `UnrecognizedClientException`, bad
   * signatures `InvalidSignatureException`, calls the policy does not allow `AccessDeniedException`.
   * @defaultValue `undefined` (signatures are not checked; only the region is read from the scope)
   */
  readonly strict?: { readonly credentials: Readonly<Record<string, StrictCredential>> };
  /**
   * Hot-key throttling: at most this many state changes (EnableKey, DisableKey, ScheduleKeyDeletion,
   * CancelKeyDeletion, RotateKeyOnDemand, UpdatePrimaryRegion) per key per one-second window, on top
   * of the operations' own quotas; over it, the usual `ThrottlingException`. AWS documents no figure,
   * so it is off unless set. @defaultValue `undefined` (off)
   */
  readonly hotKeyStateChanges?: number;
  /**
   * The HTTP server underneath: `'net'` is a lean HTTP/1.1 server on node:net for the requests the AWS
   * SDK sends (Content-Length bodies, keep-alive, pipelining), which costs about a third less CPU per
   * request than node:http; chunked bodies, header blocks over 16 KiB and other malformed requests get a
   * 4xx and a closed connection. `'http'` is node:http, for clients that send chunked bodies. Both hand
   * requests to the same handler. @defaultValue `'net'`
   */
  readonly transport?: 'http' | 'net';
  /**
   * How long an idle keep-alive connection stays open, in milliseconds (both transports; the `net`
   * transport closes idle connections within a quarter of this past it). @defaultValue `60_000`
   */
  readonly keepAliveTimeoutMs?: number;
}

/** A running local-kms. */
export interface LocalKms {
  /** The endpoint to give the SDK: `new KMSClient({ endpoint: url, region, credentials })`. */
  readonly url: string;
  /** A copy of the counters: accepted, throttled, faulted and errors by operation, pool and region. */
  stats(): LocalKmsStats;
  /** Zeroes the counters. */
  resetStats(): void;
  /**
   * The most recent CloudTrail-shaped audit records (oldest first, at most 1,000 kept in memory);
   * empty unless the `auditLog` option is on.
   */
  auditEvents(limit?: number): AuditEvent[];
  /** Replaces the fault setting and restarts its random streams from the seed. */
  setFaults(faults: FaultsSetting): void;
  /** Stops listening, drops open connections and closes the journal. */
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;
const TARGET_PREFIX = 'TrentService.';
const KNOWN = new Set<string>(KMS_OPERATIONS);
const NO_POOLS: readonly { pool: string; region: string }[] = [];
/** The window set's name for the per-key state-change limit (never shown in stats). */
const HOT_KEY_POOL: QuotaPool = 'control/hot-key-state-change';
/** Operations that change one key's state, subject to `hotKeyStateChanges`. */
const STATE_CHANGES = new Set([
  'EnableKey',
  'DisableKey',
  'ScheduleKeyDeletion',
  'CancelKeyDeletion',
  'RotateKeyOnDemand',
  'UpdatePrimaryRegion',
]);
const INTERNAL_MESSAGE =
  'The request was rejected because an internal exception occurred. The request can be retried.';
const TIMEOUT_MESSAGE =
  'The system timed out while trying to fulfill the request. The request can be retried.';
type FaultKind = FaultDecision['kind'];
const NO_DEBITS: readonly Debit[] = [];
const throttled = (): KmsError => new KmsError('ThrottlingException', THROTTLE_MESSAGE);
const internal = (): KmsError => new KmsError('KMSInternalException', INTERNAL_MESSAGE, 500);
const timedOut = (): KmsError => new KmsError('DependencyTimeoutException', TIMEOUT_MESSAGE, 503);

const KMS_TYPE = 'application/x-amz-json-1.1';

/** The http transport's {@link Reply} on a node:http response. */
function httpReply(res: ServerResponse): Reply {
  return {
    send(status, contentType, body, requestId = randomUUID()) {
      // A flat header array skips the per-key walk of a header object on the hot path.
      res.writeHead(status, [
        'Content-Type',
        contentType,
        'Content-Length',
        String(Buffer.byteLength(body)),
        'x-amzn-RequestId',
        requestId,
      ]);
      res.end(body);
    },
    reset() {
      res.socket?.resetAndDestroy();
    },
    get done() {
      return res.headersSent || res.destroyed;
    },
  };
}

function sendError(reply: Reply, e: KmsError, requestId?: string): void {
  reply.send(e.status, KMS_TYPE, JSON.stringify({ __type: e.type, message: e.message }), requestId);
}

function validateOptions(o: LocalKmsOptions): void {
  if (o.port !== undefined && !(Number.isInteger(o.port) && o.port >= 0 && o.port <= 65535)) {
    throw new RangeError('port must be an integer in [0, 65535]');
  }
  if (o.accountId !== undefined && !/^\d{12}$/.test(o.accountId)) {
    throw new RangeError('accountId must be 12 digits');
  }
  if (
    o.strict !== undefined &&
    (typeof o.strict.credentials !== 'object' || Object.keys(o.strict.credentials).length === 0)
  ) {
    throw new RangeError('strict.credentials must map at least one access key id to its secret');
  }
  if (
    o.hotKeyStateChanges !== undefined &&
    !(typeof o.hotKeyStateChanges === 'number' && o.hotKeyStateChanges > 0)
  ) {
    throw new RangeError('hotKeyStateChanges must be a number of changes per second above 0');
  }
  if (o.transport !== undefined && o.transport !== 'http' && o.transport !== 'net') {
    throw new RangeError("transport must be 'http' or 'net'");
  }
  if (
    o.keepAliveTimeoutMs !== undefined &&
    !(Number.isInteger(o.keepAliveTimeoutMs) && o.keepAliveTimeoutMs > 0)
  ) {
    throw new RangeError('keepAliveTimeoutMs must be a whole number of milliseconds above 0');
  }
  if (o.clock !== undefined && typeof o.clock.now !== 'function') {
    throw new RangeError('clock must have a now() method returning milliseconds');
  }
}

/**
 * Starts a KMS-compatible HTTP server that the unmodified `@aws-sdk/client-kms` talks to, with KMS's
 * request quotas in one-second windows, seeded fault injection and, with `dataDir`, storage that
 * survives `kill -9`.
 *
 * @example
 * ```ts
 * const kms = await startLocalKms({ quotas: { scale: 0.01 } });
 * const client = new KMSClient({ endpoint: kms.url, region: 'us-east-1',
 *   credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
 * ```
 */
export async function startLocalKms(options: LocalKmsOptions = {}): Promise<LocalKms> {
  validateOptions(options);
  const clock: Clock = options.clock ?? { now: () => Date.now() };
  const quotasOn = options.quotas !== false;
  const lookup = resolveQuotas(options.quotas);
  const hotKeyRps = options.hotKeyStateChanges;
  // One window set for the pools and the per-key state-change limit, so a call is admitted by both or
  // debits neither. Per-key windows use the key ARN as their "region".
  const windows = new QuotaWindows((pool, region) =>
    pool === HOT_KEY_POOL ? (hotKeyRps ?? Infinity) : lookup(pool, region),
  );
  const faults = new FaultInjector(options.faults);
  const stats = new StatsRecorder();
  const store = new KeyStore(
    options.accountId ?? '111122223333',
    () => clock.now(),
    options.dataDir,
  );
  const timers = new Set<NodeJS.Timeout>();
  const audit =
    options.auditLog === undefined || options.auditLog === false
      ? undefined
      : new AuditLog(
          store.accountId,
          typeof options.auditLog === 'string' ? options.auditLog : undefined,
        );

  function trail(
    req: KmsRequest,
    operation: string,
    region: string,
    input: Input,
    keyArn: string | undefined,
    requestId: string,
    error: KmsError | undefined,
  ): void {
    const agent = req.headers['user-agent'];
    audit?.record({
      operation,
      region,
      input,
      keyArn,
      accessKeyId: accessKeyIdFromAuthorization(req.headers.authorization),
      sourceIp: req.socket.remoteAddress ?? 'unknown',
      userAgent: typeof agent === 'string' ? agent : '',
      requestId,
      time: clock.now(),
      ...(error === undefined ? {} : { errorCode: error.type, errorMessage: error.message }),
    });
  }
  /** Strict mode: the key policy and grants of the call's key must allow the caller. */
  function checkAccess(
    req: KmsRequest,
    op: string,
    region: string,
    keyArn: string,
    input: Input,
  ): KmsError | undefined {
    const key = store.byId(region, keyArn.slice(keyArn.lastIndexOf('/') + 1));
    if (key === undefined) return undefined; // the handler answers NotFoundException
    const accessKeyId = accessKeyIdFromAuthorization(req.headers.authorization) ?? '';
    const credential = options.strict?.credentials[accessKeyId];
    const caller =
      typeof credential === 'object'
        ? credential.principal
        : `arn:aws:iam::${store.accountId}:user/${accessKeyId}`;
    const context = input['EncryptionContext'];
    const decision = authorize(
      key.stored.policy,
      key.stored.grants ?? [],
      caller,
      store.accountId,
      op,
      typeof context === 'object' && context !== null
        ? (context as Record<string, string>)
        : undefined,
    );
    if (decision.allowed) return undefined;
    return new KmsError(
      'AccessDeniedException',
      `User: ${caller} is not authorized to perform: ${decision.action} on resource: ${keyArn} ${decision.reason}`,
    );
  }

  const rotationTimer = setInterval(() => {
    try {
      store.rotateDue();
    } catch (e) {
      console.error('local-kms: automatic rotation failed', e);
    }
  }, 60_000);
  rotationTimer.unref();

  function handle(req: KmsRequest, res: Reply, body: Buffer): void {
    const hot = req.hot;
    const target = hot === undefined ? req.headers['x-amz-target'] : hot.target;
    let op = 'unknown';
    if (typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) {
      stats.record(op, 'unknown', NO_POOLS, 'error');
      sendError(
        res,
        new KmsError(
          'UnknownOperationException',
          target === undefined ? 'Missing X-Amz-Target header' : 'Unknown operation',
        ),
      );
      return;
    }
    op = target.slice(TARGET_PREFIX.length);
    if (!KNOWN.has(op)) {
      stats.record('unknown', 'unknown', NO_POOLS, 'error');
      sendError(res, new KmsError('UnknownOperationException', 'Unknown operation'));
      return;
    }
    if (options.strict !== undefined) {
      const denied = verifySignature(req, body, options.strict.credentials);
      if (denied !== undefined) {
        stats.record(
          op,
          regionFromAuthorization(req.headers.authorization) ?? 'unknown',
          NO_POOLS,
          'error',
        );
        sendError(res, denied);
        return;
      }
    }
    const auth = hot === undefined ? req.headers.authorization : hot.authorization;
    const region = regionFromAuthorization(auth);
    if (region === undefined) {
      stats.record(op, 'unknown', NO_POOLS, 'error');
      sendError(
        res,
        auth === undefined
          ? new KmsError('MissingAuthenticationTokenException', 'Missing Authentication Token')
          : new KmsError(
              'IncompleteSignatureException',
              'Authorization header requires a SigV4 Credential scope for the kms service',
            ),
      );
      return;
    }
    let input: Input;
    try {
      const parsed: unknown = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw serialization('The request body must be a JSON object');
      }
      input = parsed as Input;
    } catch (e) {
      stats.record(op, region, NO_POOLS, 'error');
      sendError(
        res,
        e instanceof KmsError ? e : serialization('The request body is not valid JSON'),
      );
      return;
    }
    const ref = keyIdOf(op, input);
    let key: Key | undefined;
    if (ref !== undefined) {
      try {
        key = store.resolve(region, ref);
      } catch {
        key = undefined; // the handler answers the error
      }
    }
    if (
      key === undefined &&
      op === 'Decrypt' &&
      (options.strict !== undefined || audit !== undefined || store.hasStores())
    ) {
      // The blob names its key: its custom key store is charged, strict mode authorizes against it
      // and the audit record lists it.
      const blob = input['CiphertextBlob'];
      const header =
        typeof blob === 'string'
          ? readBlobHeader(Buffer.from(blob.slice(0, 80), 'base64'))
          : undefined;
      if (header !== undefined) key = store.byId(region, header.keyId);
    }
    const keyArn = key?.arn;
    const requestId = randomUUID();
    const handler = HANDLERS[op];
    if (handler === undefined) {
      stats.record(op, region, NO_POOLS, 'error');
      fail(
        req,
        res,
        op,
        region,
        input,
        keyArn,
        requestId,
        new KmsError('UnsupportedOperationException', `local-kms does not implement ${op} yet.`),
      );
      return;
    }
    const keyInfo: KeyInfo | undefined =
      key === undefined
        ? undefined
        : { keySpec: key.stored.keySpec, customKeyStoreId: key.stored.customKeyStoreId };
    const classification = classifyOperation(op, input, region, keyInfo);
    const charges = classification.charges;
    const now = clock.now();
    const hotKey: Debit | undefined =
      hotKeyRps !== undefined && keyArn !== undefined && STATE_CHANGES.has(op)
        ? { pool: HOT_KEY_POOL, region: keyArn, cost: 1 }
        : undefined;
    const debits: readonly Debit[] = quotasOn
      ? hotKey === undefined
        ? charges
        : [...charges, hotKey]
      : hotKey === undefined
        ? NO_DEBITS
        : [hotKey];
    if (debits.length > 0 && windows.tryAcquire(debits, now) !== undefined) {
      stats.record(op, region, charges, 'throttled');
      fail(req, res, op, region, input, keyArn, requestId, throttled());
      return;
    }
    const fault = faults.decide(op);
    const kind = classification.kind;
    if (fault.delayMs > 0) {
      const t = setTimeout(() => {
        timers.delete(t);
        if (!res.done) {
          answer(req, res, op, region, input, key, requestId, kind, charges, fault.kind, handler);
        }
      }, fault.delayMs);
      timers.add(t);
    } else answer(req, res, op, region, input, key, requestId, kind, charges, fault.kind, handler);
  }

  /** Sends an error and, when auditing, records it. */
  function fail(
    req: KmsRequest,
    res: Reply,
    op: string,
    region: string,
    input: Input,
    keyArn: string | undefined,
    requestId: string,
    e: KmsError,
  ): void {
    sendError(res, e, requestId);
    if (audit !== undefined) trail(req, op, region, input, keyArn, requestId, e);
  }

  /**
   * Answers an admitted call: its injected fault, or its handler's result. A plain function of its
   * arguments rather than a closure per request, so the common call allocates no function or context.
   */
  function answer(
    req: KmsRequest,
    res: Reply,
    op: string,
    region: string,
    input: Input,
    key: Key | undefined,
    requestId: string,
    kind: 'crypto' | 'control',
    charges: readonly QuotaCharge[],
    fault: FaultKind,
    handler: Handler,
  ): void {
    const keyArn = key?.arn;
    if (fault === 'internal') {
      stats.record(op, region, charges, 'faulted');
      fail(req, res, op, region, input, keyArn, requestId, internal());
      return;
    }
    if (fault === 'timeout') {
      stats.record(op, region, charges, 'faulted');
      fail(req, res, op, region, input, keyArn, requestId, timedOut());
      return;
    }
    if (fault === 'reset') {
      stats.record(op, region, charges, 'faulted');
      res.reset();
      return;
    }
    let outcome: Outcome = 'accepted';
    try {
      // Automatic rotations come due with the clock; control-plane calls (and a timer) apply them,
      // so the crypto hot path never writes to disk.
      if (kind === 'control') store.rotateDue();
      const cks = key?.stored.customKeyStoreId;
      if (cks !== undefined && kind === 'crypto') {
        // A key in a disconnected custom key store is Unavailable, as in KMS.
        if (store.store(region, cks)?.state !== 'CONNECTED') {
          throw new KmsError('KMSInvalidStateException', `${key?.arn ?? ''} is unavailable.`);
        }
      }
      if (options.strict !== undefined && keyArn !== undefined) {
        const denied = checkAccess(req, op, region, keyArn, input);
        if (denied !== undefined) throw denied;
      }
      const out = handler({ store, region, now: clock.now() }, input);
      res.send(200, KMS_TYPE, JSON.stringify(out), requestId);
      if (audit !== undefined) trail(req, op, region, input, keyArn, requestId, undefined);
    } catch (e) {
      outcome = 'error';
      if (e instanceof KmsError) fail(req, res, op, region, input, keyArn, requestId, e);
      else {
        // A bug in local-kms, not an injected fault: say so loudly.
        console.error('local-kms: internal error in', op, e);
        fail(req, res, op, region, input, keyArn, requestId, internal());
      }
    }
    stats.record(op, region, charges, outcome);
  }

  /** Every request of either transport, its body read: admin routes, then the KMS protocol. */
  function dispatch(req: KmsRequest, reply: Reply, body: Buffer): void {
    const url = req.url ?? '/';
    if (url.startsWith('/__admin/')) {
      const q = url.indexOf('?');
      const path = q < 0 ? url : url.slice(0, q);
      adminRoute(
        { stats, faults, audit },
        req,
        (status, contentType, text) => reply.send(status, contentType, text),
        path,
        q < 0 ? '' : url.slice(q + 1),
        body,
      );
      return;
    }
    if (req.method !== 'POST') {
      sendError(reply, new KmsError('UnknownOperationException', 'KMS accepts only POST /', 405));
      return;
    }
    try {
      handle(req, reply, body);
    } catch (e) {
      // A bug outside the handlers (classification, stats...): answer instead of crashing.
      console.error('local-kms: internal error', e);
      if (!reply.done) {
        sendError(reply, new KmsError('KMSInternalException', INTERNAL_MESSAGE, 500));
      }
    }
  }

  const lean = (options.transport ?? 'net') === 'net';
  const keepAliveMs = options.keepAliveTimeoutMs ?? 60_000;
  const connections = new Set<NetConnection>();
  // The net transport's idle sweep: a coarse tick instead of a timer per socket, so a request costs
  // one integer store, not a timer refresh.
  let tick = 0;
  const sweepMs = Math.max(1, Math.min(5_000, Math.floor(keepAliveMs / 4)));
  const idleTicks = Math.ceil(keepAliveMs / sweepMs);
  const sweep = lean
    ? setInterval(() => {
        tick++;
        for (const c of connections) {
          if (!c.busy && tick - c.lastActive >= idleTicks) c.socket.destroy();
        }
      }, sweepMs).unref()
    : undefined;
  const connectionOptions = { maxBody: MAX_BODY, dispatch };
  const server = lean
    ? createNetServer((socket) => {
        const conn = serveNetConnection(socket, connectionOptions, () => tick);
        connections.add(conn);
        socket.once('close', () => connections.delete(conn));
      })
    : createServer((req, res) => {
        const url = req.url ?? '/';
        if (!url.startsWith('/__admin/') && req.method !== 'POST') {
          req.resume();
          sendError(
            httpReply(res),
            new KmsError('UnknownOperationException', 'KMS accepts only POST /', 405),
          );
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        let tooLarge = false;
        req.on('data', (chunk: Buffer) => {
          if (tooLarge) return;
          size += chunk.length;
          if (size > MAX_BODY) {
            tooLarge = true;
            res.setHeader('Connection', 'close');
            sendError(
              httpReply(res),
              new KmsError('RequestEntityTooLargeException', 'Request body is too large', 413),
            );
            return;
          }
          chunks.push(chunk);
        });
        req.on('end', () => {
          if (tooLarge) return;
          dispatch(req, httpReply(res), chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
        });
        req.on('error', () => {
          res.destroy();
        });
      });
  if ('keepAliveTimeout' in server) server.keepAliveTimeout = keepAliveMs;

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    // Could not listen (port in use...): release the data directory and the audit file.
    clearInterval(rotationTimer);
    clearInterval(sweep);
    store.close();
    await audit?.close();
    throw e;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  let closed: Promise<void> | undefined;
  return {
    url,
    stats: () => stats.snapshot(),
    resetStats: () => stats.reset(),
    setFaults: (setting) => faults.set(setting),
    auditEvents: (limit) => audit?.recent(limit) ?? [],
    close() {
      closed ??= new Promise<void>((resolve) => {
        clearInterval(rotationTimer);
        clearInterval(sweep);
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => {
          store.close();
          void (audit?.close() ?? Promise.resolve()).then(resolve);
        });
        if ('closeAllConnections' in server) server.closeAllConnections();
        for (const c of connections) c.socket.destroy();
      });
      return closed;
    },
  };
}
