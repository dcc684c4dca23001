import { err, ok, parseDuration, type Result } from '../../../core/index.ts';

/** Where connections go: one cluster, or clusters by relative weight (chosen per connection). */
export type TcpProxyTarget =
  | { readonly kind: 'cluster'; readonly cluster: string }
  | { readonly kind: 'weighted'; readonly clusters: readonly { readonly name: string; readonly weight: number }[]; readonly totalWeight: number };

/** A tcp_proxy filter's config, checked. */
export interface TcpProxyConfig {
  readonly statPrefix: string;
  readonly target: TcpProxyTarget;
  /** Closes a connection with no bytes either way for this long; 0: never. */
  readonly idleTimeoutMs: number;
  /** Upstream connect attempts per downstream connection, each to a host not tried yet. */
  readonly maxConnectAttempts: number;
  /** Closes a connection this long after it was accepted; 0: never. */
  readonly maxDownstreamConnectionDurationMs: number;
}

/** Envoy's default idle timeout for tcp_proxy. */
export const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;

const HANDLED = new Set(['@type', 'statPrefix', 'cluster', 'weightedClusters', 'idleTimeout', 'maxConnectAttempts', 'maxDownstreamConnectionDuration']);
/** Fields that only tune what Weft does its own way: access logs go to the proxy's sink, connect attempts follow each other at once. */
const IGNORED = new Set(['accessLog', 'accessLogFlushInterval', 'flushAccessLogOnConnected', 'accessLogOptions', 'backoffOptions']);

/**
 * Parses `envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`. Fields that would change
 * where or how bytes go and that Weft does not implement (tunnelingConfig, metadataMatch,
 * hashPolicy, onDemand, ...) are refused rather than ignored.
 */
export function parseTcpProxy(config: Readonly<Record<string, unknown>>): Result<TcpProxyConfig, string> {
  const problems: string[] = [];
  for (const field of Object.keys(config)) {
    if (!HANDLED.has(field) && !IGNORED.has(field)) problems.push(`${field}: not supported by Weft's tcp_proxy`);
  }
  const statPrefix = config['statPrefix'];
  if (typeof statPrefix !== 'string' || statPrefix === '') problems.push('statPrefix: required (a non-empty string)');

  const target = parseTarget(config, problems);
  const idleTimeoutMs = durationField(config, 'idleTimeout', DEFAULT_IDLE_TIMEOUT_MS, problems);
  const maxDownstreamConnectionDurationMs = durationField(config, 'maxDownstreamConnectionDuration', 0, problems);
  const attempts = config['maxConnectAttempts'] ?? 1;
  if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts < 1) problems.push(`maxConnectAttempts: ${String(attempts)} is not a whole number of at least 1`);

  if (problems.length > 0 || target === undefined) return err(problems.join('; '));
  return ok({
    statPrefix: statPrefix as string,
    target,
    idleTimeoutMs,
    maxConnectAttempts: attempts as number,
    maxDownstreamConnectionDurationMs,
  });
}

function parseTarget(config: Readonly<Record<string, unknown>>, problems: string[]): TcpProxyTarget | undefined {
  const cluster = config['cluster'];
  const weighted = config['weightedClusters'];
  if (cluster !== undefined && weighted !== undefined) {
    problems.push('cluster, weightedClusters: give one of them, not both');
    return undefined;
  }
  if (cluster !== undefined) {
    if (typeof cluster === 'string' && cluster !== '') return { kind: 'cluster', cluster };
    problems.push('cluster: expected a cluster name');
    return undefined;
  }
  if (weighted === undefined) {
    problems.push('cluster: required (or weightedClusters)');
    return undefined;
  }
  const list = (weighted as { readonly clusters?: unknown }).clusters;
  if (!Array.isArray(list) || list.length === 0) {
    problems.push('weightedClusters.clusters: expected at least one cluster');
    return undefined;
  }
  const before = problems.length;
  const clusters: { name: string; weight: number }[] = [];
  list.forEach((entry: Readonly<Record<string, unknown>>, i) => {
    const name = entry['name'];
    const weight = entry['weight'];
    if (typeof name !== 'string' || name === '') problems.push(`weightedClusters.clusters[${i}].name: expected a cluster name`);
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1) problems.push(`weightedClusters.clusters[${i}].weight: ${String(weight)} is not a whole number of at least 1`);
    if (entry['metadataMatch'] !== undefined) problems.push(`weightedClusters.clusters[${i}].metadataMatch: not supported by Weft's tcp_proxy`);
    clusters.push({ name: name as string, weight: weight as number });
  });
  if (problems.length > before) return undefined;
  return { kind: 'weighted', clusters, totalWeight: clusters.reduce((sum, c) => sum + c.weight, 0) };
}

function durationField(config: Readonly<Record<string, unknown>>, field: string, fallback: number, problems: string[]): number {
  const value = config[field];
  if (value === undefined) return fallback;
  const parsed = typeof value === 'string' ? parseDuration(value) : err(`expected a duration such as "10s", not ${JSON.stringify(value)}`);
  if (!parsed.ok) {
    problems.push(`${field}: ${parsed.error}`);
    return fallback;
  }
  return parsed.value;
}
