import { describe, expect, it } from 'vitest';
import { CounterTable } from './CounterTable.js';

describe('CounterTable', () => {
  it('keeps one row per key, made once', () => {
    const t = new CounterTable();
    let made = 0;
    const attrs = () => {
      made++;
      return { k: 'a' };
    };
    t.row('a', attrs).requests += 2;
    t.row('a', attrs).requests += 3;
    expect(made).toBe(1);
    expect([...t.rows()].map((r) => [r.attributes, r.requests])).toEqual([[{ k: 'a' }, 5]]);
  });

  it('sends sums past the bound to one overflow row, as the SDK does', () => {
    const t = new CounterTable(2);
    t.row('a', () => ({ k: 'a' })).requests++;
    t.row('b', () => ({ k: 'b' })).requests++;
    t.row('c', () => ({ k: 'c' })).requests++;
    t.row('d', () => ({ k: 'd' })).requests++;
    t.row('a', () => ({ k: 'a' })).requests++;
    expect([...t.rows()].map((r) => [r.attributes, r.requests])).toEqual([
      [{ k: 'a' }, 2],
      [{ k: 'b' }, 1],
      [{ 'otel.metric.overflow': true }, 2],
    ]);
  });
});
