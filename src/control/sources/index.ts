export type { ConfigSource, ConfigState } from './config-source.ts';
export type { WorkloadSource } from './workload-source.ts';
export { MemoryConfigSource, type MemoryConfigSourceOptions, type ApplyOutcome, type DeleteOutcome, type ResourceChange } from './memory-config-source.ts';
export { FileConfigSource, type FileConfigSourceOptions, type ConfigLog, type Timers, type WatchDirectory } from './file-config-source.ts';
export { ProxyWorkloadRegistry, type ReadinessGate } from './proxy-workload-registry.ts';
export { parseProxyNode, type XdsNode } from './proxy-node.ts';
export { workloadsFromConfig } from './config-workloads.ts';
