import { describe, expect, it } from 'vitest';
import { StatsRecorder } from './Stats.js';

const pool = (region: string, name: string) => ({ pool: name, region });

describe('StatsRecorder', () => {
  it('counts by region and pool under `<region>/<pool>`, in the order they first appear', () => {
    const stats = new StatsRecorder();
    stats.record('GenerateDataKey', 'us-east-1', [pool('us-east-1', 'symmetric')], 'accepted');
    stats.record(
      'ReplicateKey',
      'eu-west-1',
      [pool('eu-west-1', 'control/ReplicateKey'), pool('us-east-1', 'control/CreateKey')],
      'accepted',
    );
    stats.record('GenerateDataKey', 'us-east-1', [pool('us-east-1', 'symmetric')], 'throttled');
    stats.record('Decrypt', 'us-east-1', [pool('us-east-1', 'symmetric')], 'error');
    const s = stats.snapshot();
    expect(Object.keys(s.byRegionPool)).toEqual([
      'us-east-1/symmetric',
      'eu-west-1/control/ReplicateKey',
      'us-east-1/control/CreateKey',
    ]);
    expect(s.byRegionPool['us-east-1/symmetric']).toEqual({
      accepted: 2,
      throttled: 1,
      faulted: 0,
      errors: 1,
    });
    expect(s.byPool['symmetric']).toEqual(s.byRegionPool['us-east-1/symmetric']);
    stats.reset();
    expect(stats.snapshot().byRegionPool).toEqual({});
  });

  it('shares one counter between two region and pool pairs that spell the same key', () => {
    const stats = new StatsRecorder();
    stats.record('X', 'a', [pool('a/b', 'c')], 'accepted');
    stats.record('X', 'a', [pool('a', 'b/c')], 'faulted');
    expect(stats.snapshot().byRegionPool).toEqual({
      'a/b/c': { accepted: 1, throttled: 0, faulted: 1, errors: 0 },
    });
  });
});
