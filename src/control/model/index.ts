export { labelsMatch, type Labels } from './labels.ts';
export { portProtocol, declaredProtocol, isHttpProtocol, type Protocol } from './protocol.ts';
export { DEFAULT_MESH_CONFIG, type MeshConfig } from './mesh-config.ts';
export type { Workload, WorkloadPort } from './workload.ts';
export type { AppPort, InterceptionMode, LocalServicePort, ProxyView } from './proxy-view.ts';
export type { ResourceKind } from './resource-kind.ts';
