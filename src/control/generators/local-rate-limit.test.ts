import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HTTP_FILTER, type HttpConnectionManager, type HttpFilter, type Listener, type LocalRateLimit } from '../../xds/envoy/index.ts';
import type { ProxyView, Workload } from '../model/index.ts';
import { snapshotFromYaml } from '../snapshot/test-support.ts';
import type { MeshSnapshot } from '../snapshot/index.ts';
import { testProxy } from './cluster-test-support.ts';
import { selectFilterChain } from './listener-simulation.ts';
import type { RouteOutcome } from './route-simulation.ts';
import { listenersFor, sendHttp, type SimulatedHttpRequest } from './route-test-support.ts';

const MESH = `
apiVersion: v1
kind: Service
metadata: { name: productpage, namespace: default }
spec:
  clusterIP: 10.96.0.9
  selector: { app: productpage }
  ports: [{ name: http, port: 9080 }]
---
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  clusterIP: 10.96.0.10
  selector: { app: reviews }
  ports: [{ name: http, port: 9080 }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: bookinfo-gateway, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 8080, name: http, protocol: HTTP }
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bookinfo, namespace: default }
spec:
  hosts: ["*"]
  gateways: [bookinfo-gateway]
  http:
  - name: reviews-api
    match: [{ uri: { prefix: /api/v1/products }, name: products }, { uri: { prefix: /api/v1/reviews } }]
    route: [{ destination: { host: reviews } }]
  - name: productpage
    route: [{ destination: { host: productpage } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - name: reviews-v2
    match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: reviews } }]
  - name: reviews-default
    route: [{ destination: { host: reviews } }]
`;

const WORKLOADS: Partial<Workload>[] = [
  { name: 'productpage-v1', labels: { app: 'productpage' }, address: '10.0.0.1', ports: [{ port: 9080 }] },
  { name: 'reviews-v1', labels: { app: 'reviews' }, address: '10.0.0.2', ports: [{ port: 9080 }] },
];

const GATEWAY = testProxy({ kind: 'router', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, workloadName: 'istio-ingressgateway' });
const PRODUCTPAGE = testProxy({ ipAddresses: ['10.0.0.1'], labels: { app: 'productpage' }, ports: [{ port: 9080 }], workloadName: 'productpage-v1' });
const REVIEWS = testProxy({ ipAddresses: ['10.0.0.2'], labels: { app: 'reviews' }, ports: [{ port: 9080 }], workloadName: 'reviews-v1' });

function mesh(limits: string): MeshSnapshot {
  return snapshotFromYaml(`${MESH}\n---\n${limits}`, WORKLOADS);
}

function limitYaml(namespace: string, name: string, spec: string): string {
  return `apiVersion: policy.weft.dev/v1alpha1
kind: LocalRateLimit
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${spec.trim().split('\n').map((line) => `  ${line}`).join('\n')}
---
`;
}

const HUNDRED = { defaultValue: { numerator: 100, denominator: 'HUNDRED' } };

/** What an enforced limit with this bucket compiles to. */
function enforced(maxTokens: number, tokensPerFill: number, fillInterval: string, code = 'TooManyRequests'): LocalRateLimit {
  return {
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
    statPrefix: 'http_local_rate_limiter',
    status: { code },
    tokenBucket: { maxTokens, tokensPerFill, fillInterval },
    filterEnabled: HUNDRED,
    filterEnforced: HUNDRED,
    enableXRatelimitHeaders: 'DRAFT_VERSION_03',
  } as LocalRateLimit;
}

const LISTENER_ONLY = {
  '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
  statPrefix: 'http_local_rate_limiter',
  filterEnabled: { defaultValue: { numerator: 0, denominator: 'HUNDRED' } },
};

/** The HTTP filters of every connection manager of a listener, one list per filter chain that has one. */
function httpFilterLists(listener: Listener): (readonly HttpFilter[])[] {
  const chains = [...(listener.filterChains ?? []), ...(listener.defaultFilterChain !== undefined ? [listener.defaultFilterChain] : [])];
  return chains.flatMap((chain) => chain.filters.flatMap((f) => ((f.typedConfig as HttpConnectionManager).httpFilters !== undefined ? [(f.typedConfig as HttpConnectionManager).httpFilters] : [])));
}

function rateLimitFilter(filters: readonly HttpFilter[]): HttpFilter | undefined {
  return filters.find((f) => f.name === HTTP_FILTER.localRateLimit);
}

/** Every local rate limit filter config in the proxy's connection managers, by listener name. */
function rateLimitConfigs(proxy: ProxyView, snapshot: MeshSnapshot): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  for (const listener of listenersFor(proxy, snapshot)) {
    const configs = httpFilterLists(listener).flatMap((filters) => {
      const found = rateLimitFilter(filters);
      return found !== undefined ? [found.typedConfig] : [];
    });
    if (configs.length > 0) out.set(listener.name, configs);
  }
  return out;
}

function routeLimit(outcome: RouteOutcome): unknown {
  assert.equal(outcome.kind, 'forward', JSON.stringify(outcome));
  return outcome.kind === 'forward' ? outcome.entry.typedPerFilterConfig?.[HTTP_FILTER.localRateLimit] : undefined;
}

const viaGateway = (path: string): SimulatedHttpRequest => ({ authority: 'bookinfo.example.com', path, port: 8080 });

const GATEWAY_LIMIT = limitYaml('istio-system', 'ingress', `
selector: { matchLabels: { istio: ingressgateway } }
tokenBucket: { maxTokens: 100, tokensPerFill: 50, fillInterval: 1s }
routes:
- { virtualService: default/bookinfo, route: reviews-api, tokenBucket: { maxTokens: 10, tokensPerFill: 10, fillInterval: 1m } }
status: 503
`);

describe('LocalRateLimit on a gateway', () => {
  it('puts the filter with the workload bucket just before the router of every HTTP listener', () => {
    const listeners = listenersFor(GATEWAY, mesh(GATEWAY_LIMIT));
    assert.deepEqual(listeners.map((l) => l.name), ['0.0.0.0_8080']);
    const [filters] = httpFilterLists(listeners[0]!);
    assert.deepEqual(filters?.map((f) => f.name), ['envoy.filters.http.fault', 'envoy.filters.http.cors', 'envoy.filters.http.local_ratelimit', 'envoy.filters.http.router']);
    assert.deepEqual(rateLimitFilter(filters!)?.typedConfig, enforced(100, 50, '1s', 'ServiceUnavailable'));
  });

  it('gives every Envoy route of the named VirtualService route its own limit, and other routes none', () => {
    const snapshot = mesh(GATEWAY_LIMIT);
    const expected = enforced(10, 10, '60s', 'ServiceUnavailable');
    // Both match blocks of reviews-api, the first named `reviews-api.products` in Envoy.
    assert.deepEqual(routeLimit(sendHttp(GATEWAY, snapshot, viaGateway('/api/v1/products/0')).outcome), expected);
    assert.deepEqual(routeLimit(sendHttp(GATEWAY, snapshot, viaGateway('/api/v1/reviews/0')).outcome), expected);
    assert.equal(routeLimit(sendHttp(GATEWAY, snapshot, viaGateway('/productpage')).outcome), undefined);
  });

  it('places the filter disabled at listener level when only route limits apply', () => {
    const snapshot = mesh(limitYaml('istio-system', 'ingress', `
selector: { matchLabels: { istio: ingressgateway } }
routes:
- { virtualService: default/bookinfo, route: productpage, tokenBucket: { maxTokens: 5, tokensPerFill: 1, fillInterval: 200ms } }
`));
    assert.deepEqual(rateLimitConfigs(GATEWAY, snapshot), new Map([['0.0.0.0_8080', [LISTENER_ONLY]]]));
    assert.deepEqual(routeLimit(sendHttp(GATEWAY, snapshot, viaGateway('/productpage')).outcome), enforced(5, 1, '0.2s'));
    assert.equal(routeLimit(sendHttp(GATEWAY, snapshot, viaGateway('/api/v1/reviews/0')).outcome), undefined);
  });

  it('resolves a route limit\'s VirtualService in the namespace of the LocalRateLimit', () => {
    // `bookinfo` written in istio-system names istio-system/bookinfo, which routes nothing here.
    const snapshot = mesh(limitYaml('istio-system', 'ingress', `
routes:
- { virtualService: bookinfo, route: productpage, tokenBucket: { maxTokens: 5, tokensPerFill: 1, fillInterval: 1s } }
`));
    assert.equal(routeLimit(sendHttp(GATEWAY, snapshot, viaGateway('/productpage')).outcome), undefined);
  });

  it('limits a delegated route under its merged name, <route>-<delegate route>, of the root VirtualService', () => {
    const snapshot = mesh(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop, namespace: default }
spec:
  hosts: [shop.example.com]
  gateways: [bookinfo-gateway]
  http:
  - name: api
    match: [{ uri: { prefix: /api } }]
    delegate: { name: shop-api }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop-api, namespace: default }
spec:
  http:
  - name: v1
    match: [{ uri: { prefix: /api/v1 } }]
    route: [{ destination: { host: reviews } }]
---
${limitYaml('default', 'shop', `
routes:
- { virtualService: shop, route: api-v1, tokenBucket: { maxTokens: 2, tokensPerFill: 2, fillInterval: 1s } }
`)}`);
    const gateway = { ...GATEWAY, namespace: 'default' };
    assert.deepEqual(routeLimit(sendHttp(gateway, snapshot, { authority: 'shop.example.com', path: '/api/v1/cart', port: 8080 }).outcome), enforced(2, 2, '1s'));
  });

  it('leaves a gateway that no LocalRateLimit selects alone', () => {
    const snapshot = mesh(limitYaml('istio-system', 'ingress', `
selector: { matchLabels: { istio: egressgateway } }
tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillInterval: 1s }
routes:
- { virtualService: default/bookinfo, route: productpage, tokenBucket: { maxTokens: 5, tokensPerFill: 1, fillInterval: 1s } }
`));
    assert.deepEqual(rateLimitConfigs(GATEWAY, snapshot), new Map());
    assert.equal(routeLimit(sendHttp(GATEWAY, snapshot, viaGateway('/productpage')).outcome), undefined);
  });
});

describe('LocalRateLimit on a sidecar', () => {
  const REVIEWS_LIMIT = limitYaml('default', 'reviews', `
selector: { matchLabels: { app: reviews } }
tokenBucket: { maxTokens: 20, tokensPerFill: 20, fillInterval: 1s }
`);

  // One bucket config per inbound HTTP chain: PERMISSIVE (the default) has a mutual TLS one and a plaintext one.
  it('enforces the workload bucket on the inbound HTTP chains only', () => {
    const snapshot = mesh(REVIEWS_LIMIT);
    assert.deepEqual(rateLimitConfigs(REVIEWS, snapshot), new Map([['virtualInbound', [enforced(20, 20, '1s'), enforced(20, 20, '1s')]]]));
    const inbound = listenersFor(REVIEWS, snapshot).find((l) => l.name === 'virtualInbound')!;
    const chain = selectFilterChain(inbound, { address: '10.0.0.2', port: 9080, applicationProtocol: 'http/1.1' });
    const hcm = chain?.filters[0]?.typedConfig as HttpConnectionManager;
    assert.deepEqual(hcm.httpFilters.map((f) => f.name), ['envoy.filters.http.local_ratelimit', 'envoy.filters.http.router']);
  });

  it('does nothing for a workload its selector does not match', () => {
    assert.deepEqual(rateLimitConfigs(PRODUCTPAGE, mesh(REVIEWS_LIMIT)), new Map());
  });

  it('limits a route of the sidecar\'s outbound routing, with the filter disabled at listener level on the outbound listeners', () => {
    const snapshot = mesh(limitYaml('default', 'productpage', `
selector: { matchLabels: { app: productpage } }
routes:
- { virtualService: reviews, route: reviews-v2, tokenBucket: { maxTokens: 3, tokensPerFill: 3, fillInterval: 1s } }
`));
    assert.deepEqual(rateLimitConfigs(PRODUCTPAGE, snapshot), new Map([['0.0.0.0_9080', [LISTENER_ONLY]]]));
    const jason = sendHttp(PRODUCTPAGE, snapshot, { authority: 'reviews:9080', path: '/reviews/0', port: 9080, headers: { 'end-user': 'jason' } });
    assert.equal(jason.outcome.kind === 'forward' ? jason.outcome.route : undefined, 'reviews-v2');
    assert.deepEqual(routeLimit(jason.outcome), enforced(3, 3, '1s'));
    assert.equal(routeLimit(sendHttp(PRODUCTPAGE, snapshot, { authority: 'reviews:9080', path: '/reviews/0', port: 9080 }).outcome), undefined);
    // Another client's sidecar routes by the same VirtualService without the limit.
    assert.equal(routeLimit(sendHttp(REVIEWS, snapshot, { authority: 'reviews:9080', path: '/reviews/0', port: 9080, headers: { 'end-user': 'jason' } }).outcome), undefined);
  });

  it('applies a namespace-wide LocalRateLimit to every workload of the namespace, and a root namespace one to the mesh', () => {
    const wide = mesh(limitYaml('default', 'all', 'tokenBucket: { maxTokens: 7, tokensPerFill: 7, fillInterval: 1s }'));
    assert.deepEqual(rateLimitConfigs(PRODUCTPAGE, wide), new Map([['virtualInbound', [enforced(7, 7, '1s'), enforced(7, 7, '1s')]]]));
    assert.deepEqual(rateLimitConfigs(REVIEWS, wide), new Map([['virtualInbound', [enforced(7, 7, '1s'), enforced(7, 7, '1s')]]]));
    const root = mesh(limitYaml('istio-system', 'mesh', 'tokenBucket: { maxTokens: 8, tokensPerFill: 8, fillInterval: 1s }'));
    assert.deepEqual(rateLimitConfigs(REVIEWS, root), new Map([['virtualInbound', [enforced(8, 8, '1s'), enforced(8, 8, '1s')]]]));
  });

  it('in explicit mode, limits the listeners on the workload\'s ports and routes through the HTTP proxy listener', () => {
    const proxy = { ...PRODUCTPAGE, interceptionMode: 'NONE' as const, appPorts: [{ port: 9080, appPort: 41000 }] };
    const snapshot = mesh(limitYaml('default', 'productpage', `
selector: { matchLabels: { app: productpage } }
tokenBucket: { maxTokens: 20, tokensPerFill: 20, fillInterval: 1s }
routes:
- { virtualService: reviews, route: reviews-default, tokenBucket: { maxTokens: 3, tokensPerFill: 3, fillInterval: 1s } }
`));
    assert.deepEqual(rateLimitConfigs(proxy, snapshot), new Map([
      ['10.0.0.1_9080', [enforced(20, 20, '1s'), enforced(20, 20, '1s')]],
      ['http_proxy', [LISTENER_ONLY]],
      ['http_proxy_tunnel', [LISTENER_ONLY]],
    ]));
  });
});
