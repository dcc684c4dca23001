/**
 * API versions that Kubernetes or Istio once served and have since removed. A resource written
 * against one is named as such, with the version that replaces it and what that version demands.
 */
export interface RemovedApiVersion {
  readonly apiVersion: string;
  readonly kinds: readonly string[];
  readonly removedIn: string;
  readonly replacement: string;
}

export const REMOVED_API_VERSIONS: readonly RemovedApiVersion[] = [
  { apiVersion: 'apps/v1beta1', kinds: ['Deployment', 'StatefulSet'], removedIn: 'Kubernetes 1.16', replacement: 'apps/v1' },
  { apiVersion: 'apps/v1beta2', kinds: ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'], removedIn: 'Kubernetes 1.16', replacement: 'apps/v1' },
  { apiVersion: 'extensions/v1beta1', kinds: ['Deployment', 'DaemonSet', 'ReplicaSet'], removedIn: 'Kubernetes 1.16', replacement: 'apps/v1' },
  { apiVersion: 'extensions/v1beta1', kinds: ['Ingress'], removedIn: 'Kubernetes 1.22', replacement: 'networking.k8s.io/v1' },
  { apiVersion: 'networking.k8s.io/v1beta1', kinds: ['Ingress', 'IngressClass'], removedIn: 'Kubernetes 1.22', replacement: 'networking.k8s.io/v1' },
  { apiVersion: 'policy/v1beta1', kinds: ['PodDisruptionBudget'], removedIn: 'Kubernetes 1.25', replacement: 'policy/v1' },
  { apiVersion: 'batch/v1beta1', kinds: ['CronJob'], removedIn: 'Kubernetes 1.25', replacement: 'batch/v1' },
  { apiVersion: 'autoscaling/v2beta2', kinds: ['HorizontalPodAutoscaler'], removedIn: 'Kubernetes 1.26', replacement: 'autoscaling/v2' },
  { apiVersion: 'config.istio.io/v1alpha2', kinds: ['RouteRule', 'DestinationPolicy', 'EgressRule'], removedIn: 'Istio 1.0', replacement: 'networking.istio.io/v1' },
  { apiVersion: 'authentication.istio.io/v1alpha1', kinds: ['Policy', 'MeshPolicy'], removedIn: 'Istio 1.6', replacement: 'security.istio.io/v1 PeerAuthentication and RequestAuthentication' },
  { apiVersion: 'rbac.istio.io/v1alpha1', kinds: ['ServiceRole', 'ServiceRoleBinding', 'ClusterRbacConfig', 'RbacConfig'], removedIn: 'Istio 1.6', replacement: 'security.istio.io/v1 AuthorizationPolicy' },
];

export function findRemovedApiVersion(apiVersion: string, kind: string): RemovedApiVersion | undefined {
  return REMOVED_API_VERSIONS.find((r) => r.apiVersion === apiVersion && (r.kinds.includes(kind) || r.apiVersion.includes('istio.io')));
}
