import { describe, expect, it } from 'vitest';
import { FaultInjector, sfc32 } from './faults.js';

function kinds(f: FaultInjector, op: string, n: number): string[] {
  return Array.from({ length: n }, () => f.decide(op).kind);
}

describe('FaultInjector', () => {
  const setting = {
    seed: 42,
    operations: { Encrypt: { internalError: 0.2, dependencyTimeout: 0.2, reset: 0.1 } },
  };

  it('gives the same faults for the same seed and different ones for another seed', () => {
    const a = kinds(new FaultInjector(setting), 'Encrypt', 200);
    const b = kinds(new FaultInjector(setting), 'Encrypt', 200);
    const c = kinds(new FaultInjector({ ...setting, seed: 43 }), 'Encrypt', 200);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('draws each operation from its own stream, so other traffic does not shift it', () => {
    const both = { ...setting, operations: { ...setting.operations, '*': { internalError: 0.5 } } };
    const alone = kinds(new FaultInjector(both), 'Encrypt', 100);
    const f = new FaultInjector(both);
    const mixed: string[] = [];
    for (let i = 0; i < 100; i++) {
      f.decide('Decrypt');
      mixed.push(f.decide('Encrypt').kind);
    }
    expect(mixed).toEqual(alone);
  });

  it('produces each fault at roughly its probability', () => {
    const k = kinds(new FaultInjector(setting), 'Encrypt', 10_000);
    const share = (x: string) => k.filter((y) => y === x).length / k.length;
    expect(share('internal')).toBeCloseTo(0.2, 1);
    expect(share('timeout')).toBeCloseTo(0.2, 1);
    expect(share('reset')).toBeCloseTo(0.1, 1);
    expect(share('none')).toBeCloseTo(0.5, 1);
  });

  it('adds fixed latency plus jitter below jitterMs', () => {
    const f = new FaultInjector({ operations: { '*': { latencyMs: 10, jitterMs: 5 } } });
    for (let i = 0; i < 100; i++) {
      const d = f.decide('Decrypt').delayMs;
      expect(d).toBeGreaterThanOrEqual(10);
      expect(d).toBeLessThan(15);
    }
  });

  it('leaves operations without a spec alone', () => {
    const f = new FaultInjector(setting);
    expect(kinds(f, 'Decrypt', 50).every((k) => k === 'none')).toBe(true);
  });

  it('rejects probabilities outside [0, 1] or adding up past 1, naming the option', () => {
    expect(() => new FaultInjector({ operations: { Encrypt: { reset: 2 } } })).toThrow(
      /faults\.operations\['Encrypt'\]\.reset/,
    );
    expect(
      () => new FaultInjector({ operations: { Encrypt: { reset: 0.6, internalError: 0.6 } } }),
    ).toThrow(/more than 1/);
    expect(() => new FaultInjector({ seed: 1.5 })).toThrow(/faults\.seed/);
  });

  it('sfc32 yields values in [0, 1)', () => {
    const r = sfc32(7);
    for (let i = 0; i < 1000; i++) {
      const x = r();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });
});
