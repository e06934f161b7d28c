import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../errors.js';
import { resolveSteadyKmsConfig } from './options.js';

describe('resolveSteadyKmsConfig', () => {
  it('takes share overall or per pool, most specific first', () => {
    expect(resolveSteadyKmsConfig({ share: 0.25 }).share('symmetric')).toBe(0.25);
    const { share } = resolveSteadyKmsConfig({
      share: { default: 0.5, control: 0.2, 'control/CreateKey': 0.1, rsa: 0.9 },
    });
    expect(share('symmetric')).toBe(0.5);
    expect(share('rsa')).toBe(0.9);
    expect(share('control/ListKeys')).toBe(0.2);
    expect(share('control/CreateKey')).toBe(0.1);
    expect(resolveSteadyKmsConfig({}).share('ecc')).toBe(1);
  });

  it('takes the quotas option in local-kms shape', () => {
    const { quota } = resolveSteadyKmsConfig({
      quotas: { scale: 0.01, overrides: { 'control/CreateKey': 2 } },
    });
    expect(quota('symmetric', 'ca-central-1')).toBe(100);
    expect(quota('control/CreateKey', 'ca-central-1')).toBe(2);
    expect(resolveSteadyKmsConfig({ quotas: false }).unlimited).toBe(true);
  });

  it.each([
    [{ share: 0 }, /share must be/],
    [{ share: { symmetric: 1.5 } }, /share\['symmetric'\]/],
    [{ quotas: { scale: -1 } }, /quotas\.scale/],
    [{ accountId: '12' }, /accountId/],
    [{ deadlineMs: 0 }, /deadlineMs/],
    [{ retry: { maxAttempts: 0 } }, /retry\.maxAttempts/],
    [{ limiter: { headroom: 1 } }, /limiter\.headroom/],
    [{ priority: 'urgent' as never }, /priority/],
  ])('rejects %j naming the option', (options, message) => {
    expect(() => resolveSteadyKmsConfig(options)).toThrow(message);
    expect(() => resolveSteadyKmsConfig(options)).toThrow(InvalidOptionError);
  });
});
