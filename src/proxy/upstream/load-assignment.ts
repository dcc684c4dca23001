import { isIP } from 'node:net';
import { err, ok, type Result } from '../../core/index.ts';
import type { ClusterLoadAssignment, EnvoyInternalAddress, HealthStatus, Locality } from '../../xds/envoy/index.ts';
import { localityKey } from './load-balancers/load-balancer.ts';

/** An endpoint of a load assignment, before it becomes a host (and, for DNS clusters, before its name is resolved). */
export interface EndpointSpec {
  /** An IP address, a pipe's path, an internal listener's `envoy://name/id`, or (DNS clusters) a name to resolve. */
  readonly address: string;
  /** 0 for a pipe and an internal listener. */
  readonly port: number;
  /** The internal listener the endpoint is (`envoyInternalAddress.serverListenerName`). */
  readonly internalListener?: string;
  readonly hostname?: string;
  readonly weight: number;
  readonly healthStatus: HealthStatus;
  /** `region/zone/subzone`, '' when unknown. */
  readonly locality: string;
  readonly priority: number;
  readonly metadata: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export interface ParsedAssignment {
  readonly endpoints: readonly EndpointSpec[];
  /** By `localityKey(priority, locality)`; a locality without a weight is absent. */
  readonly localityWeights: ReadonlyMap<string, number>;
}

export const EMPTY_ASSIGNMENT: ParsedAssignment = { endpoints: [], localityWeights: new Map() };

/** Envoy's limit on priorities. */
const MAX_PRIORITY = 128;
const MAX_UINT32 = 4_294_967_295;
const HEALTH_STATUSES: ReadonlySet<string> = new Set<HealthStatus>(['UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED']);

/**
 * Checks a ClusterLoadAssignment and flattens it into endpoints. `addresses` says what an endpoint's
 * socket address may be: `ip` for EDS and STATIC clusters (Envoy wants resolved addresses there),
 * `name` for DNS clusters, whose names are resolved later (pipes and internal listeners are refused
 * there). Every problem is reported with its field path.
 */
export function parseLoadAssignment(assignment: ClusterLoadAssignment, addresses: 'ip' | 'name'): Result<ParsedAssignment, string[]> {
  const problems: string[] = [];
  const endpoints: EndpointSpec[] = [];
  const localityWeights = new Map<string, number>();
  (assignment.endpoints ?? []).forEach((group, g) => {
    const at = `endpoints[${g}]`;
    const priority = group.priority ?? 0;
    if (!Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY) problems.push(`${at}.priority: must be a whole number from 0 to ${MAX_PRIORITY} (got ${priority})`);
    const locality = localityName(group.locality);
    if (group.loadBalancingWeight !== undefined) {
      if (!isWeight(group.loadBalancingWeight)) problems.push(`${at}.loadBalancingWeight: must be a whole number of at least 1 (got ${group.loadBalancingWeight})`);
      else localityWeights.set(localityKey(priority, locality), group.loadBalancingWeight);
    }
    let total = 0;
    (group.lbEndpoints ?? []).forEach((lb, e) => {
      const here = `${at}.lbEndpoints[${e}]`;
      const weight = lb.loadBalancingWeight ?? 1;
      if (!isWeight(weight)) problems.push(`${here}.loadBalancingWeight: must be a whole number of at least 1 (got ${weight})`);
      total += weight;
      const healthStatus = lb.healthStatus ?? 'UNKNOWN';
      if (!HEALTH_STATUSES.has(healthStatus)) problems.push(`${here}.healthStatus: must be one of ${[...HEALTH_STATUSES].join(', ')} (got ${String(healthStatus)})`);
      const address = endpointAddress(lb.endpoint?.address, addresses, `${here}.endpoint.address`, problems);
      if (address === undefined) return;
      endpoints.push({
        ...address,
        ...(lb.endpoint.hostname !== undefined && lb.endpoint.hostname !== '' && { hostname: lb.endpoint.hostname }),
        weight,
        healthStatus,
        locality,
        priority,
        metadata: lb.metadata?.filterMetadata ?? {},
      });
    });
    if (total > MAX_UINT32) problems.push(`${at}.lbEndpoints: the weights of a locality must add up to at most ${MAX_UINT32} (got ${total})`);
  });
  return problems.length > 0 ? err(problems) : ok({ endpoints, localityWeights });
}

function endpointAddress(
  address: ClusterLoadAssignment['endpoints'][number]['lbEndpoints'][number]['endpoint']['address'] | undefined,
  mode: 'ip' | 'name', at: string, problems: string[],
): { address: string; port: number; internalListener?: string } | undefined {
  if (address?.envoyInternalAddress !== undefined) return internalAddress(address.envoyInternalAddress, mode, at, problems);
  if (address?.pipe !== undefined) {
    if (mode === 'name') {
      problems.push(`${at}.pipe: a DNS cluster resolves names and cannot reach a pipe`);
      return undefined;
    }
    if (address.pipe.path === '') {
      problems.push(`${at}.pipe.path: must not be empty`);
      return undefined;
    }
    return { address: address.pipe.path, port: 0 };
  }
  const socket = address?.socketAddress;
  if (socket === undefined) {
    problems.push(`${at}: must have a socketAddress, a pipe or an envoyInternalAddress`);
    return undefined;
  }
  let good = true;
  if (socket.address === '' || socket.address === undefined) {
    problems.push(`${at}.socketAddress.address: must not be empty`);
    good = false;
  } else if (mode === 'ip' && isIP(socket.address) === 0) {
    problems.push(`${at}.socketAddress.address: must be an IP address (got "${socket.address}"): only STRICT_DNS and LOGICAL_DNS clusters resolve names`);
    good = false;
  }
  const port = socket.portValue ?? 0;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    problems.push(`${at}.socketAddress.portValue: must be a port from 1 to 65535 (got ${port})`);
    good = false;
  }
  return good ? { address: socket.address, port } : undefined;
}

/** An internal listener of this proxy, as Envoy writes its address: `envoy://<listener>/<endpoint id>`. */
function internalAddress(internal: EnvoyInternalAddress, mode: 'ip' | 'name', at: string, problems: string[]): { address: string; port: number; internalListener: string } | undefined {
  if (mode === 'name') {
    problems.push(`${at}.envoyInternalAddress: a DNS cluster resolves names and cannot reach an internal listener (use a STATIC or EDS cluster)`);
    return undefined;
  }
  const name = (internal as { readonly serverListenerName?: unknown }).serverListenerName;
  if (typeof name !== 'string' || name === '') {
    problems.push(`${at}.envoyInternalAddress.serverListenerName: must name an internal listener`);
    return undefined;
  }
  const endpointId = (internal as { readonly endpointId?: unknown }).endpointId ?? '';
  if (typeof endpointId !== 'string') {
    problems.push(`${at}.envoyInternalAddress.endpointId: must be a string`);
    return undefined;
  }
  return { address: `envoy://${name}/${endpointId}`, port: 0, internalListener: name };
}

function isWeight(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= MAX_UINT32;
}

/** `region/zone/subzone` without trailing empty parts: `us-east`, `us-east/us-east-1a`, '' for none. */
export function localityName(locality: Locality | undefined): string {
  const parts = [locality?.region ?? '', locality?.zone ?? '', locality?.subZone ?? ''];
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.join('/');
}
