import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RestartBackoff } from './restart-backoff.ts';

const short = 10;

describe('RestartBackoff', () => {
  it('waits 1s, then doubles up to 30s, by default', () => {
    const backoff = new RestartBackoff();
    const delays = Array.from({ length: 8 }, () => backoff.delayAfter(short));
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('doubles from the initial delay and stays at the maximum', () => {
    const backoff = new RestartBackoff({ initialMs: 50, maxMs: 300, resetAfterMs: 1000 });
    const delays = Array.from({ length: 5 }, () => backoff.delayAfter(short));
    assert.deepEqual(delays, [50, 100, 200, 300, 300]);
  });

  it('starts over after a run that lasted resetAfterMs, and not after a shorter one', () => {
    const backoff = new RestartBackoff({ initialMs: 50, maxMs: 300, resetAfterMs: 1000 });
    backoff.delayAfter(short);
    backoff.delayAfter(short);
    assert.equal(backoff.delayAfter(999), 200);
    assert.equal(backoff.delayAfter(1000), 50);
    assert.equal(backoff.delayAfter(short), 100);
  });

  it('starts over on reset()', () => {
    const backoff = new RestartBackoff({ initialMs: 50, maxMs: 300, resetAfterMs: 1000 });
    backoff.delayAfter(short);
    backoff.delayAfter(short);
    backoff.reset();
    assert.equal(backoff.delayAfter(short), 50);
  });

  it('refuses settings that would spin or never grow', () => {
    assert.throws(() => new RestartBackoff({ initialMs: 0, maxMs: 100, resetAfterMs: 1000 }), /initialMs must be a positive number/);
    assert.throws(() => new RestartBackoff({ initialMs: 100, maxMs: 50, resetAfterMs: 1000 }), /maxMs \(50\) must be a number at least initialMs \(100\)/);
    assert.throws(() => new RestartBackoff({ initialMs: 100, maxMs: 200, resetAfterMs: -1 }), /resetAfterMs must not be negative/);
  });
});
