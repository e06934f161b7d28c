/**
 * Fault injection: per-operation probabilities of the failures KMS really produces, drawn from a seeded
 * generator so a run can be repeated exactly.
 */

/** Faults for one operation. Probabilities are in [0, 1] and their sum must not exceed 1. */
export interface FaultSpec {
  /** Probability of `KMSInternalException` (HTTP 500). @defaultValue `0` */
  readonly internalError?: number;
  /** Probability of `DependencyTimeoutException` (HTTP 503). @defaultValue `0` */
  readonly dependencyTimeout?: number;
  /** Probability that the connection is reset without a response. @defaultValue `0` */
  readonly reset?: number;
  /** Latency added before every answer, in milliseconds. @defaultValue `0` */
  readonly latencyMs?: number;
  /** Extra latency drawn uniformly from [0, jitterMs) milliseconds. @defaultValue `0` */
  readonly jitterMs?: number;
}

/**
 * The fault setting: a seed and a spec per operation name (`Encrypt`, `CreateKey`...), where `'*'`
 * applies to every operation that has no spec of its own.
 */
export interface FaultsSetting {
  /** Seed of the generator; the same seed and the same requests give the same faults. @defaultValue `1` */
  readonly seed?: number;
  readonly operations?: Readonly<Record<string, FaultSpec>>;
}

/** What to do with one request. */
export type FaultDecision =
  | { readonly kind: 'none'; readonly delayMs: number }
  | { readonly kind: 'internal'; readonly delayMs: number }
  | { readonly kind: 'timeout'; readonly delayMs: number }
  | { readonly kind: 'reset'; readonly delayMs: number };

const NONE: FaultDecision = { kind: 'none', delayMs: 0 };

/** sfc32: small, fast, and good enough to spread faults evenly; 32-bit state words. */
export function sfc32(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

/** FNV-1a of a string, to give each operation its own stream. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function checkProbability(op: string, name: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (!(typeof value === 'number' && value >= 0 && value <= 1)) {
    throw new RangeError(`faults.operations['${op}'].${name} must be a probability in [0, 1]`);
  }
  return value;
}

function checkMs(op: string, name: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 600_000)) {
    throw new RangeError(`faults.operations['${op}'].${name} must be milliseconds in [0, 600000]`);
  }
  return value;
}

interface Plan {
  readonly internal: number;
  readonly timeout: number;
  readonly reset: number;
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly random: () => number;
}

/**
 * Decides the fault for each request. Each operation draws from its own stream (seeded from the seed
 * and the operation's name), so concurrent traffic to other operations does not shift the faults an
 * operation sees: the n-th Encrypt gets the same fault in every run with the same seed.
 */
export class FaultInjector {
  #setting: FaultsSetting = {};
  #plans = new Map<string, Plan>();
  #wildcard: FaultSpec | undefined;
  #active = false;

  constructor(setting?: FaultsSetting) {
    this.set(setting ?? {});
  }

  /** Replaces the setting and restarts every stream from the seed. Throws `RangeError` on a bad value. */
  set(setting: FaultsSetting): void {
    const seed = setting.seed ?? 1;
    if (!Number.isInteger(seed)) throw new RangeError('faults.seed must be an integer');
    const ops = setting.operations ?? {};
    if (typeof ops !== 'object' || ops === null) {
      throw new RangeError('faults.operations must be an object keyed by operation name');
    }
    for (const [op, spec] of Object.entries(ops)) this.#validate(op, spec);
    this.#setting = { seed, operations: { ...ops } };
    this.#plans = new Map();
    this.#wildcard = ops['*'];
    this.#active = Object.keys(ops).length > 0;
  }

  /** The current setting, as given. */
  get(): FaultsSetting {
    return this.#setting;
  }

  #validate(op: string, spec: FaultSpec): void {
    if (typeof spec !== 'object' || spec === null) {
      throw new RangeError(`faults.operations['${op}'] must be an object`);
    }
    const sum =
      checkProbability(op, 'internalError', spec.internalError) +
      checkProbability(op, 'dependencyTimeout', spec.dependencyTimeout) +
      checkProbability(op, 'reset', spec.reset);
    if (sum > 1)
      throw new RangeError(`faults.operations['${op}'] probabilities add up to more than 1`);
    checkMs(op, 'latencyMs', spec.latencyMs);
    checkMs(op, 'jitterMs', spec.jitterMs);
  }

  #plan(operation: string): Plan | undefined {
    let plan = this.#plans.get(operation);
    if (plan !== undefined) return plan;
    const spec = this.#setting.operations?.[operation] ?? this.#wildcard;
    if (spec === undefined) return undefined;
    plan = {
      internal: spec.internalError ?? 0,
      timeout: spec.dependencyTimeout ?? 0,
      reset: spec.reset ?? 0,
      latencyMs: spec.latencyMs ?? 0,
      jitterMs: spec.jitterMs ?? 0,
      random: sfc32(((this.#setting.seed ?? 1) ^ hash(operation)) >>> 0),
    };
    this.#plans.set(operation, plan);
    return plan;
  }

  /** The fault for the next request to `operation`; always two draws, so streams stay aligned. */
  decide(operation: string): FaultDecision {
    if (!this.#active) return NONE;
    const plan = this.#plan(operation);
    if (plan === undefined) return NONE;
    const r = plan.random();
    const j = plan.random();
    const delayMs = plan.latencyMs + j * plan.jitterMs;
    if (r < plan.internal) return { kind: 'internal', delayMs };
    if (r < plan.internal + plan.timeout) return { kind: 'timeout', delayMs };
    if (r < plan.internal + plan.timeout + plan.reset) return { kind: 'reset', delayMs };
    return delayMs > 0 ? { kind: 'none', delayMs } : NONE;
  }
}
