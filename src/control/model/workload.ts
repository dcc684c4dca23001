import type { Labels } from './labels.ts';

/** A port a workload listens on (a container port, a WorkloadEntry port). */
export interface WorkloadPort {
  readonly port: number;
  readonly name?: string;
  readonly protocol?: string;
  /**
   * Where the port is reached on the workload's address when not at `port` (Kubernetes' hostPort):
   * local mode on a shared loopback address, where replicas cannot all have 9080.
   */
  readonly hostPort?: number;
}

/**
 * A running instance of an application: a process with a sidecar that announced itself over ADS,
 * a Pod, or a WorkloadEntry. Services select workloads by labels to make their endpoints.
 */
export interface Workload {
  /** Unique within the mesh: `<kind>/<namespace>/<name>` (e.g. `proxy/default/reviews-v1-1`). */
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly labels: Labels;
  readonly serviceAccount: string;
  readonly address: string;
  readonly ports: readonly WorkloadPort[];
  /** `region/zone/subzone`, '' when unknown. */
  readonly locality: string;
  readonly network: string;
  readonly weight: number;
  readonly healthy: boolean;
  /** 'istio' when the workload has a sidecar that accepts Istio mTLS (endpoint label security.istio.io/tlsMode). */
  readonly tlsMode: 'istio' | 'disabled';
  readonly origin: 'proxy' | 'Pod' | 'WorkloadEntry';
}
