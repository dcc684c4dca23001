import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ok } from '../../src/core/index.ts';
import { testProxy } from '../../src/control/generators/cluster-test-support.ts';
import { RouteGenerator } from '../../src/control/generators/route-generator.ts';
import { pickWeightedCluster, simulateRoute, type SimulatedRequest } from '../../src/control/generators/route-simulation.ts';
import type { ProxyView } from '../../src/control/model/index.ts';
import type { MeshSnapshot } from '../../src/control/snapshot/index.ts';
import { snapshotFromYaml, type SnapshotFromYamlOptions } from '../../src/control/snapshot/test-support.ts';
import { compileRouteConfiguration, type PerFilterConfigParser } from '../../src/proxy/route/compile-route-configuration.ts';
import type { RouteTable } from '../../src/proxy/route/route-entry.ts';
import { decodeMessage, encodeMessage } from '../../src/xds/index.ts';
import { HTTP_FILTER, type RouteConfiguration } from '../../src/xds/envoy/index.ts';

/**
 * The proxy's route tables against the control plane's simulator: the route configurations the
 * generators make for the reviews seed, sent through protobuf as the proxy receives them,
 * compiled by the proxy, must send each request where the simulator says Envoy would.
 */

const SEED = readFileSync(new URL('../../../shared/seed-examples/000-reviews-routing.yaml', import.meta.url), 'utf8');

const REVIEWS_SERVICE = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  clusterIP: 10.96.0.10
  selector: { app: reviews }
  ports: [{ name: http, port: 9080 }]
`;

/** The seed's VirtualService (its first document), bound to an ingress gateway for reviews.example.com instead of the mesh. */
const INGRESS_VIRTUAL_SERVICE = SEED.split(/^---$/m)[0]!
  .replace('name: reviews-routing', 'name: reviews-ingress')
  .replace('  hosts:\n  - reviews\n', '  hosts:\n  - reviews.example.com\n  gateways:\n  - istio-system/ingress\n')
  .replace(/host: reviews$/gm, 'host: reviews.default.svc.cluster.local');

/** The same routing at an ingress gateway, for reviews.example.com only. */
const GATEWAY = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ingress, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: ["*/reviews.example.com"]
---
${INGRESS_VIRTUAL_SERVICE}
`;

const WORKLOADS = [
  { name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, ports: [{ port: 9080 }] },
  { name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' }, ports: [{ port: 9080 }] },
];

const V1 = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const V2 = 'outbound|9080|v2|reviews.default.svc.cluster.local';

/** The filters whose per-route configs the generators write; their own parsers are tested with them. */
const PARSERS = new Map<string, PerFilterConfigParser>([[HTTP_FILTER.fault, (c) => ok(c)], [HTTP_FILTER.cors, (c) => ok(c)]]);

function snapshot(options: SnapshotFromYamlOptions = {}): MeshSnapshot {
  return snapshotFromYaml(`${REVIEWS_SERVICE}\n---\n${SEED}\n---\n${GATEWAY}`, WORKLOADS, options);
}

/** A route configuration as generated, then encoded and decoded as it crosses the wire. */
function received(proxy: ProxyView, mesh: MeshSnapshot, name: string): RouteConfiguration {
  const [resource] = new RouteGenerator().generate(proxy, mesh, new Set([name]));
  assert.ok(resource !== undefined, `no route configuration ${name}`);
  const type = 'envoy.config.route.v3.RouteConfiguration';
  return decodeMessage(type, encodeMessage(type, resource.resource)) as unknown as RouteConfiguration;
}

function compiled(config: RouteConfiguration): RouteTable {
  const result = compileRouteConfiguration(config, { perFilterConfigParsers: PARSERS });
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

type Decision =
  | { readonly kind: 'forward'; readonly virtualHost: string; readonly route: string; readonly cluster: string }
  | { readonly kind: 'direct'; readonly virtualHost: string; readonly route: string; readonly status: number }
  | { readonly kind: 'redirect'; readonly virtualHost: string; readonly status: number; readonly location: string }
  | { readonly kind: 'no-route' };

/** What the proxy's table does with a request, the weighted pick made with `random`. */
function proxyDecision(table: RouteTable, request: SimulatedRequest, random: number): Decision {
  // Header names arrive lower-cased, as Node gives them.
  const headers = Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const head = { method: request.method ?? 'GET', path: request.path, authority: request.authority, scheme: request.scheme ?? 'http', headers, protocol: 'HTTP/1.1' as const };
  const entry = table.match(head, random);
  if (entry === undefined) return { kind: 'no-route' };
  const action = entry.action;
  switch (action.kind) {
    case 'forward': return { kind: 'forward', virtualHost: entry.virtualHostName, route: entry.name, cluster: action.pickCluster(random).name };
    case 'direct': return { kind: 'direct', virtualHost: entry.virtualHostName, route: entry.name, status: action.status };
    case 'redirect': return { kind: 'redirect', virtualHost: entry.virtualHostName, ...action.redirect(head) };
  }
}

/** What the simulator says, the weighted pick made with the same `random` over the total weight. */
function simulatedDecision(config: RouteConfiguration, request: SimulatedRequest, random: number): Decision {
  const outcome = simulateRoute(config, request);
  switch (outcome.kind) {
    case 'no-route': return { kind: 'no-route' };
    case 'direct-response': return { kind: 'direct', virtualHost: outcome.virtualHost, route: outcome.route ?? '', status: outcome.status };
    case 'redirect': return { kind: 'redirect', virtualHost: outcome.virtualHost, status: outcome.status, location: outcome.location };
    case 'forward': {
      const total = outcome.clusters.reduce((sum, c) => sum + c.weight, 0);
      return { kind: 'forward', virtualHost: outcome.virtualHost, route: outcome.route ?? '', cluster: pickWeightedCluster(outcome.clusters, Math.floor(random * total)).name };
    }
  }
}

const RANDOMS = [0, 0.25, 0.5, 0.8999, 0.9, 0.95, 0.9999];

function assertAgree(config: RouteConfiguration, requests: readonly SimulatedRequest[]): void {
  const table = compiled(config);
  for (const request of requests) {
    for (const random of RANDOMS) {
      assert.deepEqual(proxyDecision(table, request, random), simulatedDecision(config, request, random), `${JSON.stringify(request)} with random ${random}`);
    }
  }
}

describe('route tables compiled from the generators\' route configurations', () => {
  const mesh = snapshot();
  const sidecar = received(testProxy(), mesh, '9080');
  const table = compiled(sidecar);
  const clusterFor = (request: SimulatedRequest, random: number): string | undefined => {
    const decision = proxyDecision(table, request, random);
    return decision.kind === 'forward' ? decision.cluster : decision.kind;
  };

  it('send end-user beta-tester to reviews v2, whatever the random draw', () => {
    for (const random of RANDOMS) {
      assert.equal(clusterFor({ authority: 'reviews:9080', path: '/reviews/1', headers: { 'end-user': 'beta-tester' } }, random), V2);
    }
  });

  it('split everyone else 90/10 between v1 and v2 by the random draw', () => {
    const others = { authority: 'reviews.default.svc.cluster.local:9080', path: '/reviews/1', headers: { 'end-user': 'jason' } };
    assert.deepEqual(RANDOMS.map((r) => clusterFor(others, r)), [V1, V1, V1, V1, V2, V2, V2]);
    assert.equal(clusterFor({ authority: 'reviews', path: '/' }, 0.3), V1);
  });

  it('agree with the simulator on every name of the service and on hosts outside the mesh', () => {
    const requests: SimulatedRequest[] = [];
    for (const authority of ['reviews', 'reviews:9080', 'reviews.default', 'reviews.default.svc:9080', 'REVIEWS.default.svc.cluster.local', '10.96.0.10:9080', 'unknown.example.com:9080']) {
      for (const headers of [{}, { 'end-user': 'beta-tester' }, { 'end-user': 'beta-testers' }, { 'End-User': 'beta-tester' }] as Record<string, string>[]) {
        requests.push({ authority, path: '/reviews/1?x=1', headers });
      }
    }
    assertAgree(sidecar, requests);
    assert.equal(clusterFor({ authority: 'unknown.example.com:9080', path: '/' }, 0), 'PassthroughCluster');
  });

  it('agree with the simulator when the mesh allows only registered hosts: 502 for others', () => {
    const blocked = received(testProxy(), snapshot({ mesh: { outboundTrafficPolicy: 'REGISTRY_ONLY' } }), '9080');
    assertAgree(blocked, [{ authority: 'unknown.example.com', path: '/' }, { authority: 'reviews', path: '/', headers: { 'end-user': 'beta-tester' } }]);
    assert.deepEqual(proxyDecision(compiled(blocked), { authority: 'unknown.example.com', path: '/' }, 0), { kind: 'direct', virtualHost: 'block_all', route: 'block_all', status: 502 });
  });

  it('find no route at a gateway for a host no virtual host takes, and route the ones it does', () => {
    const gateway = received(testProxy({ kind: 'router', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, workloadName: 'istio-ingressgateway' }), mesh, 'http.80');
    const requests: SimulatedRequest[] = [
      { authority: 'reviews.example.com', path: '/reviews/1', headers: { 'end-user': 'beta-tester' } },
      { authority: 'reviews.example.com:80', path: '/reviews/1' },
      { authority: 'unknown.example.com', path: '/reviews/1', headers: { 'end-user': 'beta-tester' } },
    ];
    assertAgree(gateway, requests);
    const gatewayTable = compiled(gateway);
    assert.deepEqual(proxyDecision(gatewayTable, requests[2]!, 0), { kind: 'no-route' });
    assert.equal((proxyDecision(gatewayTable, requests[0]!, 0.95) as { cluster?: string }).cluster, V2);
    assert.equal((proxyDecision(gatewayTable, requests[1]!, 0.5) as { cluster?: string }).cluster, V1);
  });
});
