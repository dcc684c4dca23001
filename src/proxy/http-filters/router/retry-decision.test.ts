import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RetryCondition, RetryPolicy } from '../../route/route-entry.ts';
import { backOffMs, wouldRetry, type AttemptOutcome } from './retry-decision.ts';

function policy(retryOn: RetryCondition[], retriableStatusCodes: number[] = []): RetryPolicy {
  return {
    retryOn: new Set(retryOn),
    numRetries: 2,
    perTryTimeoutMs: 0,
    retriableStatusCodes: new Set(retriableStatusCodes),
    backOff: { baseMs: 25, maxMs: 250 },
    avoidPreviousHosts: false,
    avoidPreviousPriorities: false,
    hostSelectionRetryMaxAttempts: 1,
  };
}

const status = (code: number, headers: Record<string, string> = {}): AttemptOutcome => ({ kind: 'response', status: code, headers });
const connectFailure: AttemptOutcome = { kind: 'failure', failure: { kind: 'connect-failure', message: 'ECONNREFUSED' } };
const resetAfterSending: AttemptOutcome = { kind: 'failure', failure: { kind: 'reset', remote: false, requestSent: true, message: 'closed' } };
const resetBeforeSending: AttemptOutcome = { kind: 'failure', failure: { kind: 'reset', remote: false, requestSent: false, message: 'closed' } };
const refused: AttemptOutcome = { kind: 'failure', failure: { kind: 'refused-stream' } };
const overflow: AttemptOutcome = { kind: 'failure', failure: { kind: 'overflow' } };
const perTryTimeout: AttemptOutcome = { kind: 'per-try-timeout' };

describe('wouldRetry', () => {
  it('retries any 5xx, resets, connect failures and per-try timeouts under 5xx', () => {
    const p = policy(['5xx']);
    for (const outcome of [status(500), status(503), connectFailure, resetAfterSending, refused, perTryTimeout]) assert.equal(wouldRetry(p, outcome), true);
    assert.equal(wouldRetry(p, status(404)), false);
  });

  it('retries only 502, 503 and 504 among statuses under gateway-error', () => {
    const p = policy(['gateway-error']);
    assert.deepEqual([500, 502, 503, 504].map((code) => wouldRetry(p, status(code))), [false, true, true, true]);
    assert.equal(wouldRetry(p, resetAfterSending), true);
  });

  it('retries only the listed statuses under retriable-status-codes, never a reset', () => {
    const p = policy(['retriable-status-codes'], [503]);
    assert.equal(wouldRetry(p, status(503)), true);
    assert.equal(wouldRetry(p, status(502)), false);
    assert.equal(wouldRetry(p, resetAfterSending), false);
    assert.equal(wouldRetry(p, connectFailure), false);
  });

  it('retries connect failures under connect-failure and refused streams under refused-stream, and nothing else', () => {
    assert.equal(wouldRetry(policy(['connect-failure']), connectFailure), true);
    assert.equal(wouldRetry(policy(['connect-failure']), { kind: 'failure', failure: { kind: 'connect-timeout' } }), true);
    assert.equal(wouldRetry(policy(['connect-failure']), resetAfterSending), false);
    assert.equal(wouldRetry(policy(['refused-stream']), refused), true);
    assert.equal(wouldRetry(policy(['refused-stream']), resetAfterSending), false);
  });

  it('retries a reset under reset-before-request only while the request had not been sent', () => {
    const p = policy(['reset-before-request']);
    assert.equal(wouldRetry(p, resetBeforeSending), true);
    assert.equal(wouldRetry(p, connectFailure), true);
    assert.equal(wouldRetry(p, resetAfterSending), false);
  });

  it('retries 409 under retriable-4xx and x-envoy-ratelimited under envoy-ratelimited', () => {
    assert.equal(wouldRetry(policy(['retriable-4xx']), status(409)), true);
    assert.equal(wouldRetry(policy(['retriable-4xx']), status(429)), false);
    assert.equal(wouldRetry(policy(['envoy-ratelimited']), status(429, { 'x-envoy-ratelimited': 'true' })), true);
  });

  it('reads gRPC conditions from a trailers-only grpc-status', () => {
    const p = policy(['cancelled', 'deadline-exceeded', 'resource-exhausted', 'internal', 'unavailable']);
    assert.deepEqual(['1', '4', '8', '13', '14', '0', '2'].map((code) => wouldRetry(p, status(200, { 'grpc-status': code }))), [true, true, true, true, true, false, false]);
    assert.equal(wouldRetry(policy(['unavailable']), status(200, { 'grpc-status': '4' })), false);
  });

  it('never retries an overflow or an overloaded upstream', () => {
    const p = policy(['5xx', 'reset', 'connect-failure']);
    assert.equal(wouldRetry(p, overflow), false);
    assert.equal(wouldRetry(p, status(503, { 'x-envoy-overloaded': 'true' })), false);
  });
});

describe('backOffMs', () => {
  it('waits a uniform share of (2^n - 1) x base before retry n, capped at the maximum', () => {
    const p = policy(['5xx']);
    assert.equal(backOffMs(p, 1, () => 0.5), 12);
    assert.equal(backOffMs(p, 2, () => 0.5), 37);
    assert.equal(backOffMs(p, 3, () => 0.99), 173);
    assert.equal(backOffMs(p, 10, () => 0.99), 250);
    assert.equal(backOffMs(p, 1, () => 0), 0);
  });
});
