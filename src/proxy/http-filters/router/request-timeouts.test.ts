import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Headers } from '../../http/headers.ts';
import type { RouteAction } from '../../route/route-entry.ts';
import { formatGrpcTimeout, parseGrpcTimeout, requestTimeouts } from './request-timeouts.ts';

type ForwardAction = Extract<RouteAction, { kind: 'forward' }>;

function action(timeoutMs: number, perTryTimeoutMs = 0, maxGrpcTimeoutMs?: number): ForwardAction {
  return {
    kind: 'forward',
    pickCluster: () => ({ name: 'c', requestHeaders: { remove: [], set: [], append: [], addIfAbsent: [] }, responseHeaders: { remove: [], set: [], append: [], addIfAbsent: [] } }),
    timeoutMs,
    retry: {
      retryOn: new Set(), numRetries: 1, perTryTimeoutMs, retriableStatusCodes: new Set(), backOff: { baseMs: 25, maxMs: 250 },
      avoidPreviousHosts: false, avoidPreviousPriorities: false, hostSelectionRetryMaxAttempts: 1,
    },
    rewrite: () => {},
    hashPolicies: [],
    mirrors: [],
    ...(maxGrpcTimeoutMs !== undefined ? { maxGrpcTimeoutMs } : {}),
  };
}

describe('requestTimeouts', () => {
  it('uses the route timeout and tells the upstream in x-envoy-expected-rq-timeout-ms', () => {
    const headers: Headers = {};
    assert.deepEqual(requestTimeouts(action(15_000), headers, false, false), { globalMs: 15_000, perTryMs: 0 });
    assert.equal(headers['x-envoy-expected-rq-timeout-ms'], '15000');
  });

  it('expects the per-try timeout when there is one, and drops one not below the global timeout', () => {
    const headers: Headers = {};
    assert.deepEqual(requestTimeouts(action(10_000, 2000), headers, false, false), { globalMs: 10_000, perTryMs: 2000 });
    assert.equal(headers['x-envoy-expected-rq-timeout-ms'], '2000');
    assert.deepEqual(requestTimeouts(action(1000, 2000), {}, false, false), { globalMs: 1000, perTryMs: 0 });
  });

  it('honours and removes the x-envoy timeout headers', () => {
    const headers: Headers = { 'x-envoy-upstream-rq-timeout-ms': '500', 'x-envoy-upstream-rq-per-try-timeout-ms': '200' };
    assert.deepEqual(requestTimeouts(action(15_000), headers, false, false), { globalMs: 500, perTryMs: 200 });
    assert.deepEqual(headers, { 'x-envoy-expected-rq-timeout-ms': '200' });
  });

  it('ignores a malformed x-envoy-upstream-rq-timeout-ms, removing it still', () => {
    const headers: Headers = { 'x-envoy-upstream-rq-timeout-ms': 'soon' };
    assert.deepEqual(requestTimeouts(action(15_000), headers, false, false), { globalMs: 15_000, perTryMs: 0 });
    assert.equal(headers['x-envoy-upstream-rq-timeout-ms'], undefined);
  });

  it('takes a gRPC request\'s grpc-timeout, capped by maxGrpcTimeout, and rewrites it', () => {
    const headers: Headers = { 'grpc-timeout': '30S' };
    assert.equal(requestTimeouts(action(15_000, 0, 5000), headers, true, false).globalMs, 5000);
    assert.equal(headers['grpc-timeout'], '5000m');
    assert.equal(requestTimeouts(action(15_000, 0, 5000), { 'grpc-timeout': '100m' }, true, false).globalMs, 100);
    assert.equal(requestTimeouts(action(15_000, 0, 0), { 'grpc-timeout': '1H' }, true, false).globalMs, 3_600_000, '0 does not cap');
    assert.equal(requestTimeouts(action(15_000, 0, 0), {}, true, false).globalMs, 0, 'no grpc-timeout: no limit');
  });

  it('ignores grpc-timeout without maxGrpcTimeout, and for requests that are not gRPC', () => {
    assert.equal(requestTimeouts(action(15_000), { 'grpc-timeout': '1S' }, true, false).globalMs, 15_000);
    assert.equal(requestTimeouts(action(15_000, 0, 5000), { 'grpc-timeout': '1S' }, false, false).globalMs, 15_000);
  });

  it('adds no x-envoy header when Envoy headers are suppressed', () => {
    const headers: Headers = {};
    requestTimeouts(action(15_000), headers, false, true);
    assert.deepEqual(headers, {});
  });
});

describe('grpc-timeout', () => {
  it('parses each unit into whole milliseconds, rounding up', () => {
    assert.deepEqual(['2H', '3M', '4S', '250m', '1500u', '1n'].map(parseGrpcTimeout), [7_200_000, 180_000, 4000, 250, 2, 1]);
  });

  it('refuses a value with more than 8 digits, no unit or another unit', () => {
    assert.deepEqual(['123456789S', '100', '5s', 'S', ''].map(parseGrpcTimeout), [undefined, undefined, undefined, undefined, undefined]);
  });

  it('formats in milliseconds while they fit 8 digits, then in larger units', () => {
    assert.equal(formatGrpcTimeout(1500), '1500m');
    assert.equal(formatGrpcTimeout(100_000_000), '100000S');
  });
});
