import assert from 'node:assert/strict';
import { seedText } from '../../config/test-support.ts';
import { describe, it } from 'node:test';
import { TypeUrl } from '../../xds/index.ts';
import type { Workload } from '../model/index.ts';
import { snapshotFromYaml, type SnapshotFromYamlOptions } from '../snapshot/test-support.ts';
import type { MeshSnapshot } from '../snapshot/index.ts';
import { testProxy } from './cluster-test-support.ts';
import { RouteGenerator } from './route-generator.ts';
import type { ForwardOutcome, RouteOutcome } from './route-simulation.ts';
import { grpcRejection, routeConfigurationFor, routeConfigurationsFor, sendHttp, type SimulatedHttpRequest } from './route-test-support.ts';

const seed = seedText;

const SERVICES = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  clusterIP: 10.96.0.10
  selector: { app: reviews }
  ports: [{ name: http, port: 9080 }]
---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: default }
spec:
  clusterIP: 10.96.0.11
  selector: { app: ratings }
  ports: [{ name: http, port: 9080 }]
---
apiVersion: v1
kind: Service
metadata: { name: details, namespace: shop }
spec:
  clusterIP: 10.96.0.12
  selector: { app: details }
  ports: [{ name: http, port: 9080 }]
`;

const WORKLOADS: Partial<Workload>[] = [
  { name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, ports: [{ port: 9080 }] },
  { name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' }, ports: [{ port: 9080 }] },
];

const REVIEWS = 'reviews.default.svc.cluster.local';

function mesh(yaml: string, options: SnapshotFromYamlOptions = {}): MeshSnapshot {
  return snapshotFromYaml(`${SERVICES}\n---\n${yaml}`, WORKLOADS, options);
}

function send(snapshot: MeshSnapshot, request: Partial<SimulatedHttpRequest> & { authority: string }, proxy = testProxy()): RouteOutcome {
  return sendHttp(proxy, snapshot, { path: '/', port: 9080, ...request }).outcome;
}

function clusterOf(outcome: RouteOutcome): string | undefined {
  return outcome.kind === 'forward' ? outcome.cluster : outcome.kind;
}

describe('RouteGenerator for a sidecar', () => {
  it('routes the reviews seed: end-user beta-tester to v2, everyone else 90/10 between v1 and v2', () => {
    const snapshot = mesh(seed('000-reviews-routing.yaml'));
    const trace = sendHttp(testProxy(), snapshot, { authority: 'reviews:9080', path: '/reviews/1', port: 9080, headers: { 'end-user': 'beta-tester' } });
    assert.equal(trace.listener, '0.0.0.0_9080');
    assert.equal(trace.routeConfiguration, '9080');
    assert.equal(clusterOf(trace.outcome), `outbound|9080|v2|${REVIEWS}`);
    const other = send(snapshot, { authority: 'reviews:9080', headers: { 'end-user': 'someone' } }) as ForwardOutcome;
    assert.deepEqual(other.clusters, [{ name: `outbound|9080|v1|${REVIEWS}`, weight: 90 }, { name: `outbound|9080|v2|${REVIEWS}`, weight: 10 }]);
  });

  it('accepts every name DNS resolves for a service in the proxy\'s namespace, and only qualified ones for another namespace', () => {
    const config = routeConfigurationFor(testProxy(), mesh(''), '9080');
    const domains = (name: string): readonly string[] | undefined => config.virtualHosts.find((v) => v.name === name)?.domains;
    assert.deepEqual(domains(`${REVIEWS}:9080`), [
      REVIEWS, `${REVIEWS}:9080`, 'reviews', 'reviews:9080', 'reviews.default.svc', 'reviews.default.svc:9080', 'reviews.default', 'reviews.default:9080',
      '10.96.0.10', '10.96.0.10:9080',
    ]);
    assert.deepEqual(domains('details.shop.svc.cluster.local:9080'), [
      'details.shop.svc.cluster.local', 'details.shop.svc.cluster.local:9080', 'details.shop', 'details.shop:9080', 'details.shop.svc', 'details.shop.svc:9080',
      '10.96.0.12', '10.96.0.12:9080',
    ]);
    for (const authority of ['reviews', 'reviews:9080', 'reviews.default', `${REVIEWS}:9080`, '10.96.0.10:9080']) {
      assert.equal(clusterOf(send(mesh(''), { authority })), `outbound|9080||${REVIEWS}`, authority);
    }
    assert.equal(clusterOf(send(mesh(''), { authority: 'details.shop:9080' })), 'outbound|9080||details.shop.svc.cluster.local');
  });

  it('routes a service without VirtualService to its cluster, with Istio\'s default retries and no timeout', () => {
    const outcome = send(mesh(''), { authority: 'ratings:9080' }) as ForwardOutcome;
    assert.equal(outcome.cluster, 'outbound|9080||ratings.default.svc.cluster.local');
    assert.equal(outcome.route, 'default');
    assert.deepEqual(outcome.entry.route, {
      cluster: 'outbound|9080||ratings.default.svc.cluster.local',
      timeout: '0s',
      maxGrpcTimeout: '0s',
      retryPolicy: {
        retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
        numRetries: 2,
        retryHostPredicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
        hostSelectionRetryMaxAttempts: 5,
        retriableStatusCodes: [503],
      },
    });
    assert.equal(outcome.entry.decorator?.operation, 'ratings.default.svc.cluster.local:9080/*');
  });

  it('passes unknown hosts through under ALLOW_ANY and answers 502 under REGISTRY_ONLY', () => {
    assert.equal(clusterOf(send(mesh(''), { authority: 'unknown.example.com:9080' })), 'PassthroughCluster');
    const blocked = send(mesh('', { mesh: { outboundTrafficPolicy: 'REGISTRY_ONLY' } }), { authority: 'unknown.example.com:9080' });
    assert.deepEqual(blocked, { kind: 'direct-response', virtualHost: 'block_all', route: 'block_all', status: 502, body: undefined });
  });

  it('follows the Sidecar resource: its outboundTrafficPolicy, and only the services and VirtualServices its egress imports', () => {
    const snapshot = mesh(`
${seed('000-reviews-routing.yaml')}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: default }
spec:
  egress: [{ hosts: ["./ratings.default.svc.cluster.local"] }]
  outboundTrafficPolicy: { mode: REGISTRY_ONLY }`);
    const config = routeConfigurationFor(testProxy(), snapshot, '9080');
    assert.deepEqual(config.virtualHosts.map((v) => v.name), ['ratings.default.svc.cluster.local:9080', 'block_all']);
    assert.equal(send(snapshot, { authority: 'reviews:9080' }).kind, 'direct-response');
  });

  it('ignores VirtualServices bound only to gateways, and those not exported to the proxy\'s namespace', () => {
    const snapshot = mesh(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edge, namespace: default }
spec:
  hosts: [reviews]
  gateways: [ingress]
  http: [{ route: [{ destination: { host: reviews, subset: v1 } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: private, namespace: default }
spec:
  hosts: [ratings]
  exportTo: ["."]
  http: [{ route: [{ destination: { host: ratings, subset: v1 } }] }]`);
    assert.equal(clusterOf(send(snapshot, { authority: 'reviews:9080' })), `outbound|9080||${REVIEWS}`);
    assert.equal(clusterOf(send(snapshot, { authority: 'ratings:9080' })), 'outbound|9080|v1|ratings.default.svc.cluster.local');
    const other = testProxy({ namespace: 'shop' });
    assert.equal(clusterOf(send(snapshot, { authority: 'ratings.default:9080' }, other)), 'outbound|9080||ratings.default.svc.cluster.local');
  });

  it('lets the first VirtualService naming a host route it, and a wildcard host route the services it covers, the most specific first', () => {
    const snapshot = mesh(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: all-default, namespace: default }
spec:
  hosts: ["*.default.svc.cluster.local"]
  http: [{ route: [{ destination: { host: reviews, subset: wild } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: everything, namespace: default }
spec:
  hosts: ["*.svc.cluster.local"]
  http: [{ route: [{ destination: { host: reviews, subset: wider } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews-exact, namespace: default }
spec:
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews, subset: exact } }] }]`);
    assert.equal(clusterOf(send(snapshot, { authority: 'reviews' })), `outbound|9080|exact|${REVIEWS}`);
    assert.equal(clusterOf(send(snapshot, { authority: 'ratings' })), `outbound|9080|wild|${REVIEWS}`);
    assert.equal(clusterOf(send(snapshot, { authority: 'details.shop' })), `outbound|9080|wider|${REVIEWS}`);
  });

  it('gives a VirtualService host outside the registry its own virtual host, on port 80', () => {
    const snapshot = mesh(`
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec:
  clusterIP: 10.96.0.20
  ports: [{ name: http, port: 80 }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bookinfo, namespace: default }
spec:
  hosts: [bookinfo.example.com]
  http: [{ route: [{ destination: { host: reviews } }] }]`);
    const config = routeConfigurationFor(testProxy(), snapshot, '80');
    assert.deepEqual(config.virtualHosts.find((v) => v.name === 'bookinfo.example.com:80')?.domains, ['bookinfo.example.com', 'bookinfo.example.com:80']);
    assert.equal(clusterOf(send(snapshot, { authority: 'bookinfo.example.com', port: 80, address: '203.0.113.7' })), `outbound|9080||${REVIEWS}`);
  });

  it('routes a ServiceEntry host by its VirtualService', () => {
    const snapshot = mesh(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: httpbin, namespace: default }
spec:
  hosts: [httpbin.org]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{ number: 80, name: http, protocol: HTTP }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin, namespace: default }
spec:
  hosts: [httpbin.org]
  http: [{ timeout: 3s, route: [{ destination: { host: httpbin.org } }] }]`);
    const outcome = send(snapshot, { authority: 'httpbin.org', port: 80 }) as ForwardOutcome;
    assert.equal(outcome.cluster, 'outbound|80||httpbin.org');
    assert.equal(outcome.entry.route?.timeout, '3s');
  });

  it('lists every domain once across virtual hosts', () => {
    const config = routeConfigurationFor(testProxy(), mesh(seed('000-reviews-routing.yaml')), '9080');
    const all = config.virtualHosts.flatMap((v) => v.domains);
    assert.equal(new Set(all).size, all.length);
  });

  it('answers only the route configurations it knows, all of them for a wildcard request', () => {
    const generator = new RouteGenerator();
    assert.deepEqual(generator.generate(testProxy(), mesh(''), new Set(['9080', 'http.80', 'nonsense'])).map((r) => r.name), ['9080']);
    assert.deepEqual(routeConfigurationsFor(testProxy(), mesh(''), 'all').map((r) => r.name), ['9080']);
  });
});

const GATEWAY_PROXY = testProxy({ kind: 'router', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, workloadName: 'istio-ingressgateway' });

describe('RouteGenerator for a gateway', () => {
  it('routes the booking seed: /api/v1/booking to booking-service port 8080, other paths 404', () => {
    const snapshot = mesh(seed('002-booking-gateway.yaml'));
    const trace = sendHttp(GATEWAY_PROXY, snapshot, { authority: 'booking.example.com', path: '/api/v1/booking/42', port: 80 });
    assert.equal(trace.listener, '0.0.0.0_80');
    assert.equal(trace.routeConfiguration, 'http.80');
    assert.equal(clusterOf(trace.outcome), 'outbound|8080||booking-service.default.svc.cluster.local');
    assert.deepEqual(send(snapshot, { authority: 'booking.example.com', path: '/admin', port: 80 }, GATEWAY_PROXY), { kind: 'no-route', status: 404, virtualHost: '*:80' });
  });

  it('routes the blog seed: codewithmsmaxpro.me to my-blog-service, any other host 404', () => {
    const snapshot = mesh(`${seed('003-gateway-blog.yaml')}\n---\n${seed('003-canary.yaml')}`);
    assert.equal(clusterOf(send(snapshot, { authority: 'codewithmsmaxpro.me', port: 80 }, GATEWAY_PROXY)), 'outbound|80||my-blog-service.default.svc.cluster.local');
    assert.equal(clusterOf(send(snapshot, { authority: 'codewithmsmaxpro.me:80', port: 80 }, GATEWAY_PROXY)), 'outbound|80||my-blog-service.default.svc.cluster.local');
    // my-app.example.com is bound to the same gateway, but its server admits only codewithmsmaxpro.me.
    assert.deepEqual(send(snapshot, { authority: 'my-app.example.com', port: 80 }, GATEWAY_PROXY), { kind: 'no-route', status: 404, virtualHost: undefined });
    assert.deepEqual(routeConfigurationFor(GATEWAY_PROXY, snapshot, 'http.80').virtualHosts.map((v) => [v.name, v.domains]), [
      ['codewithmsmaxpro.me:80', ['codewithmsmaxpro.me', 'codewithmsmaxpro.me:*']],
    ]);
  });

  const GATEWAY = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: web, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: ["*.example.com", "shop/*.shop.example.org"]
    tls: { httpsRedirect: true }`;

  it('intersects VirtualService hosts with the server\'s, and admits a namespace-qualified server host only to that namespace', () => {
    const snapshot = mesh(`${GATEWAY}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: any-host, namespace: default }
spec:
  hosts: ["*"]
  gateways: [istio-system/web]
  http: [{ route: [{ destination: { host: reviews } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop, namespace: default }
spec:
  hosts: [www.shop.example.org]
  gateways: [istio-system/web]
  http: [{ route: [{ destination: { host: ratings } }] }]`);
    const config = routeConfigurationFor(GATEWAY_PROXY, snapshot, 'http.80');
    assert.deepEqual(config.virtualHosts.map((v) => [v.name, v.domains, v.requireTls]), [['*.example.com:80', ['*.example.com'], 'ALL']]);
    assert.equal(clusterOf(send(snapshot, { authority: 'a.example.com', port: 80, scheme: 'https' }, GATEWAY_PROXY)), `outbound|9080||${REVIEWS}`);
    assert.deepEqual(send(snapshot, { authority: 'a.example.com', path: '/p', port: 80 }, GATEWAY_PROXY), {
      kind: 'redirect', virtualHost: '*.example.com:80', route: undefined, status: 301, location: 'https://a.example.com/p',
    });
    assert.equal(send(snapshot, { authority: 'www.shop.example.org', port: 80 }, GATEWAY_PROXY).kind, 'no-route');
  });

  it('merges the routes of several VirtualServices for one host, in order', () => {
    const snapshot = mesh(`${GATEWAY}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api, namespace: default }
spec:
  hosts: [www.example.com]
  gateways: [istio-system/web]
  http: [{ match: [{ uri: { prefix: /api } }], route: [{ destination: { host: ratings } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: site, namespace: default }
spec:
  hosts: [www.example.com]
  gateways: [istio-system/web]
  http: [{ route: [{ destination: { host: reviews } }] }]`);
    assert.equal(clusterOf(send(snapshot, { authority: 'www.example.com', path: '/api/x', port: 80, scheme: 'https' }, GATEWAY_PROXY)), 'outbound|9080||ratings.default.svc.cluster.local');
    assert.equal(clusterOf(send(snapshot, { authority: 'www.example.com', path: '/index.html', port: 80, scheme: 'https' }, GATEWAY_PROXY)), `outbound|9080||${REVIEWS}`);
  });

  it('answers only http.<port> names of its servers\' ports', () => {
    const generator = new RouteGenerator();
    const snapshot = mesh(seed('002-booking-gateway.yaml'));
    assert.deepEqual(generator.generate(GATEWAY_PROXY, snapshot, new Set(['http.80', 'http.443', '9080'])).map((r) => r.name), ['http.80']);
  });
});

const GRPC_CLIENT = testProxy({ generator: 'grpc' });

describe('RouteGenerator for a proxyless gRPC client', () => {
  it('answers the route configuration named after the dialled target, which grpc-js accepts', () => {
    const snapshot = mesh(seed('000-reviews-routing.yaml'));
    for (const name of [`${REVIEWS}:9080`, 'reviews:9080', 'reviews.default:9080']) {
      const config = routeConfigurationFor(GRPC_CLIENT, snapshot, name);
      assert.deepEqual(config.virtualHosts.map((v) => [v.name, v.domains]), [[name, [name]]]);
      assert.equal(grpcRejection(TypeUrl.RouteConfiguration, config), undefined);
    }
    const beta = sendHttp(GRPC_CLIENT, snapshot, { authority: 'reviews:9080', path: '/reviews.Reviews/Get', port: 9080, headers: { 'end-user': 'beta-tester' } });
    assert.equal(beta.listener, 'reviews:9080');
    assert.equal(clusterOf(beta.outcome), `outbound|9080|v2|${REVIEWS}`);
  });

  it('keeps retries, timeouts and header matches, which grpc-js accepts', () => {
    const snapshot = mesh(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings, namespace: default }
spec:
  hosts: [ratings]
  http:
  - match: [{ headers: { x-canary: { exact: "1" } }, uri: { regex: "/ratings\\\\..*" } }]
    timeout: 2s
    retries: { attempts: 3, retryOn: unavailable, backoff: 50ms }
    route: [{ destination: { host: ratings, subset: v2 } }]
  - route:
    - { destination: { host: ratings, subset: v1 }, weight: 80 }
    - { destination: { host: ratings, subset: v2 }, weight: 20 }`);
    const config = routeConfigurationFor(GRPC_CLIENT, snapshot, 'ratings:9080');
    assert.equal(grpcRejection(TypeUrl.RouteConfiguration, config), undefined);
    const routes = config.virtualHosts[0]?.routes ?? [];
    assert.equal(routes.length, 2);
    assert.deepEqual(routes[0]?.route?.retryPolicy?.numRetries, 3);
    assert.deepEqual(routes[0]?.route?.maxStreamDuration, { maxStreamDuration: '2s' });
  });

  it('leaves out targets that name no service port', () => {
    assert.deepEqual(routeConfigurationsFor(GRPC_CLIENT, mesh(''), new Set(['reviews:1234', 'nothing:9080', 'reviews'])), []);
  });
});
