import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Attributes } from '@opentelemetry/api';
import { ContextAuditor, HASHED_VALUE_PREFIX } from './ContextAuditor.js';

function attrs(a: ContextAuditor, ec: Record<string, string> | undefined): Attributes {
  const out: Attributes = {};
  a.addAttributes(ec, out);
  return out;
}

describe('ContextAuditor', () => {
  it('records every key, allow-listed values verbatim and the rest as a keyed hash', () => {
    const a = new ContextAuditor(['purpose'], 'k');
    const out = attrs(a, { tenant: 'acme-secret', purpose: 'backup' });
    expect(out['steadykms.encryption_context.keys']).toEqual(['purpose', 'tenant']);
    expect(out['steadykms.encryption_context.purpose']).toBe('backup');
    const expected = createHmac('sha256', 'k').update('acme-secret').digest('hex').slice(0, 32);
    expect(out['steadykms.encryption_context.tenant']).toBe(HASHED_VALUE_PREFIX + expected);
    expect(JSON.stringify(out)).not.toContain('acme-secret');
  });

  it('hashes equal values equally, so they correlate, and different keys differently', () => {
    const a = new ContextAuditor([], 'k1');
    expect(a.hash('v')).toBe(a.hash('v'));
    expect(a.hash('v')).not.toBe(a.hash('w'));
    expect(new ContextAuditor([], 'k2').hash('v')).not.toBe(a.hash('v'));
  });

  it('uses one random key per process when none is given', () => {
    const a = new ContextAuditor();
    const b = new ContextAuditor();
    expect(a.hash('x')).toBe(b.hash('x'));
    expect(a.hash('x')).not.toBe(
      HASHED_VALUE_PREFIX + createHmac('sha256', '').update('x').digest('hex').slice(0, 32),
    );
  });

  it('adds nothing for an absent or empty context, and rejects an empty key', () => {
    const a = new ContextAuditor();
    expect(attrs(a, undefined)).toEqual({});
    expect(attrs(a, {})).toEqual({});
    expect(() => new ContextAuditor([], '')).toThrow(/hashKey/);
  });
});
