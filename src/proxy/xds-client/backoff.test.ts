import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JitteredBackoff } from './backoff.ts';

describe('JitteredBackoff', () => {
  it('doubles the ceiling of each delay from 500 ms up to 30 s', () => {
    const backoff = new JitteredBackoff({ random: () => 0.999999 });
    const delays = Array.from({ length: 9 }, () => backoff.next());
    assert.deepEqual(delays, [499, 999, 1999, 3999, 7999, 15999, 29999, 29999, 29999]);
  });

  it('draws each delay uniformly below its ceiling', () => {
    const draws = [0, 0.5, 0.25];
    const backoff = new JitteredBackoff({ random: () => draws.shift() ?? 0 });
    assert.deepEqual([backoff.next(), backoff.next(), backoff.next()], [0, 500, 500]);
  });

  it('starts again from the base after a reset', () => {
    const backoff = new JitteredBackoff({ baseMs: 100, maxMs: 1000, random: () => 0.5 });
    assert.deepEqual([backoff.next(), backoff.next(), backoff.next()], [50, 100, 200]);
    backoff.reset();
    assert.equal(backoff.next(), 50);
  });

  it('refuses a maximum below the base', () => {
    assert.throws(() => new JitteredBackoff({ baseMs: 500, maxMs: 100, random: () => 0 }), /0 < baseMs <= maxMs/);
  });
});
