import { readFileSync } from 'node:fs';
import { err, ok, parseDuration, type Result } from '../../core/index.ts';
import {
  HTTP_PROTOCOL_OPTIONS_KEY, HTTP_PROTOCOL_OPTIONS_TYPE,
  type Cluster, type DiscoveryType, type DnsLookupFamily, type HttpProtocolOptions,
} from '../../xds/envoy/index.ts';
import { DEFAULT_LIMITS, type CircuitBreakerLimits } from './circuit-breakers.ts';
import type { UpstreamCluster } from './cluster.ts';
import { parseClusterTransport } from './cluster-transport.ts';
import { parseLoadAssignment, type ParsedAssignment } from './load-assignment.ts';
import { DEFAULT_CLEANUP_INTERVAL_MS } from './load-balancers/cluster-provided.ts';
import { DEFAULT_MAGLEV_TABLE_SIZE } from './load-balancers/maglev.ts';
import { DEFAULT_HEALTHY_PANIC_THRESHOLD } from './load-balancers/priority-plan.ts';
import { DEFAULT_MAXIMUM_RING_SIZE, DEFAULT_MINIMUM_RING_SIZE } from './load-balancers/ring-hash.ts';
import { parseOutlierDetection, type OutlierDetectionSettings } from './outlier-detector.ts';
import type { ReadFile } from '../security/tls-context.ts';

/** How a cluster balances, with the settings of its policy. */
export type BalancingPolicy =
  | { readonly kind: 'ROUND_ROBIN' }
  | { readonly kind: 'LEAST_REQUEST'; readonly choiceCount: number }
  | { readonly kind: 'RANDOM' }
  | { readonly kind: 'RING_HASH'; readonly minimumRingSize: number; readonly maximumRingSize: number }
  | { readonly kind: 'MAGLEV'; readonly tableSize: number }
  | { readonly kind: 'CLUSTER_PROVIDED' };

/** A Cluster checked and turned into what the proxy runs, defaults applied. */
export interface ClusterSettings {
  readonly name: string;
  /** `altStatName`, else the name: the `cluster.<statName>.` stats scope. */
  readonly statName: string;
  readonly type: DiscoveryType;
  /** The ClusterLoadAssignment name an EDS cluster takes its endpoints from. */
  readonly edsServiceName: string | undefined;
  readonly balancing: BalancingPolicy;
  readonly healthyPanicThreshold: number;
  readonly localityWeighted: boolean;
  readonly connectTimeoutMs: number;
  readonly limits: CircuitBreakerLimits;
  readonly upstreamProtocol: UpstreamCluster['upstreamProtocol'];
  /** The endpoints of a STATIC or DNS cluster (names, for DNS clusters). */
  readonly loadAssignment: ParsedAssignment | undefined;
  readonly dnsRefreshMs: number;
  readonly dnsLookupFamily: DnsLookupFamily;
  readonly cleanupIntervalMs: number;
  /** Consecutive-error ejection, when the cluster sets `outlierDetection`. */
  readonly outlierDetection: OutlierDetectionSettings | undefined;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_DNS_REFRESH_MS = 5000;
const MAX_RING_SIZE = 8_388_608;
const MAX_MAGLEV_TABLE_SIZE = 5_000_011;
const MAX_UINT32 = 4_294_967_295;
const DISCOVERY_TYPES: readonly DiscoveryType[] = ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS', 'ORIGINAL_DST'];
const LB_POLICIES = ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'RING_HASH', 'MAGLEV', 'CLUSTER_PROVIDED'] as const;
const DNS_FAMILIES: readonly DnsLookupFamily[] = ['AUTO', 'V4_ONLY', 'V6_ONLY', 'V4_PREFERRED', 'ALL'];
/** `loadBalancingPolicy` extensions the proxy runs, by the type of their typed config. */
const POLICY_EXTENSIONS: Readonly<Record<string, (typeof LB_POLICIES)[number]>> = {
  'type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin': 'ROUND_ROBIN',
  'type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest': 'LEAST_REQUEST',
  'type.googleapis.com/envoy.extensions.load_balancing_policies.random.v3.Random': 'RANDOM',
  'type.googleapis.com/envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash': 'RING_HASH',
  'type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev': 'MAGLEV',
  'type.googleapis.com/envoy.extensions.load_balancing_policies.cluster_provided.v3.ClusterProvided': 'CLUSTER_PROVIDED',
};

export interface ParseClusterOptions {
  /** Reads the certificate files a TLS transport socket names; node's readFileSync by default. */
  readonly readFile?: ReadFile;
}

/**
 * Checks a Cluster from CDS; every problem is reported with its field path. The transport sockets
 * are checked whole (their certificate files read and parsed), so that a cluster whose TLS cannot
 * work is refused with the update rather than failing its connections later.
 */
export function parseCluster(cluster: Cluster, options: ParseClusterOptions = {}): Result<ClusterSettings, string[]> {
  const problems: string[] = [];
  const problem = (field: string, message: string): void => {
    problems.push(`${field}: ${message}`);
  };

  if (typeof cluster.name !== 'string' || cluster.name === '') problem('name', 'must not be empty');
  const type = cluster.type ?? 'STATIC';
  if (!DISCOVERY_TYPES.includes(type)) problem('type', `must be one of ${DISCOVERY_TYPES.join(', ')} (got ${String(type)})`);

  const balancing = balancingPolicy(cluster, problem);
  if (balancing !== undefined) {
    if (type === 'ORIGINAL_DST' && balancing.kind !== 'CLUSTER_PROVIDED') problem('lbPolicy', `must be CLUSTER_PROVIDED for an ORIGINAL_DST cluster (got ${balancing.kind})`);
    if (type !== 'ORIGINAL_DST' && balancing.kind === 'CLUSTER_PROVIDED') problem('lbPolicy', `CLUSTER_PROVIDED is only for ORIGINAL_DST clusters (this one is ${type})`);
  }

  const connectTimeoutMs = positiveDuration(cluster.connectTimeout, DEFAULT_CONNECT_TIMEOUT_MS, 'connectTimeout', problem);
  const dnsRefreshMs = positiveDuration(cluster.dnsRefreshRate, DEFAULT_DNS_REFRESH_MS, 'dnsRefreshRate', problem);
  const cleanupIntervalMs = positiveDuration(cluster.cleanupInterval, DEFAULT_CLEANUP_INTERVAL_MS, 'cleanupInterval', problem);
  const dnsLookupFamily = cluster.dnsLookupFamily ?? 'AUTO';
  if (!DNS_FAMILIES.includes(dnsLookupFamily)) problem('dnsLookupFamily', `must be one of ${DNS_FAMILIES.join(', ')} (got ${String(dnsLookupFamily)})`);

  let edsServiceName: string | undefined;
  if (type === 'EDS') {
    if (cluster.edsClusterConfig === undefined) problem('edsClusterConfig', 'an EDS cluster needs edsClusterConfig (where its endpoints come from)');
    edsServiceName = cluster.edsClusterConfig?.serviceName !== undefined && cluster.edsClusterConfig.serviceName !== '' ? cluster.edsClusterConfig.serviceName : cluster.name;
  }

  let loadAssignment: ParsedAssignment | undefined;
  if (cluster.loadAssignment !== undefined && (type === 'STATIC' || type === 'STRICT_DNS' || type === 'LOGICAL_DNS')) {
    const parsed = parseLoadAssignment(cluster.loadAssignment, type === 'STATIC' ? 'ip' : 'name');
    if (parsed.ok) loadAssignment = parsed.value;
    else for (const p of parsed.error) problems.push(`loadAssignment.${p}`);
    const groups = cluster.loadAssignment.endpoints ?? [];
    if (type === 'LOGICAL_DNS' && (groups.length !== 1 || groups[0]!.lbEndpoints.length !== 1)) {
      problem('loadAssignment', 'a LOGICAL_DNS cluster must have exactly one locality with exactly one endpoint');
    }
  }
  if (type === 'ORIGINAL_DST' && (cluster.loadAssignment?.endpoints ?? []).length > 0) {
    problem('loadAssignment', 'an ORIGINAL_DST cluster takes its hosts from the connections and must have no endpoints');
  }

  const healthyPanicThreshold = panicThreshold(cluster, problem);
  const limits = circuitBreakerLimits(cluster, problem);
  const upstreamProtocol = protocol(cluster, problem);
  const outlierDetection = cluster.outlierDetection === undefined ? undefined : parseOutlierDetection(cluster.outlierDetection, problem);
  parseClusterTransport(cluster, options.readFile ?? readFileSync, problem);

  if (problems.length > 0 || balancing === undefined) return err(problems);
  return ok({
    name: cluster.name,
    statName: cluster.altStatName !== undefined && cluster.altStatName !== '' ? cluster.altStatName : cluster.name,
    type,
    edsServiceName,
    balancing,
    healthyPanicThreshold,
    localityWeighted: cluster.commonLbConfig?.localityWeightedLbConfig !== undefined,
    connectTimeoutMs,
    limits,
    upstreamProtocol,
    loadAssignment,
    dnsRefreshMs,
    dnsLookupFamily,
    cleanupIntervalMs,
    outlierDetection,
  });
}

type Problem = (field: string, message: string) => void;

function positiveDuration(text: string | undefined, fallback: number, field: string, problem: Problem): number {
  if (text === undefined) return fallback;
  const parsed = parseDuration(text);
  if (!parsed.ok) {
    problem(field, parsed.error);
    return fallback;
  }
  if (parsed.value <= 0) problem(field, `must be longer than 0 (got "${text}")`);
  return parsed.value;
}

/**
 * The balancing policy: the first `loadBalancingPolicy` extension the proxy runs when that list is
 * given (as Envoy prefers it over lbPolicy), else lbPolicy with its *LbConfig.
 */
function balancingPolicy(cluster: Cluster, problem: Problem): BalancingPolicy | undefined {
  let kind: string = cluster.lbPolicy ?? 'ROUND_ROBIN';
  let extension: Record<string, unknown> | undefined;
  const policies = cluster.loadBalancingPolicy?.policies;
  if (policies !== undefined && policies.length > 0) {
    const known = policies.find((p) => POLICY_EXTENSIONS[p.typedExtensionConfig.typedConfig['@type']] !== undefined);
    if (known === undefined) {
      problem('loadBalancingPolicy.policies', `none is supported (supported: ${Object.keys(POLICY_EXTENSIONS).map((t) => t.slice(t.lastIndexOf('.') + 1)).join(', ')})`);
      return undefined;
    }
    kind = POLICY_EXTENSIONS[known.typedExtensionConfig.typedConfig['@type']]!;
    extension = known.typedExtensionConfig.typedConfig as Record<string, unknown>;
  } else if (kind === 'LOAD_BALANCING_POLICY_CONFIG') {
    problem('loadBalancingPolicy', 'lbPolicy LOAD_BALANCING_POLICY_CONFIG needs a loadBalancingPolicy with at least one policy');
    return undefined;
  }
  const number = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
  switch (kind) {
    case 'ROUND_ROBIN':
    case 'RANDOM':
    case 'CLUSTER_PROVIDED':
      return { kind };
    case 'LEAST_REQUEST': {
      const choiceCount = number(extension?.['choiceCount']) ?? cluster.leastRequestLbConfig?.choiceCount ?? 2;
      if (!Number.isInteger(choiceCount) || choiceCount < 2) problem('leastRequestLbConfig.choiceCount', `must be a whole number of at least 2 (got ${choiceCount})`);
      return { kind, choiceCount };
    }
    case 'RING_HASH': {
      const config = cluster.ringHashLbConfig;
      const minimumRingSize = number(extension?.['minimumRingSize']) ?? config?.minimumRingSize ?? DEFAULT_MINIMUM_RING_SIZE;
      const maximumRingSize = number(extension?.['maximumRingSize']) ?? config?.maximumRingSize ?? DEFAULT_MAXIMUM_RING_SIZE;
      const hashFunction = extension?.['hashFunction'] ?? config?.hashFunction ?? 'XX_HASH';
      if (!Number.isInteger(minimumRingSize) || minimumRingSize < 1 || minimumRingSize > MAX_RING_SIZE) {
        problem('ringHashLbConfig.minimumRingSize', `must be a whole number from 1 to ${MAX_RING_SIZE} (got ${minimumRingSize})`);
      }
      if (!Number.isInteger(maximumRingSize) || maximumRingSize < 1 || maximumRingSize > MAX_RING_SIZE) {
        problem('ringHashLbConfig.maximumRingSize', `must be a whole number from 1 to ${MAX_RING_SIZE} (got ${maximumRingSize})`);
      } else if (minimumRingSize > maximumRingSize) {
        problem('ringHashLbConfig.minimumRingSize', `must not exceed maximumRingSize (${minimumRingSize} > ${maximumRingSize})`);
      }
      if (hashFunction !== 'XX_HASH' && hashFunction !== 'DEFAULT_HASH') problem('ringHashLbConfig.hashFunction', `only XX_HASH is supported (got ${String(hashFunction)})`);
      return { kind, minimumRingSize, maximumRingSize };
    }
    case 'MAGLEV': {
      const tableSize = number(extension?.['tableSize']) ?? cluster.maglevLbConfig?.tableSize ?? DEFAULT_MAGLEV_TABLE_SIZE;
      if (!Number.isInteger(tableSize) || tableSize > MAX_MAGLEV_TABLE_SIZE || !isPrime(tableSize)) {
        problem('maglevLbConfig.tableSize', `must be a prime number of at most ${MAX_MAGLEV_TABLE_SIZE} (got ${tableSize})`);
      }
      return { kind, tableSize };
    }
    default:
      problem('lbPolicy', `must be one of ${LB_POLICIES.join(', ')} (got ${kind})`);
      return undefined;
  }
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

function panicThreshold(cluster: Cluster, problem: Problem): number {
  const value = cluster.commonLbConfig?.healthyPanicThreshold?.value;
  if (value === undefined) return DEFAULT_HEALTHY_PANIC_THRESHOLD;
  if (!(value >= 0 && value <= 100)) problem('commonLbConfig.healthyPanicThreshold.value', `must be a percentage from 0 to 100 (got ${value})`);
  // Envoy rounds the percentage to a whole number.
  return Math.round(value);
}

/** The DEFAULT priority's thresholds (HIGH-priority routes are not distinguished), Envoy's defaults for the rest. */
function circuitBreakerLimits(cluster: Cluster, problem: Problem): CircuitBreakerLimits {
  const thresholds = cluster.circuitBreakers?.thresholds ?? [];
  const seen = new Set<string>();
  let limits: CircuitBreakerLimits = DEFAULT_LIMITS;
  thresholds.forEach((t, i) => {
    const at = `circuitBreakers.thresholds[${i}]`;
    const priority = t.priority ?? 'DEFAULT';
    if (seen.has(priority)) problem(`${at}.priority`, `${priority} already has thresholds (give each priority at most one)`);
    seen.add(priority);
    const limit = (field: 'maxConnections' | 'maxPendingRequests' | 'maxRequests' | 'maxRetries', fallback: number): number => {
      const value = t[field];
      if (value === undefined) return fallback;
      if (!Number.isInteger(value) || value < 0 || value > MAX_UINT32) problem(`${at}.${field}`, `must be a whole number from 0 to ${MAX_UINT32} (got ${value})`);
      return value;
    };
    const entry: CircuitBreakerLimits = {
      connections: limit('maxConnections', DEFAULT_LIMITS.connections),
      pendingRequests: limit('maxPendingRequests', DEFAULT_LIMITS.pendingRequests),
      requests: limit('maxRequests', DEFAULT_LIMITS.requests),
      retries: limit('maxRetries', DEFAULT_LIMITS.retries),
      ...(t.retryBudget !== undefined && { retryBudget: retryBudget(t.retryBudget, `${at}.retryBudget`, problem) }),
      ...(t.trackRemaining === true && { trackRemaining: true }),
    };
    if (priority === 'DEFAULT') limits = entry;
  });
  return limits;
}

function retryBudget(budget: NonNullable<NonNullable<Cluster['circuitBreakers']>['thresholds'][number]['retryBudget']>, at: string, problem: Problem): NonNullable<CircuitBreakerLimits['retryBudget']> {
  // Envoy's defaults: 20% of active requests, at least 3 retries.
  const budgetPercent = budget.budgetPercent?.value ?? 20;
  const minRetryConcurrency = budget.minRetryConcurrency ?? 3;
  if (!(budgetPercent >= 0 && budgetPercent <= 100)) problem(`${at}.budgetPercent.value`, `must be a percentage from 0 to 100 (got ${budgetPercent})`);
  if (!Number.isInteger(minRetryConcurrency) || minRetryConcurrency < 0) problem(`${at}.minRetryConcurrency`, `must be a whole number of at least 0 (got ${minRetryConcurrency})`);
  return { budgetPercent, minRetryConcurrency };
}

/**
 * The upstream HTTP protocol from the HttpProtocolOptions extension: explicit HTTP/1.1 or HTTP/2,
 * or whatever the downstream spoke. Without options, HTTP/1.1, as in Envoy.
 */
function protocol(cluster: Cluster, problem: Problem): UpstreamCluster['upstreamProtocol'] {
  const all = (cluster.typedExtensionProtocolOptions ?? {}) as Readonly<Record<string, HttpProtocolOptions | undefined>>;
  for (const key of Object.keys(all)) {
    if (key !== HTTP_PROTOCOL_OPTIONS_KEY) problem(`typedExtensionProtocolOptions["${key}"]`, `unknown protocol options (supported: ${HTTP_PROTOCOL_OPTIONS_KEY})`);
  }
  const options = all[HTTP_PROTOCOL_OPTIONS_KEY];
  if (options === undefined) return 'http1';
  const at = `typedExtensionProtocolOptions["${HTTP_PROTOCOL_OPTIONS_KEY}"]`;
  if (options['@type'] !== HTTP_PROTOCOL_OPTIONS_TYPE) problem(`${at}["@type"]`, `must be ${HTTP_PROTOCOL_OPTIONS_TYPE} (got ${String(options['@type'])})`);
  const raw: Readonly<Record<string, unknown>> = { ...options };
  const set = ['explicitHttpConfig', 'useDownstreamProtocolConfig', 'autoConfig'].filter((f) => raw[f] !== undefined);
  if (set.length !== 1) {
    problem(at, set.length === 0 ? 'must set explicitHttpConfig or useDownstreamProtocolConfig' : `must set only one of ${set.join(', ')}`);
    return 'http1';
  }
  if (raw['autoConfig'] !== undefined) {
    problem(`${at}.autoConfig`, 'is not supported: choose explicitHttpConfig or useDownstreamProtocolConfig');
    return 'http1';
  }
  if (options.useDownstreamProtocolConfig !== undefined) return 'downstream';
  const explicit = (options.explicitHttpConfig ?? {}) as Readonly<Record<string, unknown>>;
  if (explicit['http2ProtocolOptions'] !== undefined) return 'http2';
  if (explicit['httpProtocolOptions'] !== undefined) return 'http1';
  problem(`${at}.explicitHttpConfig`, 'must set httpProtocolOptions (HTTP/1.1) or http2ProtocolOptions (HTTP/3 is not supported)');
  return 'http1';
}
