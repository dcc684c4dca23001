/**
 * The mesh of the control-plane benchmark: `bench/mesh-generator.ts`'s services (Service,
 * VirtualService with a header match and a 90/10 split, DestinationRule with two subsets, pool and
 * outlier detection, AuthorizationPolicy), plus ten WorkloadEntries per service as its endpoints
 * (nine labelled v1, one v2), and the xDS nodes of the simulated sidecars.
 */
import { generateMesh } from './mesh-generator.ts';

const NAMESPACES = 10;
const ENDPOINTS_PER_SERVICE = 10;

function namespaceOf(service: number): string {
  return `team-${service % NAMESPACES}`;
}

/** Unique for up to 65,536 services and 254 endpoints each. */
function endpointAddress(service: number, endpoint: number): string {
  return `10.${(service >> 8) & 255}.${service & 255}.${endpoint + 1}`;
}

function endpointVersion(endpoint: number): 'v1' | 'v2' {
  return endpoint < ENDPOINTS_PER_SERVICE - 1 ? 'v1' : 'v2';
}

export function generateControlPlaneMesh(services: number): string {
  const entries: string[] = [];
  for (let i = 0; i < services; i++) {
    for (let j = 0; j < ENDPOINTS_PER_SERVICE; j++) {
      entries.push(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: svc-${i}-${j}
  namespace: ${namespaceOf(i)}
spec:
  address: ${endpointAddress(i, j)}
  labels: {app: svc-${i}, version: ${endpointVersion(j)}}
  ports: {http: 8080}
  serviceAccount: svc-${i}`);
    }
  }
  return `${generateMesh(services, NAMESPACES)}---\n${entries.join('\n---\n')}\n`;
}

/** The VirtualService of service `i` with the split's weights `v1`/`100 - v1`, as YAML. */
export function virtualServiceYaml(service: number, v1Weight: number): string {
  const name = `svc-${service}`;
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: ${namespaceOf(service)}
spec:
  hosts: [${name}]
  http:
  - match:
    - headers:
        end-user: {exact: tester}
      uri: {prefix: /api}
    route:
    - destination: {host: ${name}, subset: v2}
    timeout: 5s
  - route:
    - destination: {host: ${name}, subset: v1}
      weight: ${v1Weight}
    - destination: {host: ${name}, subset: v2}
      weight: ${100 - v1Weight}
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,connect-failure"}
`;
}

/**
 * The xDS node (JSON form) of client `k`: a sidecar of service `k % services`, with that
 * service's labels and port. Its id carries no IP, so it is not registered as a workload: a
 * sidecar with an IP is one, and each such connect would rebuild the snapshot and push to every
 * stream, which would mix a connect storm into the push being measured. The services' endpoints
 * are the WorkloadEntries.
 */
export function sidecarNode(k: number, services: number): { id: string; metadata: Record<string, unknown> } {
  const service = k % services;
  const endpoint = Math.floor(k / services) % ENDPOINTS_PER_SERVICE;
  const ns = namespaceOf(service);
  return {
    id: `sidecar~~svc-${service}-${k}.${ns}~${ns}.svc.cluster.local`,
    metadata: {
      NAMESPACE: ns,
      LABELS: { app: `svc-${service}`, version: endpointVersion(endpoint) },
      SERVICE_ACCOUNT: `svc-${service}`,
      WORKLOAD_NAME: `svc-${service}-${endpointVersion(endpoint)}`,
      POD_PORTS: '[{"name":"http","containerPort":8080,"protocol":"TCP"}]',
    },
  };
}
