import { parseDuration } from '../../../core/index.ts';
import { HTTP_PROTOCOL_OPTIONS_KEY } from '../../../xds/envoy/index.ts';
import type { UpstreamCluster } from '../cluster.ts';
import { tcpKeepaliveOf, type TcpKeepaliveOptions } from '../transport-connect.ts';

/** What a pool reads of its cluster, resolved once when the pool is made. */
export interface PoolSettings {
  readonly connectTimeoutMs: number;
  /** Closes a connection with no request for this long; 0 keeps it open. */
  readonly idleTimeoutMs: number;
  /** Requests (HTTP/2 streams) on one connection before it is drained and replaced. */
  readonly maxRequestsPerConnection: number;
  /** Our own cap on concurrent streams per HTTP/2 connection; the upstream's SETTINGS may lower it. */
  readonly maxConcurrentStreams: number;
  /** A connection older than this takes no new request and closes once its requests are done; 0: no limit. */
  readonly maxConnectionDurationMs: number;
  readonly keepalive: TcpKeepaliveOptions | undefined;
}

/** Envoy's upstream idle timeout when HttpProtocolOptions does not set one. */
const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;

export function poolSettings(cluster: UpstreamCluster): PoolSettings {
  const options = cluster.config.typedExtensionProtocolOptions?.[HTTP_PROTOCOL_OPTIONS_KEY];
  const common = options?.commonHttpProtocolOptions;
  const idle = common?.idleTimeout !== undefined ? parseDuration(common.idleTimeout) : undefined;
  const duration = common?.maxConnectionDuration !== undefined ? parseDuration(common.maxConnectionDuration) : undefined;
  const explicit = options?.explicitHttpConfig;
  const http2 = explicit !== undefined && 'http2ProtocolOptions' in explicit
    ? explicit.http2ProtocolOptions
    : options?.useDownstreamProtocolConfig?.http2ProtocolOptions;
  const maxRequests = common?.maxRequestsPerConnection ?? 0;
  const maxStreams = http2?.maxConcurrentStreams ?? 0;
  return {
    connectTimeoutMs: cluster.connectTimeoutMs,
    idleTimeoutMs: idle === undefined ? DEFAULT_IDLE_TIMEOUT_MS : idle.ok ? idle.value : DEFAULT_IDLE_TIMEOUT_MS,
    // 0 means unlimited in Envoy's API.
    maxRequestsPerConnection: maxRequests > 0 ? maxRequests : Infinity,
    maxConcurrentStreams: maxStreams > 0 ? maxStreams : Infinity,
    maxConnectionDurationMs: duration?.ok === true ? duration.value : 0,
    keepalive: tcpKeepaliveOf(cluster.config),
  };
}
