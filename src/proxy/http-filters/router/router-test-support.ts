/** Routes, exchanges and a router over real pools for the router's tests; only tests import this module. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { Logger } from '../../../core/index.ts';
import type { HttpExchange, HttpResponse, RequestHead, UpgradeRequest } from '../../http/exchange.ts';
import { NO_HEADER_MUTATION } from '../../route/index.ts';
import type { ClusterChoice, HeaderMutation, RequestMirror, RetryPolicy, RouteEntry } from '../../route/route-entry.ts';
import type { StatsScope } from '../../telemetry/stats.ts';
import type { ClusterManager, UpstreamCluster } from '../../upstream/cluster.ts';
import { UpstreamPools } from '../../upstream/pools/index.ts';
import { nullStats, realTimers } from '../../upstream/pools/pool-test-support.ts';
import { RouterFilterFactory } from './router-filter.ts';

export const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export function clusterManager(...clusters: UpstreamCluster[]): ClusterManager {
  const byName = new Map(clusters.map((c) => [c.name, c]));
  return { get: (name) => byName.get(name), names: () => [...byName.keys()] };
}

export function mutation(set: Record<string, string> = {}, remove: string[] = []): HeaderMutation {
  return { ...NO_HEADER_MUTATION, set: Object.entries(set), remove };
}

export interface RouteInit {
  readonly timeoutMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly mirrors?: readonly RequestMirror[];
  readonly requestHeaders?: HeaderMutation;
  readonly responseHeaders?: HeaderMutation;
  readonly choice?: Partial<ClusterChoice>;
  readonly prefixRewrite?: readonly [from: string, to: string];
  readonly maxGrpcTimeoutMs?: number;
}

/** A route forwarding to `clusterName`, 15 s timeout and no retries unless `init` says otherwise. */
export function forwardTo(clusterName: string, init: RouteInit = {}): RouteEntry {
  const choice: ClusterChoice = { name: clusterName, requestHeaders: NO_HEADER_MUTATION, responseHeaders: NO_HEADER_MUTATION, ...init.choice };
  const retry: RetryPolicy | undefined = init.retry === undefined ? undefined : {
    retryOn: new Set(),
    numRetries: 1,
    perTryTimeoutMs: 0,
    retriableStatusCodes: new Set(),
    backOff: { baseMs: 5, maxMs: 50 },
    avoidPreviousHosts: false,
    avoidPreviousPriorities: false,
    hostSelectionRetryMaxAttempts: 1,
    ...init.retry,
  };
  return {
    name: 'r',
    virtualHostName: 'vh',
    action: {
      kind: 'forward',
      pickCluster: () => choice,
      timeoutMs: init.timeoutMs ?? 15_000,
      ...(retry !== undefined ? { retry } : {}),
      rewrite: (head) => {
        const rewrite = init.prefixRewrite;
        if (rewrite !== undefined && head.path.startsWith(rewrite[0])) head.path = rewrite[1] + head.path.slice(rewrite[0].length);
      },
      hashPolicies: [],
      mirrors: init.mirrors ?? [],
      ...(init.maxGrpcTimeoutMs !== undefined ? { maxGrpcTimeoutMs: init.maxGrpcTimeoutMs } : {}),
    },
    requestHeaders: init.requestHeaders ?? NO_HEADER_MUTATION,
    responseHeaders: init.responseHeaders ?? NO_HEADER_MUTATION,
    perFilterConfig: new Map(),
  };
}

/** An exchange as the connection manager hands it to the filters; `abort()` is the downstream going away. */
export function exchange(
  route: RouteEntry | undefined, request: Partial<RequestHead> = {}, body: Readable = Readable.from([]), upgrade?: UpgradeRequest,
): HttpExchange & { abort(): void } {
  const controller = new AbortController();
  return {
    request: { method: 'GET', path: '/', authority: 'reviews:9080', scheme: 'http', headers: {}, protocol: 'HTTP/1.1', ...request },
    body,
    downstream: { connectionId: 1, remoteAddress: '127.0.0.1', remotePort: 40000, localAddress: '127.0.0.1', localPort: 15001 },
    info: { requestId: 'req-1', startTime: 0, responseFlags: new Set(), attemptCount: 0, bytesReceived: 0, bytesSent: 0 },
    metadata: new Map(),
    signal: controller.signal,
    route,
    clearRouteCache() {},
    ...(upgrade !== undefined ? { upgrade } : {}),
    abort: () => controller.abort(),
  };
}

export async function bodyText(response: HttpResponse): Promise<string> {
  const body = response.body;
  if (body === null) return '';
  if (Buffer.isBuffer(body)) return body.toString();
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/** A router over real connection pools, called as the terminal filter; close `pools` after. */
export function realRouter(clusters: ClusterManager, stats: StatsScope = nullStats): { handle(exchange: HttpExchange): Promise<HttpResponse>; readonly pools: UpstreamPools } {
  const pools = new UpstreamPools({ timers: realTimers, stats });
  const factory = new RouterFilterFactory({ pools, timers: realTimers });
  const config = factory.parse({ '@type': factory.typeUrl });
  if (!config.ok) assert.fail(config.error);
  const filter = factory.create(config.value, { clusters, stats, httpStats: stats, clock: { now: () => Date.now() }, random: Math.random, logger: silent });
  return { handle: (ex) => filter.handle(ex, () => Promise.reject(new Error('the router is terminal'))), pools };
}
