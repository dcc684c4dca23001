import type { Timers, Logger } from '../../../core/index.ts';
import type { RequestHead } from '../../http/request-head.ts';
import type { ClusterManager } from '../../upstream/cluster.ts';
import type { HttpConnectionPool, UpstreamRequestBody } from '../../upstream/pools/index.ts';
import type { UpstreamCluster, UpstreamHost } from '../../upstream/cluster.ts';

export interface MirrorDeps {
  readonly clusters: ClusterManager;
  readonly pools: { pool(cluster: UpstreamCluster, host: UpstreamHost, protocol: 'http1' | 'http2', authority?: string): HttpConnectionPool };
  readonly timers: Timers;
  readonly logger: Logger;
}

/**
 * Envoy's shadow host: `-shadow` appended to the host name, before the port when there is one
 * (`reviews:9080` → `reviews-shadow:9080`), so the mirror's logs tell copies apart.
 */
export function shadowAuthority(authority: string): string {
  const colon = authority.lastIndexOf(':');
  // A colon inside an IPv6 literal ([::1]) is not a port separator.
  if (colon < 0 || authority.lastIndexOf(']') > colon) return `${authority}-shadow`;
  return `${authority.slice(0, colon)}-shadow${authority.slice(colon)}`;
}

/**
 * Sends a copy of a request to a mirror cluster and forgets it: the response is read and
 * dropped, failures only logged, so the mirror can never change what the client gets. The copy
 * waits for the whole body (`body` resolves undefined when it was too large to keep: no copy).
 */
export async function sendMirror(
  deps: MirrorDeps, clusterName: string, head: RequestHead, body: Promise<UpstreamRequestBody | undefined>, timeoutMs: number,
): Promise<void> {
  // Copied before the first await: the router goes on changing its head (attempt count, host rewrite).
  const copy: RequestHead = { ...head, authority: shadowAuthority(head.authority), headers: { ...head.headers } };
  const cluster = deps.clusters.get(clusterName);
  if (cluster === undefined) {
    deps.logger.debug('mirror cluster not found', { cluster: clusterName });
    return;
  }
  const content = await body;
  if (content === undefined) return;
  const host = cluster.picker().pick({});
  if (host === undefined) return;
  const protocol = cluster.upstreamProtocol === 'http2' || (cluster.upstreamProtocol === 'downstream' && head.protocol === 'HTTP/2') ? 'http2' : 'http1';
  const controller = new AbortController();
  const timer = timeoutMs > 0 ? deps.timers.setTimeout(() => controller.abort(), timeoutMs) : undefined;
  try {
    // Auto SNI names the server by the original host: the -shadow suffix is for the mirror's logs.
    const result = await deps.pools.pool(cluster, host, protocol, head.authority).request(copy, content, { signal: controller.signal });
    if (!result.ok) {
      deps.logger.debug('mirror request failed', { cluster: clusterName, reason: result.error.kind });
      return;
    }
    const responseBody = result.value.body;
    responseBody.on('error', () => {});
    responseBody.resume();
    await new Promise((resolve) => responseBody.once('close', resolve));
  } finally {
    if (timer !== undefined) deps.timers.clearTimeout(timer);
  }
}
