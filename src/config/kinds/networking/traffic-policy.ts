import * as z from 'zod';
import {
  addIssue, ALWAYS, crossField, duration, int32, isDns1123Label, isIP, labelKeyProblem, labelValueProblem, PortSelector, portNumber, uint32,
} from '../../schema/common.ts';
import { parseDuration } from '../../../core/index.ts';

/**
 * Istio's TrafficPolicy family (destination_rule.proto): what a client proxy does with traffic
 * after routing. Used by DestinationRule at the top level, per subset and per port.
 */

type RefineContext = z.core.$RefinementCtx<unknown>;

const nonNegativeInt32 = int32.min(0);
/** Counts and sizes Istio declares uint64; JavaScript numbers are exact up to 2^53, far beyond any useful value. */
const uint64 = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const HEADER_NAME = /^[-_A-Za-z0-9]+$/;

const headerName = z.string().check((ctx) => {
  if (ctx.value === '') ctx.issues.push({ code: 'custom', message: 'header name must not be empty', input: ctx.value });
  else if (!HEADER_NAME.test(ctx.value)) ctx.issues.push({ code: 'custom', message: `"${ctx.value}" is not a valid header name (letters, digits, '-' and '_')`, input: ctx.value });
});

/** Names the fields of `value` among `fields` that are set; an empty list counts as unset, as in protobuf. */
function setFields<T extends object>(value: T, fields: readonly (keyof T & string)[]): string[] {
  return fields.filter((f) => value[f] !== undefined && !(Array.isArray(value[f]) && value[f].length === 0));
}

/**
 * "Set at least one field" would only repeat a finding already made inside the object, such as a
 * misspelt field that zod left out of the value.
 */
function requireAny<T extends object>(value: T, fields: readonly (keyof T & string)[], ctx: RefineContext, message: string): void {
  if (ctx.issues.length === 0 && setFields(value, fields).length === 0) addIssue(ctx, [], message);
}

function onlyOne<T extends object>(value: T, fields: readonly (keyof T & string)[], ctx: RefineContext, label = fields.join(', ')): void {
  const set = setFields(value, fields);
  if (set.length > 1) addIssue(ctx, [set[1]!], `only one of ${label} may be set, got ${set.join(' and ')}`);
}

// ---------------------------------------------------------------------------------------------
// Load balancing

export const HTTPCookieAttribute = z.strictObject({
  name: z.string().min(1),
  value: z.string().optional(),
});
export type HTTPCookieAttribute = z.infer<typeof HTTPCookieAttribute>;

export const HTTPCookie = z
  .strictObject({
    name: z.string().min(1),
    path: z.string().optional(),
    // A TTL of 0s is meaningful: the generated cookie is a session cookie.
    ttl: duration({ min: 0 }).optional(),
    attributes: z.array(HTTPCookieAttribute).optional(),
  })
  .superRefine(crossField((cookie, ctx) => {
    const seen = new Set<string>();
    cookie.attributes?.forEach((attribute, i) => {
      if (seen.has(attribute.name)) addIssue(ctx, ['attributes', i, 'name'], `cookie attribute "${attribute.name}" is given twice`);
      seen.add(attribute.name);
    });
  }), ALWAYS);
export type HTTPCookie = z.infer<typeof HTTPCookie>;

/** Envoy's bound on the ring hash size; a larger ring is refused when the cluster arrives. */
const MAX_RING_SIZE = 8_388_608;
const MAGLEV_TABLE_LIMIT = 5_000_011;

export const RingHash = z.strictObject({ minimumRingSize: uint64.max(MAX_RING_SIZE).optional() });
export type RingHash = z.infer<typeof RingHash>;

/** Envoy's primality test, so that what passes here is what Envoy accepts. */
function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  const limit = Math.floor(Math.sqrt(x));
  for (let factor = 3; factor <= limit; factor += 2) if (x % factor === 0) return false;
  return true;
}

export const MagLev = z
  .strictObject({ tableSize: uint64.optional() })
  .superRefine(crossField((maglev, ctx) => {
    const size = maglev.tableSize;
    if (size === undefined || size === 0) addIssue(ctx, ['tableSize'], 'maglev needs tableSize: a prime number below 5000011 (Envoy\'s default is 65537)');
    else if (size >= MAGLEV_TABLE_LIMIT) addIssue(ctx, ['tableSize'], `tableSize must be below 5000011, got ${size}`);
    else if (!isPrime(size)) addIssue(ctx, ['tableSize'], `tableSize must be a prime number (such as 65537), got ${size}`);
  }), ALWAYS);
export type MagLev = z.infer<typeof MagLev>;

const HASH_KEYS = ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'] as const;

export const ConsistentHashLB = z
  .strictObject({
    httpHeaderName: headerName.optional(),
    httpCookie: HTTPCookie.optional(),
    useSourceIp: z.boolean().optional(),
    httpQueryParameterName: z.string().min(1).optional(),
    ringHash: RingHash.optional(),
    maglev: MagLev.optional(),
    /** Deprecated spelling of ringHash.minimumRingSize. */
    minimumRingSize: uint64.max(MAX_RING_SIZE).optional(),
  })
  .superRefine(crossField((hash, ctx) => {
    onlyOne(hash, HASH_KEYS, ctx, 'httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName');
    onlyOne(hash, ['ringHash', 'maglev'], ctx, 'ringHash or maglev');
    if (hash.minimumRingSize !== undefined && (hash.ringHash !== undefined || hash.maglev !== undefined)) {
      addIssue(ctx, ['minimumRingSize'], `the deprecated minimumRingSize cannot be combined with ${hash.ringHash !== undefined ? 'ringHash' : 'maglev'}; use ringHash.minimumRingSize`);
    }
  }), ALWAYS);
export type ConsistentHashLB = z.infer<typeof ConsistentHashLB>;

/**
 * Why a list of localities (`region/zone/sub-zone`, a `*` allowed only as the last character) is
 * not valid, or undefined. Localities must not overlap: `us-west/*` already covers `us-west/zone1`.
 */
function localitiesProblem(localities: readonly string[]): string | undefined {
  const regions = new Map<string, Map<string, Set<string>>>();
  const overlap = (locality: string): string => `locality "${locality}" overlaps a locality given before it`;
  for (const locality of localities) {
    if (locality === '') return 'a locality must not be empty (expected region, region/zone or region/zone/sub-zone)';
    const stars = locality.split('*').length - 1;
    if (stars > 1 || (stars === 1 && !locality.endsWith('*'))) return `locality "${locality}": a wildcard '*' may appear only once, at the end`;
    if (regions.has('*')) return overlap(locality);
    const slash1 = locality.indexOf('/');
    const slash2 = slash1 < 0 ? -1 : locality.indexOf('/', slash1 + 1);
    const parts = slash1 < 0 ? [locality] : slash2 < 0 ? [locality.slice(0, slash1), locality.slice(slash1 + 1)] : [locality.slice(0, slash1), locality.slice(slash1 + 1, slash2), locality.slice(slash2 + 1)];
    if (parts.some((p) => p === '')) return `locality "${locality}" has an empty part (expected region, region/zone or region/zone/sub-zone)`;
    const [region = '', zone = '', subZone = ''] = parts;
    const zones = regions.get(region);
    if (parts.length === 1) {
      if (zones !== undefined) return overlap(locality);
      regions.set(region, new Map([['*', new Set(['*'])]]));
    } else if (zones === undefined) {
      regions.set(region, new Map([[zone, new Set([parts.length === 2 ? '*' : subZone])]]));
    } else {
      if (zones.has('*')) return overlap(locality);
      const subZones = zones.get(zone);
      if (parts.length === 2) {
        if (subZones !== undefined) return overlap(locality);
        zones.set(zone, new Set(['*']));
      } else if (subZones === undefined) {
        zones.set(zone, new Set([subZone]));
      } else {
        if (subZones.has('*') || subZones.has(subZone)) return overlap(locality);
        subZones.add(subZone);
      }
    }
  }
  return undefined;
}

export const LocalityDistribute = z
  .strictObject({
    from: z.string().optional(),
    to: z.record(z.string(), uint32).optional(),
  })
  .superRefine(crossField((d, ctx) => {
    const to = d.to ?? {};
    // A weight that is not a number has its own finding; a sum over it would mislead.
    if (Object.values(to).some((w) => typeof w !== 'number')) return;
    let total = 0;
    for (const [locality, weight] of Object.entries(to)) {
      if (weight < 1 || weight > 100) addIssue(ctx, ['to', locality], `a locality weight must be 1..100, got ${weight}`);
      total += weight;
    }
    if (total !== 100) addIssue(ctx, ['to'], `the weights add up to ${total}; they must add up to 100`);
    const problem = localitiesProblem(Object.keys(to));
    if (problem !== undefined) addIssue(ctx, ['to'], problem);
  }), ALWAYS);
export type LocalityDistribute = z.infer<typeof LocalityDistribute>;

/** Failover names regions only: zones and sub-zones fail over on their own. */
function regionFailover(what: string) {
  return z
    .strictObject({ from: z.string().optional(), to: z.string().optional() })
    .superRefine(crossField((f, ctx) => {
      const from = f.from ?? '';
      const to = f.to ?? '';
      if (from === '' || to === '') {
        addIssue(ctx, [from === '' ? 'from' : 'to'], `${what} needs both a "from" and a "to" region`);
        return;
      }
      if (from === to) addIssue(ctx, ['to'], `${what} must fail over to a different region than "${from}"`);
      for (const [field, value] of [['from', from], ['to', to]] as const) {
        if (value.includes('/')) addIssue(ctx, [field], `${what} names regions only, got "${value}"`);
        else if (value.includes('*')) addIssue(ctx, [field], `${what} region must not contain a wildcard '*', got "${value}"`);
      }
    }), ALWAYS);
}

export const LocalityFailover = regionFailover('locality failover');
export type LocalityFailover = z.infer<typeof LocalityFailover>;

/** `failoverPriority` entries are label keys, or `key=value` pairs. */
const failoverPriority = z.array(z.string()).superRefine(crossField((entries, ctx) => {
  entries.forEach((entry, i) => {
    const eq = entry.indexOf('=');
    const problem = eq < 0 ? labelKeyProblem(entry) : (labelKeyProblem(entry.slice(0, eq)) ?? labelValueProblem(entry.slice(eq + 1)));
    if (problem !== undefined) addIssue(ctx, [i], `${problem} (expected a label key or key=value)`);
  });
}), ALWAYS);

/** The topology labels that locality and zone-aware balancing already order by. */
const TOPOLOGY_LOCALITY_LABELS = ['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone'];

function topologyLabelIssues(entries: readonly string[] | undefined, ctx: RefineContext, message: (label: string) => string): void {
  entries?.forEach((entry, i) => {
    if (TOPOLOGY_LOCALITY_LABELS.includes(entry)) addIssue(ctx, ['failoverPriority', i], message(entry));
  });
}

export const LocalityLoadBalancerSetting = z
  .strictObject({
    distribute: z.array(LocalityDistribute).optional(),
    failover: z.array(LocalityFailover).optional(),
    failoverPriority: failoverPriority.optional(),
    enabled: z.boolean().optional(),
  })
  .superRefine(crossField((lb, ctx) => {
    // Istio refuses distribute with either failover form; failover and failoverPriority work
    // together (Istio's own docs combine them) unless the priorities repeat the region ordering.
    if (setFields(lb, ['distribute']).length > 0) onlyOne(lb, ['distribute', 'failover', 'failoverPriority'], ctx, 'distribute, failover or failoverPriority');
    else if (setFields(lb, ['failover', 'failoverPriority']).length === 2) {
      topologyLabelIssues(lb.failoverPriority, ctx, (label) => `"${label}" cannot be used in failoverPriority together with failover, which already orders regions`);
    }
    const problem = localitiesProblem((lb.distribute ?? []).map((d) => d.from ?? ''));
    if (problem !== undefined) addIssue(ctx, ['distribute'], problem);
  }), ALWAYS);
export type LocalityLoadBalancerSetting = z.infer<typeof LocalityLoadBalancerSetting>;

export const ZoneAwareFailover = regionFailover('zone-aware failover');
export type ZoneAwareFailover = z.infer<typeof ZoneAwareFailover>;

export const ZoneAwareLoadBalancerSetting = z
  .strictObject({
    enabled: z.boolean().optional(),
    failover: z.array(ZoneAwareFailover).optional(),
    failoverPriority: failoverPriority.optional(),
    minClusterSize: uint64.min(1).optional(),
  })
  .superRefine(crossField((lb, ctx) => {
    topologyLabelIssues(lb.failoverPriority, ctx, (label) => `"${label}" cannot be used in failoverPriority for zone-aware balancing, which handles region, zone and sub-zone by itself`);
  }), ALWAYS);
export type ZoneAwareLoadBalancerSetting = z.infer<typeof ZoneAwareLoadBalancerSetting>;

export const WarmupConfiguration = z.strictObject({
  duration: duration(),
  minimumPercent: z.number().min(0).max(100).optional(),
  aggression: z.number().check((ctx) => {
    if (!(ctx.value > 0)) ctx.issues.push({ code: 'custom', message: `aggression must be greater than 0, got ${ctx.value}`, input: ctx.value });
  }).optional(),
});
export type WarmupConfiguration = z.infer<typeof WarmupConfiguration>;

export const SIMPLE_LB = ['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'] as const;

export const LoadBalancerSettings = z
  .strictObject({
    simple: z.enum(SIMPLE_LB).optional(),
    consistentHash: ConsistentHashLB.optional(),
    localityLbSetting: LocalityLoadBalancerSetting.optional(),
    zoneAwareLbSetting: ZoneAwareLoadBalancerSetting.optional(),
    /** Deprecated spelling of warmup.duration. */
    warmupDurationSecs: duration().optional(),
    warmup: WarmupConfiguration.optional(),
  })
  .superRefine(crossField((lb, ctx) => {
    onlyOne(lb, ['simple', 'consistentHash'], ctx, 'simple or consistentHash');
    onlyOne(lb, ['localityLbSetting', 'zoneAwareLbSetting'], ctx, 'localityLbSetting or zoneAwareLbSetting');
    if (lb.warmup !== undefined && lb.warmupDurationSecs !== undefined) addIssue(ctx, ['warmupDurationSecs'], 'only one of warmup or the deprecated warmupDurationSecs may be set');
  }), ALWAYS);
export type LoadBalancerSettings = z.infer<typeof LoadBalancerSettings>;

// ---------------------------------------------------------------------------------------------
// Connection pool

export const TcpKeepalive = z.strictObject({
  probes: uint32.optional(),
  time: duration().optional(),
  interval: duration().optional(),
});
export type TcpKeepalive = z.infer<typeof TcpKeepalive>;

/** A duration of at least 1ms, or 0s to turn the timeout off. */
const durationOrOff = duration({ min: 0 }).check((ctx) => {
  const parsed = typeof ctx.value === 'string' ? parseDuration(ctx.value) : undefined;
  if (parsed?.ok === true && parsed.value > 0 && parsed.value < 1) {
    ctx.issues.push({ code: 'custom', message: `duration must be 0s (off) or at least 1ms, got "${ctx.value}"`, input: ctx.value });
  }
});

export const TCPSettings = z.strictObject({
  maxConnections: nonNegativeInt32.optional(),
  connectTimeout: duration().optional(),
  tcpKeepalive: TcpKeepalive.optional(),
  maxConnectionDuration: duration().optional(),
  idleTimeout: durationOrOff.optional(),
});
export type TCPSettings = z.infer<typeof TCPSettings>;

export const ConnectionKeepalive = z.strictObject({
  interval: duration(),
  timeout: duration(),
});
export type ConnectionKeepalive = z.infer<typeof ConnectionKeepalive>;

export const HTTPSettings = z
  .strictObject({
    http1MaxPendingRequests: nonNegativeInt32.optional(),
    http2MaxRequests: nonNegativeInt32.optional(),
    maxRequestsPerConnection: nonNegativeInt32.optional(),
    maxRetries: nonNegativeInt32.optional(),
    idleTimeout: duration().optional(),
    h2UpgradePolicy: z.enum(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']).optional(),
    useClientProtocol: z.boolean().optional(),
    maxConcurrentStreams: nonNegativeInt32.optional(),
    http2KeepAlive: ConnectionKeepalive.optional(),
  })
  .superRefine(crossField((http, ctx) => {
    if (http.h2UpgradePolicy === 'UPGRADE' && http.useClientProtocol === true) {
      addIssue(ctx, ['useClientProtocol'], 'useClientProtocol cannot be true with h2UpgradePolicy UPGRADE: keeping the client\'s protocol means never upgrading');
    }
  }), ALWAYS);
export type HTTPSettings = z.infer<typeof HTTPSettings>;

export const ConnectionPoolSettings = z
  .strictObject({ tcp: TCPSettings.optional(), http: HTTPSettings.optional() })
  .superRefine(crossField((pool, ctx) => {
    requireAny(pool, ['tcp', 'http'], ctx, 'a connection pool must set tcp or http');
  }), ALWAYS);
export type ConnectionPoolSettings = z.infer<typeof ConnectionPoolSettings>;

// ---------------------------------------------------------------------------------------------
// Outlier detection

const percentInt = z.number().int().min(0).max(100);

export const OutlierDetection = z
  .strictObject({
    /** Deprecated: consecutiveGatewayErrors or consecutive5xxErrors replace it. */
    consecutiveErrors: int32.optional(),
    splitExternalLocalOriginErrors: z.boolean().optional(),
    consecutiveLocalOriginFailures: uint32.optional(),
    consecutiveGatewayErrors: uint32.optional(),
    consecutive5xxErrors: uint32.optional(),
    interval: duration().optional(),
    baseEjectionTime: duration().optional(),
    maxEjectionPercent: percentInt.optional(),
    minHealthPercent: percentInt.optional(),
    outlierDetectionHttpErrorCodes: z.array(z.number().int().min(100).max(599)).optional(),
  })
  .superRefine(crossField((o, ctx) => {
    if ((o.consecutiveLocalOriginFailures ?? 0) > 0 && o.splitExternalLocalOriginErrors !== true) {
      addIssue(ctx, ['consecutiveLocalOriginFailures'], 'consecutiveLocalOriginFailures counts only when splitExternalLocalOriginErrors is true');
    }
  }), ALWAYS);
export type OutlierDetection = z.infer<typeof OutlierDetection>;

// ---------------------------------------------------------------------------------------------
// Client TLS

const CLIENT_CERTIFICATE_FIELDS = ['clientCertificate', 'privateKey', 'caCertificates', 'caCrl'] as const;

export const ClientTLSSettings = z
  .strictObject({
    mode: z.enum(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']).optional(),
    clientCertificate: z.string().optional(),
    privateKey: z.string().optional(),
    caCertificates: z.string().optional(),
    credentialName: z.string().optional(),
    subjectAltNames: z.array(z.string()).optional(),
    sni: z.string().optional(),
    insecureSkipVerify: z.boolean().optional(),
    caCrl: z.string().optional(),
  })
  .superRefine(crossField((tls, ctx) => {
    const has = (field: keyof typeof tls): boolean => tls[field] !== undefined && tls[field] !== '';
    const mode = tls.mode ?? 'DISABLE';
    if (mode === 'ISTIO_MUTUAL') {
      // sni and subjectAltNames stay allowed: Istio applies them, and its egress gateway recipes set sni.
      for (const field of [...CLIENT_CERTIFICATE_FIELDS, 'credentialName'] as const) {
        if (has(field)) addIssue(ctx, [field], `${field} must be empty with mode ISTIO_MUTUAL, which uses the mesh's own certificates`);
      }
      if (tls.insecureSkipVerify === true) addIssue(ctx, ['insecureSkipVerify'], 'insecureSkipVerify cannot be set with mode ISTIO_MUTUAL, which always verifies the mesh identity');
      return;
    }
    if (tls.insecureSkipVerify === true && (mode === 'SIMPLE' || mode === 'MUTUAL')) {
      const verifying = mode === 'SIMPLE' ? (['caCertificates', 'credentialName', 'subjectAltNames'] as const) : (['caCertificates', 'subjectAltNames'] as const);
      for (const field of verifying) {
        if (tls[field] !== undefined) addIssue(ctx, [field], `${field} cannot be set when insecureSkipVerify is true, which turns verification off`);
      }
    }
    if ((mode === 'SIMPLE' || mode === 'MUTUAL') && has('credentialName')) {
      for (const field of CLIENT_CERTIFICATE_FIELDS) {
        if (has(field)) addIssue(ctx, [field], `${field} cannot be combined with credentialName, whose secret holds the certificates`);
      }
      return;
    }
    if (mode === 'MUTUAL') {
      if (!has('clientCertificate')) addIssue(ctx, ['clientCertificate'], 'mode MUTUAL needs clientCertificate and privateKey, or credentialName');
      if (!has('privateKey')) addIssue(ctx, ['privateKey'], 'mode MUTUAL needs clientCertificate and privateKey, or credentialName');
    }
  }), ALWAYS);
export type ClientTLSSettings = z.infer<typeof ClientTLSSettings>;

// ---------------------------------------------------------------------------------------------
// Traffic policy

/** Istio's ValidateFQDN: DNS-1123 labels and a top-level domain that is not all digits. */
function fqdnProblem(host: string): string | undefined {
  if (host === '') return 'must not be empty';
  if (host.length > 255) return `"${host}" is longer than 255 characters`;
  const labels = host.split('.');
  if (labels[labels.length - 1] === '') labels.pop();
  const tld = labels[labels.length - 1] ?? '';
  if (/^\d+$/.test(tld)) return `"${host}": the top-level domain "${tld}" cannot be all digits`;
  const bad = labels.find((label) => !isDns1123Label(label));
  return bad === undefined ? undefined : `"${host}": label "${bad}" is not valid (lower-case letters, digits and '-', starting and ending with a letter or digit)`;
}

export const TunnelSettings = z.strictObject({
  protocol: z.enum(['CONNECT', 'POST']).optional(),
  targetHost: z.string().check((ctx) => {
    if (isIP(ctx.value)) return;
    const problem = fqdnProblem(ctx.value);
    if (problem !== undefined) ctx.issues.push({ code: 'custom', message: `targetHost must be a fully-qualified domain name or an IP address: ${problem}`, input: ctx.value });
  }),
  targetPort: portNumber,
});
export type TunnelSettings = z.infer<typeof TunnelSettings>;

export const ProxyProtocol = z.strictObject({ version: z.enum(['V1', 'V2']).optional() });
export type ProxyProtocol = z.infer<typeof ProxyProtocol>;

export const RetryBudget = z.strictObject({
  percent: z.number().min(0).max(100).optional(),
  minRetryConcurrency: uint32.optional(),
  // 0ms is the default: only requests active now count.
  budgetInterval: duration({ min: 0 }).optional(),
});
export type RetryBudget = z.infer<typeof RetryBudget>;

const PORT_POLICY_FIELDS = ['loadBalancer', 'connectionPool', 'outlierDetection', 'tls'] as const;

export const PortTrafficPolicy = z
  .strictObject({
    port: PortSelector,
    loadBalancer: LoadBalancerSettings.optional(),
    connectionPool: ConnectionPoolSettings.optional(),
    outlierDetection: OutlierDetection.optional(),
    tls: ClientTLSSettings.optional(),
  })
  .superRefine(crossField((p, ctx) => {
    requireAny(p, PORT_POLICY_FIELDS, ctx, `a port-level policy must set at least one of ${PORT_POLICY_FIELDS.join(', ')}`);
  }), ALWAYS);
export type PortTrafficPolicy = z.infer<typeof PortTrafficPolicy>;

const TRAFFIC_POLICY_FIELDS = ['loadBalancer', 'connectionPool', 'outlierDetection', 'tls', 'portLevelSettings', 'tunnel', 'proxyProtocol', 'retryBudget'] as const;

export const TrafficPolicy = z
  .strictObject({
    loadBalancer: LoadBalancerSettings.optional(),
    connectionPool: ConnectionPoolSettings.optional(),
    outlierDetection: OutlierDetection.optional(),
    tls: ClientTLSSettings.optional(),
    portLevelSettings: z.array(PortTrafficPolicy).max(4096).optional(),
    tunnel: TunnelSettings.optional(),
    proxyProtocol: ProxyProtocol.optional(),
    retryBudget: RetryBudget.optional(),
  })
  .superRefine(crossField((policy, ctx) => {
    requireAny(policy, TRAFFIC_POLICY_FIELDS, ctx, `a traffic policy must set at least one of ${TRAFFIC_POLICY_FIELDS.join(', ')}`);
    if (policy.tunnel !== undefined && policy.proxyProtocol !== undefined) addIssue(ctx, ['proxyProtocol'], 'only one of tunnel or proxyProtocol may be set');
    const ports = new Map<number, number>();
    policy.portLevelSettings?.forEach((setting, i) => {
      const number = setting.port?.number;
      if (number === undefined) return;
      const first = ports.get(number);
      if (first !== undefined) addIssue(ctx, ['portLevelSettings', i, 'port', 'number'], `port ${number} already has settings at portLevelSettings[${first}]; merge them into one entry`);
      else ports.set(number, i);
    });
  }), ALWAYS);
export type TrafficPolicy = z.infer<typeof TrafficPolicy>;
