import { SpanKind } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { KMS_PRICES } from '../cost/prices.js';
import { ShapeCache, type ShapeFields } from './ShapeCache.js';

const fields: ShapeFields = {
  operation: 'GenerateDataKey',
  region: 'eu-west-1',
  accountId: undefined,
  pool: 'symmetric',
  billing: 'standard',
  keyId: 'alias/app',
};

describe('ShapeCache', () => {
  it('builds a shape once per set of fields and reuses it', () => {
    const c = new ShapeCache(KMS_PRICES);
    const a = c.get(fields);
    expect(c.get({ ...fields })).toBe(a);
    expect(c.get({ ...fields, keyId: 'alias/other' })).not.toBe(a);
    expect(c.get({ ...fields, accountId: '111122223333' })).not.toBe(a);
  });

  it('holds the span name, a frozen CLIENT span start and the price of one request', () => {
    const s = new ShapeCache(KMS_PRICES).get({ ...fields, billing: 'rsa-data-key-pair' });
    expect(s.spanName).toBe('KMS.GenerateDataKey');
    expect(s.spanOptions.kind).toBe(SpanKind.CLIENT);
    expect(Object.isFrozen(s.spanOptions)).toBe(true);
    expect(Object.isFrozen(s.spanOptions.attributes)).toBe(true);
    expect(s.spanOptions.attributes).toEqual({
      'rpc.system': 'aws-api',
      'rpc.service': 'KMS',
      'rpc.method': 'GenerateDataKey',
      'cloud.region': 'eu-west-1',
      'steadykms.quota.pool': 'symmetric',
      'steadykms.billing.class': 'rsa-data-key-pair',
      'steadykms.kms.key_id': 'alias/app',
      'steadykms.kms.key_alias': 'alias/app',
    });
    expect(s.billing).toBe('rsa-data-key-pair');
    expect(s.pricePerRequest).toBeCloseTo(12 / 10_000, 12);
  });

  it('bills an unknown class as standard', () => {
    const s = new ShapeCache(KMS_PRICES).get({ ...fields, billing: 'new-class' });
    expect(s.billing).toBe('standard');
  });

  it('empties itself past its bound and rebuilds', () => {
    const c = new ShapeCache(KMS_PRICES, 2);
    const a = c.get(fields);
    c.get({ ...fields, keyId: 'k2' });
    c.get({ ...fields, keyId: 'k3' });
    const again = c.get(fields);
    expect(again).not.toBe(a);
    expect(again).toEqual(a);
  });
});
