import { isIPv6 } from 'node:net';
import type { HealthStatus } from '../../xds/envoy/index.ts';
import type { HostOutlierRecord, HostStats, UpstreamHost } from './cluster.ts';
import { newOutlierRecord } from './outlier-detector.ts';

export interface EndpointHostInit {
  readonly address: string;
  /** 0 for a pipe (a unix socket), whose address is its path, and for an internal listener. */
  readonly port: number;
  readonly internalListener?: string;
  readonly hostname?: string;
  readonly weight: number;
  readonly locality: string;
  readonly priority: number;
  readonly healthStatus: HealthStatus;
  readonly metadata: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/**
 * A host as the cluster manager keeps it. The object lives as long as its endpoint: an EDS update
 * that keeps the address updates weight, health, locality and priority in place, so the requests
 * in flight and the counters stay with it (as Envoy keeps its hosts).
 */
export class EndpointHost implements UpstreamHost {
  readonly address: string;
  readonly port: number;
  readonly id: string;
  readonly internalListener: string | undefined;
  hostname: string | undefined;
  weight: number;
  locality: string;
  priority: number;
  healthStatus: HealthStatus;
  metadata: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  activeRequests = 0;
  readonly stats: HostStats = { cxActive: 0, cxTotal: 0, cxConnectFail: 0, rqTotal: 0, rqError: 0, rqTimeout: 0 };
  readonly outlier: HostOutlierRecord = newOutlierRecord();

  constructor(init: EndpointHostInit) {
    this.address = init.address;
    this.port = init.port;
    this.id = hostId(init.address, init.port);
    this.internalListener = init.internalListener;
    this.hostname = init.hostname;
    this.weight = init.weight;
    this.locality = init.locality;
    this.priority = init.priority;
    this.healthStatus = init.healthStatus;
    this.metadata = init.metadata;
  }

  /** EDS's HEALTHY and UNKNOWN take traffic unless outlier detection ejected the host; UNHEALTHY, DRAINING, TIMEOUT and DEGRADED do not. */
  get healthy(): boolean {
    return !this.outlier.ejected && (this.healthStatus === 'HEALTHY' || this.healthStatus === 'UNKNOWN');
  }

  update(init: EndpointHostInit): void {
    this.hostname = init.hostname;
    this.weight = init.weight;
    this.locality = init.locality;
    this.priority = init.priority;
    this.healthStatus = init.healthStatus;
    this.metadata = init.metadata;
  }
}

/** Envoy's form of an address: `10.0.0.1:80`, `[::1]:80`, a pipe's path, or an internal listener's `envoy://name/id`. */
export function hostId(address: string, port: number): string {
  if (port === 0 && !isIPv6(address) && address.includes('/')) return address;
  return isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}
