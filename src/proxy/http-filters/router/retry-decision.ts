import type { Headers } from '../../http/headers.ts';
import type { RetryCondition, RetryPolicy } from '../../route/route-entry.ts';
import type { UpstreamFailure } from '../../upstream/pools/index.ts';

/** How an attempt ended, as far as retrying is concerned. */
export type AttemptOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly headers: Headers }
  | { readonly kind: 'failure'; readonly failure: UpstreamFailure }
  | { readonly kind: 'per-try-timeout' };

/** x-envoy-retry-grpc-on conditions by the gRPC status code they retry. */
const GRPC_CONDITIONS: ReadonlyMap<number, RetryCondition> = new Map([
  [1, 'cancelled'],
  [4, 'deadline-exceeded'],
  [8, 'resource-exhausted'],
  [13, 'internal'],
  [14, 'unavailable'],
]);

/**
 * Whether the policy's conditions call for another attempt after this outcome (the retry budget
 * and circuit breaker are the caller's). As in Envoy: `5xx`, `gateway-error` and `reset` also
 * retry resets, connect failures and per-try timeouts; `connect-failure`, `refused-stream` and
 * `reset-before-request` only their own kind; `retriable-status-codes` only the listed statuses
 * (so a "503" policy does not retry a reset); gRPC conditions read the grpc-status of a
 * trailers-only response. An overflow and an upstream saying `x-envoy-overloaded` are never retried.
 */
export function wouldRetry(policy: RetryPolicy, outcome: AttemptOutcome): boolean {
  const on = policy.retryOn;
  switch (outcome.kind) {
    case 'response': {
      const { status, headers } = outcome;
      if (headers['x-envoy-overloaded'] !== undefined) return false;
      if (on.has('5xx') && status >= 500) return true;
      if (on.has('gateway-error') && (status === 502 || status === 503 || status === 504)) return true;
      if (on.has('retriable-4xx') && status === 409) return true;
      if (on.has('retriable-status-codes') && policy.retriableStatusCodes.has(status)) return true;
      if (on.has('envoy-ratelimited') && headers['x-envoy-ratelimited'] !== undefined) return true;
      const grpc = headers['grpc-status'];
      if (typeof grpc === 'string') {
        const condition = GRPC_CONDITIONS.get(Number(grpc));
        if (condition !== undefined && on.has(condition)) return true;
      }
      return false;
    }
    case 'per-try-timeout':
      return on.has('5xx') || on.has('gateway-error') || on.has('reset');
    case 'failure': {
      const failure = outcome.failure;
      switch (failure.kind) {
        case 'overflow':
        case 'aborted':
          return false;
        case 'connect-failure':
        case 'connect-timeout':
          if (on.has('connect-failure') || on.has('reset-before-request')) return true;
          break;
        case 'refused-stream':
          if (on.has('refused-stream')) return true;
          break;
        case 'reset':
          if (on.has('reset-before-request') && !failure.requestSent) return true;
          break;
      }
      return on.has('5xx') || on.has('gateway-error') || on.has('reset');
    }
  }
}

/**
 * Envoy's jittered exponential back-off: before retry n (1-based), a uniform wait below
 * (2^n − 1) × base, never above the cap.
 */
export function backOffMs(policy: RetryPolicy, retry: number, random: () => number): number {
  const { baseMs, maxMs } = policy.backOff;
  const ceiling = (2 ** Math.min(retry, 30) - 1) * baseMs;
  return Math.min(Math.floor(random() * ceiling), maxMs);
}
