/**
 * Generates a mesh's configuration as YAML text: per service a Service, a VirtualService (header
 * match plus a 90/10 canary) and a DestinationRule (subsets, pools, outlier detection), plus one
 * AuthorizationPolicy per service. Deterministic, so runs are comparable.
 */
export function generateMesh(services: number, namespaces = 10): string {
  const docs: string[] = [];
  for (let i = 0; i < services; i++) {
    const ns = `team-${i % namespaces}`;
    const name = `svc-${i}`;
    docs.push(`apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${ns}
  labels: {app: ${name}}
spec:
  selector: {app: ${name}}
  ports:
  - name: http
    port: 8080
    targetPort: 8080`);
    docs.push(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: ${ns}
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
      weight: 90
    - destination: {host: ${name}, subset: v2}
      weight: 10
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,connect-failure"}`);
    docs.push(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  host: ${name}
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
    connectionPool:
      tcp: {maxConnections: 100, connectTimeout: 1s}
      http: {http1MaxPendingRequests: 100, maxRequestsPerConnection: 10}
    outlierDetection: {consecutive5xxErrors: 5, interval: 30s, baseEjectionTime: 60s}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}`);
    docs.push(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${name}-allow
  namespace: ${ns}
spec:
  selector:
    matchLabels: {app: ${name}}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/${ns}/sa/svc-${(i + 1) % services}"]
    to:
    - operation:
        methods: [GET, POST]
        paths: ["/api/*"]`);
  }
  return `${docs.join('\n---\n')}\n`;
}
