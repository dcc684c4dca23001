import type { Workload } from '../model/index.ts';

/**
 * Workloads that are running now: proxies that announced themselves over ADS, and later Pods
 * watched in Kubernetes. Static workloads written as config (WorkloadEntry, Pod YAML) are read
 * from the ConfigState instead.
 */
export interface WorkloadSource {
  workloads(): readonly Workload[];
  subscribe(listener: () => void): () => void;
}
