import type { Headers } from '../../http/headers.ts';
import type { RouteAction } from '../../route/route-entry.ts';

type ForwardAction = Extract<RouteAction, { kind: 'forward' }>;

/** In milliseconds; 0 is no timeout. */
export interface RequestTimeouts {
  /** The whole request, retries included (504 UT `upstream_response_timeout`). */
  readonly globalMs: number;
  /** Each attempt (504 UT `upstream_per_try_timeout` when no retry follows). */
  readonly perTryMs: number;
}

const HEADER_TIMEOUT = 'x-envoy-upstream-rq-timeout-ms';
const HEADER_PER_TRY_TIMEOUT = 'x-envoy-upstream-rq-per-try-timeout-ms';

/**
 * The timeouts of one request, as Envoy's router works them out, changing the upstream headers
 * on the way: the route timeout, or for gRPC with a maxGrpcTimeout the request's grpc-timeout
 * (none: unlimited) capped by it (0: no cap); `x-envoy-upstream-rq-timeout-ms` and
 * `x-envoy-upstream-rq-per-try-timeout-ms` override and are removed; a per-try timeout not below
 * the global one is dropped. The upstream is told the time it has in
 * `x-envoy-expected-rq-timeout-ms` (unless Envoy headers are suppressed) and, for gRPC with a
 * maxGrpcTimeout, in a rewritten grpc-timeout.
 */
export function requestTimeouts(action: ForwardAction, headers: Headers, grpc: boolean, suppressEnvoyHeaders: boolean): RequestTimeouts {
  let globalMs = action.timeoutMs;
  const maxGrpc = action.maxGrpcTimeoutMs;
  const grpcCapped = grpc && maxGrpc !== undefined;
  if (grpcCapped) {
    let grpcMs = parseGrpcTimeout(headers['grpc-timeout']) ?? 0;
    if (maxGrpc !== 0 && (grpcMs === 0 || grpcMs > maxGrpc)) grpcMs = maxGrpc;
    globalMs = grpcMs;
  }
  let perTryMs = action.retry?.perTryTimeoutMs ?? 0;
  const headerTimeout = milliseconds(headers[HEADER_TIMEOUT]);
  if (headerTimeout !== undefined) globalMs = headerTimeout;
  if (headers[HEADER_TIMEOUT] !== undefined) delete headers[HEADER_TIMEOUT];
  const headerPerTry = milliseconds(headers[HEADER_PER_TRY_TIMEOUT]);
  if (headerPerTry !== undefined) perTryMs = headerPerTry;
  if (headers[HEADER_PER_TRY_TIMEOUT] !== undefined) delete headers[HEADER_PER_TRY_TIMEOUT];
  if (globalMs !== 0 && perTryMs >= globalMs) perTryMs = 0;

  const expected = perTryMs !== 0 ? perTryMs : globalMs;
  if (expected !== 0) {
    if (!suppressEnvoyHeaders) headers['x-envoy-expected-rq-timeout-ms'] = String(expected);
    if (grpcCapped) headers['grpc-timeout'] = formatGrpcTimeout(expected);
  }
  return { globalMs, perTryMs };
}

/** gRPC's Timeout: up to 8 digits and a unit (H, M, S, m, u, n), in whole milliseconds rounded up. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || value.length < 2 || value.length > 9) return undefined;
  const digits = value.slice(0, -1);
  if (!/^\d+$/.test(digits)) return undefined;
  const amount = Number(digits);
  switch (value[value.length - 1]) {
    case 'H': return amount * 3_600_000;
    case 'M': return amount * 60_000;
    case 'S': return amount * 1000;
    case 'm': return amount;
    case 'u': return Math.ceil(amount / 1000);
    case 'n': return Math.ceil(amount / 1_000_000);
    default: return undefined;
  }
}

/** The finest unit whose amount fits gRPC's 8 digits. */
export function formatGrpcTimeout(ms: number): string {
  if (ms < 1e8) return `${ms}m`;
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 1e8) return `${seconds}S`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 1e8) return `${minutes}M`;
  return `${Math.min(Math.ceil(minutes / 60), 99_999_999)}H`;
}

function milliseconds(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}
