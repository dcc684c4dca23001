export { buildMeshSnapshot, type MeshSnapshotInput } from './build-mesh-snapshot.ts';
export { effectiveTrafficPolicy, type ClusterTrafficPolicy } from './effective-traffic-policy.ts';
export type {
  EffectiveDestinationRule, EffectiveSubset, GatewayBinding, MeshEndpoint, MeshService, MeshSnapshot, ServicePort,
} from './mesh-snapshot.ts';
export { SnapshotPublisher, type SnapshotListener } from './snapshot-publisher.ts';
