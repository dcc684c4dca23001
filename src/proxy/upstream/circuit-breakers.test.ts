import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_LIMITS, SlotCircuitBreakers } from './circuit-breakers.ts';
import { RecordingStats } from './upstream-test-support.ts';

describe('SlotCircuitBreakers', () => {
  it('refuses a slot past the limit, counts the overflow and opens the breaker', () => {
    const stats = new RecordingStats();
    const breakers = new SlotCircuitBreakers({ ...DEFAULT_LIMITS, connections: 1 }, stats);
    const release = breakers.tryAcquire('connections');
    assert.ok(release);
    assert.equal(stats.get('circuit_breakers.default.cx_open'), 1);
    assert.equal(breakers.tryAcquire('connections'), undefined);
    assert.equal(stats.get('upstream_cx_overflow'), 1);
    release();
    assert.equal(stats.get('circuit_breakers.default.cx_open'), 0);
    assert.ok(breakers.tryAcquire('connections'));
  });

  it('gives a slot back once, however often the release is called', () => {
    const breakers = new SlotCircuitBreakers({ ...DEFAULT_LIMITS, requests: 2 }, new RecordingStats());
    const release = breakers.tryAcquire('requests')!;
    breakers.tryAcquire('requests');
    release();
    release();
    assert.equal(breakers.inUse('requests'), 1);
  });

  it('counts pending and request overflow as upstream_rq_pending_overflow, retries as upstream_rq_retry_overflow', () => {
    const stats = new RecordingStats();
    const breakers = new SlotCircuitBreakers({ connections: 0, pendingRequests: 0, requests: 0, retries: 0 }, stats);
    breakers.tryAcquire('pendingRequests');
    breakers.tryAcquire('requests');
    breakers.tryAcquire('retries');
    assert.equal(stats.get('upstream_rq_pending_overflow'), 2);
    assert.equal(stats.get('upstream_rq_retry_overflow'), 1);
  });

  it('publishes the remaining slots when asked to track them', () => {
    const stats = new RecordingStats();
    const breakers = new SlotCircuitBreakers({ ...DEFAULT_LIMITS, trackRemaining: true }, stats);
    breakers.tryAcquire('pendingRequests');
    assert.equal(stats.get('circuit_breakers.default.remaining_pending'), 1023);
    assert.equal(stats.get('circuit_breakers.default.remaining_retries'), 3);
    assert.equal(new RecordingStats().get('circuit_breakers.default.remaining_cx'), undefined);
  });

  it('limits retries to a share of the active requests under a retry budget, at least minRetryConcurrency', () => {
    const breakers = new SlotCircuitBreakers({ ...DEFAULT_LIMITS, retries: 100, retryBudget: { budgetPercent: 25, minRetryConcurrency: 1 } }, new RecordingStats());
    assert.ok(breakers.tryAcquire('retries'), 'the minimum');
    assert.equal(breakers.tryAcquire('retries'), undefined, 'maxRetries no longer applies');
    for (let i = 0; i < 8; i++) breakers.tryAcquire('requests');
    assert.ok(breakers.tryAcquire('retries'), '25% of 8 requests is 2 retries');
    assert.equal(breakers.tryAcquire('retries'), undefined);
  });
});
