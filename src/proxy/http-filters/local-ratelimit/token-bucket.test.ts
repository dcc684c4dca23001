import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from './token-bucket.ts';

/** Takes tokens at `now` until the bucket refuses (at most `limit` tries); how many it gave. */
function drain(bucket: TokenBucket, now: number, limit = 100): number {
  let taken = 0;
  while (taken < limit && bucket.tryTake(now)) taken++;
  return taken;
}

describe('TokenBucket', () => {
  it('starts full and refuses once its tokens are taken', () => {
    const bucket = new TokenBucket({ maxTokens: 3, tokensPerFill: 1, fillIntervalMs: 1000 });
    assert.equal(bucket.remaining(5_000), 3);
    assert.equal(drain(bucket, 5_000), 3);
    assert.equal(bucket.tryTake(5_999), false);
    assert.equal(bucket.remaining(5_999), 0);
  });

  it('adds tokensPerFill at each whole fill interval after its first use, none in between', () => {
    const bucket = new TokenBucket({ maxTokens: 10, tokensPerFill: 2, fillIntervalMs: 1000 });
    assert.equal(drain(bucket, 1_000), 10);
    assert.equal(bucket.remaining(1_999), 0);
    assert.equal(bucket.remaining(2_000), 2);
    assert.equal(bucket.remaining(2_999), 2);
    assert.equal(bucket.remaining(4_500), 6, 'two more intervals have passed');
    assert.equal(drain(bucket, 4_500), 6);
    assert.equal(bucket.remaining(4_999), 0, 'the interval that began at 4000 is not over');
    assert.equal(bucket.remaining(5_000), 2);
  });

  it('never holds more than maxTokens, however long it sat idle', () => {
    const bucket = new TokenBucket({ maxTokens: 5, tokensPerFill: 4, fillIntervalMs: 100 });
    assert.equal(bucket.tryTake(0), true);
    assert.equal(bucket.remaining(100), 5, '4 + 4 is capped at 5');
    assert.equal(bucket.remaining(3_600_000), 5);
    assert.equal(drain(bucket, 3_600_000), 5);
  });

  it('tells the time to the next fill, counting from the last one', () => {
    const bucket = new TokenBucket({ maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 60_000 });
    assert.equal(bucket.tryTake(10_000), true);
    assert.equal(bucket.untilNextFill(10_000), 60_000);
    assert.equal(bucket.untilNextFill(25_500), 44_500);
    assert.equal(bucket.untilNextFill(70_000), 60_000, 'a fill just happened');
    assert.equal(bucket.remaining(70_000), 1);
  });

  it('starts the interval again when the clock steps back, keeping its tokens', () => {
    const bucket = new TokenBucket({ maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 1000 });
    assert.equal(drain(bucket, 50_000), 2);
    assert.equal(bucket.remaining(40_000), 0);
    assert.equal(bucket.untilNextFill(40_000), 1000);
    assert.equal(bucket.remaining(41_000), 1);
  });
});
