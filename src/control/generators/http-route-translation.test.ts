import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtinKinds, formatDiagnostic, parseSources } from '../../config/index.ts';
import { assertValidMessage, type ProtoJson } from '../../xds/index.ts';
import type { CorsPolicy, HTTPFault, Route, RouteConfiguration } from '../../xds/envoy/index.ts';
import type { MeshConfig, ProxyView } from '../model/index.ts';
import { snapshotFromYaml } from '../snapshot/test-support.ts';
import { testProxy } from './cluster-test-support.ts';
import { translateVirtualService, type VirtualServiceInput } from './http-route-translation.ts';
import { routeContext } from './route-context.ts';
import { pickWeightedCluster, simulateRoute, type ForwardOutcome, type RouteOutcome, type SimulatedRequest } from './route-simulation.ts';

const SERVICES = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  selector: { app: reviews }
  ports: [{ name: http, port: 9080 }]
---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: default }
spec:
  selector: { app: ratings }
  ports: [{ name: http, port: 9080 }, { name: http-admin, port: 9090 }]
---
apiVersion: v1
kind: Service
metadata: { name: mirror, namespace: default }
spec:
  selector: { app: mirror }
  ports: [{ name: http, port: 8080 }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: sticky, namespace: default }
spec:
  host: ratings
  trafficPolicy:
    loadBalancer:
      consistentHash: { httpHeaderName: x-user }
`;

const REVIEWS = 'reviews.default.svc.cluster.local';
const RATINGS = 'ratings.default.svc.cluster.local';

/** A VirtualService for `reviews` in `default` with these HTTP rules (YAML, a list). */
function virtualService(http: string, name = 'reviews-vs'): VirtualServiceInput {
  const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: default }
spec:
  hosts: [reviews]
  http:
${http.replace(/^\n/, '').split('\n').map((l) => `  ${l}`).join('\n')}`;
  const parsed = parseSources([{ name: 'vs.yaml', text }], { kinds: builtinKinds() });
  const errors = parsed.diagnostics.filter((d) => d.level === 'Error');
  assert.equal(errors.length, 0, errors.map(formatDiagnostic).join('\n'));
  const resource = parsed.resources[0];
  assert.ok(resource?.kind === 'VirtualService');
  return { name: resource.name, namespace: resource.namespace, spec: resource.object.spec };
}

interface Options {
  readonly port?: number;
  readonly proxy?: Partial<ProxyView>;
  readonly gateways?: readonly string[];
  readonly mesh?: Partial<MeshConfig>;
}

function translate(http: string, options: Options = {}): Route[] {
  const snapshot = snapshotFromYaml(SERVICES, [], { mesh: options.mesh ?? {} });
  const ctx = routeContext(testProxy(options.proxy), snapshot, options.port ?? 9080, new Set(options.gateways ?? ['mesh']));
  const routes = translateVirtualService(virtualService(http), ctx);
  assertValidMessage('envoy.config.route.v3.RouteConfiguration', config(routes) as unknown as ProtoJson);
  return routes;
}

function config(routes: readonly Route[]): RouteConfiguration {
  return { name: 'test', virtualHosts: [{ name: 'reviews', domains: ['*'], routes }] };
}

function send(routes: readonly Route[], request: Partial<SimulatedRequest> = {}): RouteOutcome {
  return simulateRoute(config(routes), { authority: 'reviews:9080', path: '/', ...request });
}

function forwarded(outcome: RouteOutcome): ForwardOutcome {
  assert.equal(outcome.kind, 'forward', `expected the request to be forwarded, got ${JSON.stringify(outcome)}`);
  return outcome as ForwardOutcome;
}

function clusterFor(routes: readonly Route[], request: Partial<SimulatedRequest> = {}): string | undefined {
  const outcome = send(routes, request);
  return outcome.kind === 'forward' ? outcome.cluster : outcome.kind;
}

const TO_V1 = `
  route:
  - destination: { host: reviews, subset: v1 }`;

describe('translateVirtualService: matches', () => {
  it('matches the uri exactly, by prefix and by full regex', () => {
    const routes = translate(`
- match: [{ uri: { exact: /exact } }]${TO_V1}
- match: [{ uri: { prefix: /api } }]
  route: [{ destination: { host: reviews, subset: v2 } }]
- match: [{ uri: { regex: "/items/[0-9]+" } }]
  route: [{ destination: { host: reviews, subset: v3 } }]`);
    assert.deepEqual(routes.map((r) => [r.match.path, r.match.prefix, r.match.safeRegex]), [
      ['/exact', undefined, undefined], [undefined, '/api', undefined], [undefined, undefined, { regex: '/items/[0-9]+' }],
    ]);
    assert.equal(clusterFor(routes, { path: '/exact' }), `outbound|9080|v1|${REVIEWS}`);
    assert.equal(clusterFor(routes, { path: '/exact/more' }), 'no-route');
    assert.equal(clusterFor(routes, { path: '/api/v1?x=1' }), `outbound|9080|v2|${REVIEWS}`);
    assert.equal(clusterFor(routes, { path: '/items/42' }), `outbound|9080|v3|${REVIEWS}`);
    assert.equal(clusterFor(routes, { path: '/items/42/x' }), 'no-route', 'a regex must match the whole path');
  });

  it('makes exact and prefix uri matches case-insensitive with ignoreUriCase', () => {
    const routes = translate(`
- match: [{ uri: { prefix: /API }, ignoreUriCase: true }]${TO_V1}`);
    assert.equal(routes[0]?.match.caseSensitive, false);
    assert.equal(clusterFor(routes, { path: '/api/x' }), `outbound|9080|v1|${REVIEWS}`);
    assert.equal(translate(`
- match: [{ uri: { prefix: /API } }]${TO_V1}`)[0]?.match.caseSensitive, true);
  });

  it('matches headers exactly, by prefix, by regex and by presence, in name order', () => {
    const routes = translate(`
- match:
  - headers:
      x-version: { exact: v1 }
      x-canary: {}
      user-agent: { prefix: Mozilla }
      x-id: { regex: "[a-z]+-[0-9]+" }${TO_V1}`);
    assert.deepEqual(routes[0]?.match.headers, [
      { name: 'user-agent', stringMatch: { prefix: 'Mozilla' } },
      { name: 'x-canary', presentMatch: true },
      { name: 'x-id', stringMatch: { safeRegex: { regex: '[a-z]+-[0-9]+' } } },
      { name: 'x-version', stringMatch: { exact: 'v1' } },
    ]);
    const headers = { 'x-version': 'v1', 'X-Canary': '', 'User-Agent': 'Mozilla/5.0', 'x-id': 'abc-12' };
    assert.equal(clusterFor(routes, { headers }), `outbound|9080|v1|${REVIEWS}`);
    assert.equal(clusterFor(routes, { headers: { ...headers, 'x-id': 'abc-12x' } }), 'no-route');
    const { 'X-Canary': _canary, ...withoutCanary } = headers;
    assert.equal(clusterFor(routes, { headers: withoutCanary }), 'no-route');
  });

  it('excludes requests that have a header listed in withoutHeaders, and admits those lacking it', () => {
    const routes = translate(`
- match: [{ withoutHeaders: { x-debug: { exact: "true" }, x-internal: {} } }]${TO_V1}
- route: [{ destination: { host: reviews, subset: v2 } }]`);
    assert.deepEqual(routes[0]?.match.headers, [
      { name: 'x-debug', stringMatch: { exact: 'true' }, invertMatch: true, treatMissingHeaderAsEmpty: true },
      { name: 'x-internal', presentMatch: true, invertMatch: true },
    ]);
    assert.equal(clusterFor(routes), `outbound|9080|v1|${REVIEWS}`);
    assert.equal(clusterFor(routes, { headers: { 'x-debug': 'false' } }), `outbound|9080|v1|${REVIEWS}`);
    assert.equal(clusterFor(routes, { headers: { 'x-debug': 'true' } }), `outbound|9080|v2|${REVIEWS}`);
    assert.equal(clusterFor(routes, { headers: { 'x-internal': 'yes' } }), `outbound|9080|v2|${REVIEWS}`);
  });

  it('matches query parameters by value, regex and presence; exact "" matches a key given without value', () => {
    const routes = translate(`
- match: [{ queryParams: { version: { exact: v1 } } }]${TO_V1}
- match: [{ queryParams: { id: { regex: "[0-9]+" } } }]
  route: [{ destination: { host: reviews, subset: v2 } }]
- match: [{ queryParams: { debug: { exact: "" } } }]
  route: [{ destination: { host: reviews, subset: v3 } }]`);
    assert.deepEqual(routes[0]?.match.queryParameters, [{ name: 'version', stringMatch: { exact: 'v1' } }]);
    assert.equal(clusterFor(routes, { path: '/?version=v1' }), `outbound|9080|v1|${REVIEWS}`);
    assert.equal(clusterFor(routes, { path: '/?id=42' }), `outbound|9080|v2|${REVIEWS}`);
    assert.equal(clusterFor(routes, { path: '/?id=4x' }), 'no-route');
    assert.equal(clusterFor(routes, { path: '/p?debug' }), `outbound|9080|v3|${REVIEWS}`);
  });

  it('matches method, authority and scheme as the :method, :authority and :scheme headers, after the others', () => {
    const routes = translate(`
- match: [{ method: { exact: POST }, authority: { prefix: reviews }, scheme: { exact: http }, headers: { x-a: { exact: b } } }]${TO_V1}`);
    assert.deepEqual(routes[0]?.match.headers?.map((h) => h.name), ['x-a', ':method', ':authority', ':scheme']);
    assert.equal(clusterFor(routes, { method: 'POST', headers: { 'x-a': 'b' } }), `outbound|9080|v1|${REVIEWS}`);
    assert.equal(clusterFor(routes, { method: 'GET', headers: { 'x-a': 'b' } }), 'no-route');
    assert.equal(clusterFor(routes, { method: 'POST', scheme: 'https', headers: { 'x-a': 'b' } }), 'no-route');
    assert.equal(clusterFor(routes, { method: 'POST', authority: 'ratings', headers: { 'x-a': 'b' } }), 'no-route');
  });

  it('builds a match with a port only into the route configuration of that port', () => {
    const http = `
- match: [{ port: 9080, uri: { prefix: /a } }, { port: 9090, uri: { prefix: /b } }]${TO_V1}`;
    assert.deepEqual(translate(http, { port: 9080 }).map((r) => r.match.prefix), ['/a']);
    assert.deepEqual(translate(http, { port: 9090 }).map((r) => r.match.prefix), ['/b']);
  });

  it('ORs match blocks into one route each, in order, and names them <rule>.<match>', () => {
    const routes = translate(`
- name: api
  match: [{ name: v1, uri: { prefix: /v1 } }, { uri: { prefix: /v2 } }]${TO_V1}`);
    assert.deepEqual(routes.map((r) => r.name), ['api.v1', 'api']);
    assert.equal(clusterFor(routes, { path: '/v2/x' }), `outbound|9080|v1|${REVIEWS}`);
  });

  it('keeps statPrefix as the route\'s stat prefix', () => {
    const routes = translate(`
- match: [{ uri: { prefix: /a }, statPrefix: api }]${TO_V1}`);
    assert.equal(routes[0]?.statPrefix, 'api');
  });

  it('stops at a rule that matches every request, since nothing after it is reachable', () => {
    const routes = translate(`
- route: [{ destination: { host: reviews, subset: v1 } }]
- match: [{ uri: { prefix: /never } }]
  route: [{ destination: { host: reviews, subset: v2 } }]`);
    assert.equal(routes.length, 1);
    assert.equal(clusterFor(routes, { path: '/never' }), `outbound|9080|v1|${REVIEWS}`);
  });

  it('gives a rule to a proxy only when its sourceLabels and sourceNamespace select the proxy', () => {
    const http = `
- match: [{ sourceLabels: { app: productpage }, sourceNamespace: default }]${TO_V1}
- route: [{ destination: { host: reviews, subset: v2 } }]`;
    const selected = translate(http, { proxy: { labels: { app: 'productpage', version: 'v1' } } });
    assert.equal(clusterFor(selected), `outbound|9080|v1|${REVIEWS}`);
    const otherApp = translate(http, { proxy: { labels: { app: 'details' } } });
    assert.equal(clusterFor(otherApp), `outbound|9080|v2|${REVIEWS}`);
    const otherNamespace = translate(http, { proxy: { labels: { app: 'productpage' }, namespace: 'test' } });
    assert.equal(clusterFor(otherNamespace), `outbound|9080|v2|${REVIEWS}`);
  });

  it('applies a match that names gateways only where one of them is being built', () => {
    const http = `
- match: [{ gateways: [istio-system/ingress], uri: { prefix: /edge } }, { gateways: [mesh], uri: { prefix: /mesh } }]${TO_V1}`;
    assert.deepEqual(translate(http).map((r) => r.match.prefix), ['/mesh']);
    assert.deepEqual(translate(http, { gateways: ['istio-system/ingress'] }).map((r) => r.match.prefix), ['/edge']);
  });

  it('matches JWT claims in the authentication filter\'s metadata, as a string or within a list', () => {
    const routes = translate(`
- match: [{ headers: { "@request.auth.claims.groups": { exact: admin } } }]${TO_V1}
- match: [{ headers: { "@request.auth.claims[org][team]": { prefix: core } } }]
  route: [{ destination: { host: reviews, subset: v2 } }]`);
    assert.equal(routes[0]?.match.headers, undefined);
    assert.deepEqual(routes[0]?.match.dynamicMetadata?.[0]?.path, [{ key: 'request.auth.claims' }, { key: 'groups' }]);
    assert.equal(clusterFor(routes, { claims: { groups: ['dev', 'admin'] } }), `outbound|9080|v1|${REVIEWS}`);
    assert.equal(clusterFor(routes, { claims: { groups: 'admin' } }), `outbound|9080|v1|${REVIEWS}`);
    assert.equal(clusterFor(routes, { claims: { org: { team: 'core-infra' } } }), `outbound|9080|v2|${REVIEWS}`);
    assert.equal(clusterFor(routes, {}), 'no-route');
  });
});

describe('translateVirtualService: destinations', () => {
  it('sends to one cluster when the rule has one destination', () => {
    const routes = translate(`
- route: [{ destination: { host: reviews, subset: v1 } }]`);
    assert.equal(routes[0]?.route?.cluster, `outbound|9080|v1|${REVIEWS}`);
    assert.equal(routes[0]?.route?.weightedClusters, undefined);
  });

  it('splits by the weights as given, leaving out destinations of weight 0', () => {
    const routes = translate(`
- route:
  - { destination: { host: reviews, subset: v1 }, weight: 90 }
  - { destination: { host: reviews, subset: v2 }, weight: 10 }
  - { destination: { host: reviews, subset: v3 }, weight: 0 }`);
    const outcome = forwarded(send(routes));
    assert.equal(outcome.cluster, undefined);
    assert.deepEqual(outcome.clusters, [
      { name: `outbound|9080|v1|${REVIEWS}`, weight: 90 },
      { name: `outbound|9080|v2|${REVIEWS}`, weight: 10 },
    ]);
    assert.equal(pickWeightedCluster(outcome.clusters, 89).name, `outbound|9080|v1|${REVIEWS}`);
    assert.equal(pickWeightedCluster(outcome.clusters, 90).name, `outbound|9080|v2|${REVIEWS}`);
  });

  it('routes to a single cluster when only one destination has weight', () => {
    const routes = translate(`
- route:
  - { destination: { host: reviews, subset: v1 }, weight: 0 }
  - { destination: { host: reviews, subset: v2 }, weight: 100 }`);
    assert.equal(routes[0]?.route?.cluster, `outbound|9080|v2|${REVIEWS}`);
  });

  it('takes the destination port, else the service\'s only port, else the port being routed', () => {
    const http = `
- match: [{ uri: { prefix: /admin } }]
  route: [{ destination: { host: ratings, port: { number: 9090 } } }]
- match: [{ uri: { prefix: /ratings } }]
  route: [{ destination: { host: ratings } }]
- route: [{ destination: { host: mirror } }]`;
    const routes = translate(http, { port: 9080 });
    assert.equal(clusterFor(routes, { path: '/admin' }), `outbound|9090||${RATINGS}`);
    assert.equal(clusterFor(routes, { path: '/ratings' }), `outbound|9080||${RATINGS}`);
    assert.equal(clusterFor(routes, { path: '/' }), 'outbound|8080||mirror.default.svc.cluster.local');
  });

  it('keeps a fully qualified destination host as written', () => {
    const routes = translate(`
- route: [{ destination: { host: reviews.prod.svc.cluster.local, port: { number: 80 } } }]`);
    assert.equal(routes[0]?.route?.cluster, 'outbound|80||reviews.prod.svc.cluster.local');
  });

  it('hashes requests as the destination\'s DestinationRule says, and then retries on the same host', () => {
    const routes = translate(`
- route: [{ destination: { host: ratings } }]`);
    assert.deepEqual(routes[0]?.route?.hashPolicy, [{ header: { headerName: 'x-user' } }]);
    assert.equal(routes[0]?.route?.retryPolicy?.retryHostPredicate, undefined);
  });
});

describe('translateVirtualService: redirect and direct response', () => {
  it('redirects: uri replaces the path, authority the host, with the chosen code', () => {
    const routes = translate(`
- match: [{ uri: { exact: /old } }]
  redirect: { uri: /new, authority: new.example.com, redirectCode: 302 }`);
    assert.deepEqual(routes[0]?.redirect, { hostRedirect: 'new.example.com', pathRedirect: '/new', responseCode: 'FOUND' });
    assert.deepEqual(send(routes, { path: '/old?x=1' }), { kind: 'redirect', virtualHost: 'reviews', route: undefined, status: 302, location: 'http://new.example.com/new?x=1' });
  });

  it('redirects with 301 by default, and maps 303, 307 and 308', () => {
    const code = (c: string): unknown => translate(`
- redirect: { uri: /x${c} }`)[0]?.redirect?.responseCode;
    assert.equal(code(''), 'MOVED_PERMANENTLY');
    assert.equal(code(', redirectCode: 303'), 'SEE_OTHER');
    assert.equal(code(', redirectCode: 307'), 'TEMPORARY_REDIRECT');
    assert.equal(code(', redirectCode: 308'), 'PERMANENT_REDIRECT');
  });

  it('redirects to a port and scheme; derivePort FROM_REQUEST_PORT takes the port being routed, leaving out a default port', () => {
    const explicit = translate(`
- redirect: { scheme: https, port: 8443 }`);
    assert.deepEqual(explicit[0]?.redirect, { schemeRedirect: 'https', portRedirect: 8443, responseCode: 'MOVED_PERMANENTLY' });
    assert.equal((send(explicit, { path: '/a' }) as { location: string }).location, 'https://reviews:8443/a');
    assert.equal(translate(`
- redirect: { authority: a.example.com, derivePort: FROM_REQUEST_PORT }`)[0]?.redirect?.portRedirect, 9080);
    assert.equal(translate(`
- redirect: { authority: a.example.com, derivePort: FROM_REQUEST_PORT }`, { port: 80 })[0]?.redirect?.portRedirect, undefined);
    assert.equal(translate(`
- redirect: { authority: a.example.com, derivePort: FROM_PROTOCOL_DEFAULT }`)[0]?.redirect?.portRedirect, undefined);
  });

  it('answers directly with a status and a string or bytes body', () => {
    const routes = translate(`
- match: [{ uri: { exact: /teapot } }]
  directResponse: { status: 418, body: { string: "I'm a teapot" } }
- directResponse: { status: 503, body: { bytes: aGVsbG8= } }`);
    assert.deepEqual(send(routes, { path: '/teapot' }), { kind: 'direct-response', virtualHost: 'reviews', route: undefined, status: 418, body: "I'm a teapot" });
    assert.deepEqual(send(routes, { path: '/x' }), { kind: 'direct-response', virtualHost: 'reviews', route: undefined, status: 503, body: 'hello' });
  });
});

describe('translateVirtualService: rewrite', () => {
  it('replaces only the matched prefix', () => {
    const routes = translate(`
- match: [{ uri: { prefix: /api/v1 } }]
  rewrite: { uri: /v2 }${TO_V1}`);
    assert.equal(routes[0]?.route?.prefixRewrite, '/v2');
    assert.equal(forwarded(send(routes, { path: '/api/v1/books?id=3' })).upstreamPath, '/v2/books?id=3');
  });

  it('replaces the whole path after an exact match', () => {
    const routes = translate(`
- match: [{ uri: { exact: /login } }]
  rewrite: { uri: /auth/login }${TO_V1}`);
    assert.equal(forwarded(send(routes, { path: '/login?next=/' })).upstreamPath, '/auth/login?next=/');
  });

  it('substitutes with uriRegexRewrite', () => {
    const routes = translate(`
- rewrite: { uriRegexRewrite: { match: "^/service/([^/]+)(/.*)$", rewrite: "\\\\2/instance/\\\\1" } }${TO_V1}`);
    assert.deepEqual(routes[0]?.route?.regexRewrite, { pattern: { regex: '^/service/([^/]+)(/.*)$' }, substitution: '\\2/instance/\\1' });
    assert.equal(forwarded(send(routes, { path: '/service/foo/v1/api' })).upstreamPath, '/v1/api/instance/foo');
  });

  it('rewrites the Host with authority', () => {
    const routes = translate(`
- rewrite: { authority: reviews.internal }${TO_V1}`);
    assert.equal(routes[0]?.route?.hostRewriteLiteral, 'reviews.internal');
    assert.equal(forwarded(send(routes)).upstreamAuthority, 'reviews.internal');
  });
});

describe('translateVirtualService: timeout and retries', () => {
  it('disables the route timeout unless the rule sets one, and caps grpc-timeout by it', () => {
    assert.deepEqual([translate(`
- route: [{ destination: { host: reviews } }]`)[0]?.route?.timeout, translate(`
- route: [{ destination: { host: reviews } }]`)[0]?.route?.maxGrpcTimeout], ['0s', '0s']);
    const routes = translate(`
- timeout: 1.5s
  route: [{ destination: { host: reviews } }]`);
    assert.equal(routes[0]?.route?.timeout, '1.5s');
    assert.equal(routes[0]?.route?.maxGrpcTimeout, '1.5s');
  });

  it('retries as Istio does by default: twice, on connect failures, refused streams, unavailable, cancelled and 503, also when a rule sets only attempts', () => {
    assert.deepEqual(translate(`
- route: [{ destination: { host: reviews } }]`)[0]?.route?.retryPolicy, {
      retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
      numRetries: 2,
      retryHostPredicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
      hostSelectionRetryMaxAttempts: 5,
      retriableStatusCodes: [503],
    });
    const attemptsOnly = translate(`
- retries: { attempts: 3 }
  route: [{ destination: { host: reviews } }]`)[0]?.route?.retryPolicy;
    assert.deepEqual([attemptsOnly?.numRetries, attemptsOnly?.retryOn, attemptsOnly?.retriableStatusCodes], [3, 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', [503]]);
  });

  it('translates retries: attempts, perTryTimeout, bare status codes, remote localities, previous hosts, backoff', () => {
    const policy = translate(`
- retries: { attempts: 3, perTryTimeout: 2s, retryOn: "gateway-error,503, 429", retryRemoteLocalities: true, retryIgnorePreviousHosts: false, backoff: 100ms }
  route: [{ destination: { host: reviews } }]`)[0]?.route?.retryPolicy;
    assert.equal(policy?.numRetries, 3);
    assert.equal(policy?.perTryTimeout, '2s');
    assert.equal(policy?.retryOn, 'gateway-error,retriable-status-codes');
    assert.deepEqual(policy?.retriableStatusCodes, [503, 429]);
    assert.equal(policy?.retryPriority?.name, 'envoy.retry_priorities.previous_priorities');
    assert.equal(policy?.retryHostPredicate, undefined);
    assert.deepEqual(policy?.retryBackOff, { baseInterval: '0.1s' });
  });

  it('keeps retriable-status-codes once when retryOn already names it', () => {
    const policy = translate(`
- retries: { attempts: 1, retryOn: "retriable-status-codes,503" }
  route: [{ destination: { host: reviews } }]`)[0]?.route?.retryPolicy;
    assert.equal(policy?.retryOn, 'retriable-status-codes');
  });

  it('turns retries off with attempts 0, and follows the mesh default policy', () => {
    assert.equal(translate(`
- retries: { attempts: 0 }
  route: [{ destination: { host: reviews } }]`)[0]?.route?.retryPolicy, undefined);
    assert.equal(translate(`
- route: [{ destination: { host: reviews } }]`, { mesh: { defaultHttpRetryPolicy: { attempts: 0, retryOn: '' } } })[0]?.route?.retryPolicy, undefined);
    assert.equal(translate(`
- route: [{ destination: { host: reviews } }]`, { mesh: { defaultHttpRetryPolicy: { attempts: 5, retryOn: 'reset' } } })[0]?.route?.retryPolicy?.retryOn, 'reset');
  });
});

describe('translateVirtualService: fault, mirror, CORS, headers', () => {
  const fault = (routes: Route[]): HTTPFault => routes[0]?.typedPerFilterConfig?.['envoy.filters.http.fault'] as HTTPFault;

  it('injects a delay and an abort for the given shares of requests, in millionths', () => {
    const config = fault(translate(`
- fault:
    delay: { fixedDelay: 5s, percentage: { value: 0.1 } }
    abort: { httpStatus: 503, percentage: { value: 50 } }
  route: [{ destination: { host: reviews } }]`));
    assert.deepEqual(config, {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
      delay: { fixedDelay: '5s', percentage: { numerator: 1000, denominator: 'MILLION' } },
      abort: { httpStatus: 503, percentage: { numerator: 500000, denominator: 'MILLION' } },
    });
  });

  it('aborts with a gRPC status, takes the deprecated integer percent, and faults nothing without a share', () => {
    const config = fault(translate(`
- fault:
    delay: { fixedDelay: 100ms, percent: 20 }
    abort: { grpcStatus: UNAVAILABLE }
  route: [{ destination: { host: reviews } }]`));
    assert.deepEqual(config.delay, { fixedDelay: '0.1s', percentage: { numerator: 20, denominator: 'HUNDRED' } });
    assert.deepEqual(config.abort, { grpcStatus: 14, percentage: { numerator: 0, denominator: 'HUNDRED' } });
  });

  it('mirrors to a destination, 100% unless mirrorPercentage (or the deprecated mirrorPercent) says less', () => {
    const policies = (extra: string): unknown => translate(`
- mirror: { host: mirror }${extra}
  route: [{ destination: { host: reviews } }]`)[0]?.route?.requestMirrorPolicies;
    assert.deepEqual(policies(''), [{ cluster: 'outbound|8080||mirror.default.svc.cluster.local', runtimeFraction: { defaultValue: { numerator: 100, denominator: 'HUNDRED' } }, traceSampled: false }]);
    assert.deepEqual(policies('\n  mirrorPercentage: { value: 12.5 }'), [{ cluster: 'outbound|8080||mirror.default.svc.cluster.local', runtimeFraction: { defaultValue: { numerator: 125000, denominator: 'MILLION' } }, traceSampled: false }]);
    assert.deepEqual(policies('\n  mirrorPercent: 30'), [{ cluster: 'outbound|8080||mirror.default.svc.cluster.local', runtimeFraction: { defaultValue: { numerator: 30, denominator: 'HUNDRED' } }, traceSampled: false }]);
    assert.equal(policies('\n  mirrorPercentage: { value: 0 }'), undefined);
  });

  it('mirrors to each of mirrors with its own percentage', () => {
    const policies = translate(`
- mirrors:
  - destination: { host: mirror }
    percentage: { value: 5 }
  - destination: { host: reviews, subset: v2 }
  route: [{ destination: { host: reviews } }]`)[0]?.route?.requestMirrorPolicies;
    assert.deepEqual(policies?.map((p) => [p.cluster, p.runtimeFraction?.defaultValue.numerator]), [
      ['outbound|8080||mirror.default.svc.cluster.local', 50000], [`outbound|9080|v2|${REVIEWS}`, 100],
    ]);
  });

  it('sets the route\'s CORS policy', () => {
    const cors = translate(`
- corsPolicy:
    allowOrigins: [{ exact: https://example.com }, { regex: "https://.*\\\\.example\\\\.org" }]
    allowMethods: [GET, POST]
    allowHeaders: [x-a, x-b]
    exposeHeaders: [x-c]
    maxAge: 24h
    allowCredentials: true
    unmatchedPreflights: IGNORE
  route: [{ destination: { host: reviews } }]`)[0]?.typedPerFilterConfig?.['envoy.filters.http.cors'] as CorsPolicy;
    assert.deepEqual(cors, {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy',
      allowOriginStringMatch: [{ exact: 'https://example.com' }, { safeRegex: { regex: 'https://.*\\.example\\.org' } }],
      allowMethods: 'GET,POST',
      allowHeaders: 'x-a,x-b',
      exposeHeaders: 'x-c',
      maxAge: '86400',
      allowCredentials: true,
      filterEnabled: { defaultValue: { numerator: 100, denominator: 'HUNDRED' } },
      forwardNotMatchingPreflights: false,
    });
  });

  it('takes the deprecated allowOrigin strings as exact origins, * as any, and forwards unmatched preflights by default', () => {
    const cors = translate(`
- corsPolicy: { allowOrigin: [https://a.example.com, "*"] }
  route: [{ destination: { host: reviews } }]`)[0]?.typedPerFilterConfig?.['envoy.filters.http.cors'] as CorsPolicy;
    assert.deepEqual(cors.allowOriginStringMatch, [{ exact: 'https://a.example.com' }, { safeRegex: { regex: '.*' } }]);
    assert.equal(cors.forwardNotMatchingPreflights, true);
  });

  it('sets, adds and removes request and response headers, sorted by name', () => {
    const route = translate(`
- headers:
    request:
      set: { x-b: "2", x-a: "1" }
      add: { x-c: "3" }
      remove: [x-secret]
    response:
      set: { cache-control: no-store }
      remove: [server]
  route: [{ destination: { host: reviews } }]`)[0];
    assert.deepEqual(route?.requestHeadersToAdd, [
      { header: { key: 'x-a', value: '1' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' },
      { header: { key: 'x-b', value: '2' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' },
      { header: { key: 'x-c', value: '3' }, appendAction: 'APPEND_IF_EXISTS_OR_ADD' },
    ]);
    assert.deepEqual(route?.requestHeadersToRemove, ['x-secret']);
    assert.deepEqual(route?.responseHeadersToAdd, [{ header: { key: 'cache-control', value: 'no-store' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }]);
    assert.deepEqual(route?.responseHeadersToRemove, ['server']);
  });

  it('turns a set Host header into a host rewrite', () => {
    const route = translate(`
- headers: { request: { set: { host: internal.example.com } } }
  route: [{ destination: { host: reviews } }]`)[0];
    assert.equal(route?.requestHeadersToAdd, undefined);
    assert.equal(route?.route?.hostRewriteLiteral, 'internal.example.com');
  });

  it('puts header changes of weighted destinations on their cluster entries, and those of a single destination on the route', () => {
    const weighted = translate(`
- route:
  - destination: { host: reviews, subset: v1 }
    weight: 50
    headers: { request: { set: { x-version: v1 } }, response: { add: { x-served-by: v1 } } }
  - destination: { host: reviews, subset: v2 }
    weight: 50`)[0]?.route?.weightedClusters?.clusters;
    assert.deepEqual(weighted?.[0], {
      name: `outbound|9080|v1|${REVIEWS}`, weight: 50,
      requestHeadersToAdd: [{ header: { key: 'x-version', value: 'v1' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
      responseHeadersToAdd: [{ header: { key: 'x-served-by', value: 'v1' }, appendAction: 'APPEND_IF_EXISTS_OR_ADD' }],
    });
    const single = translate(`
- headers: { request: { set: { x-route: r } } }
  route:
  - destination: { host: reviews }
    headers: { request: { set: { x-dest: d } } }`)[0];
    assert.deepEqual(single?.requestHeadersToAdd?.map((h) => h.header.key), ['x-route', 'x-dest']);
  });

  it('names the trace operation <host>:<port><path> and records the VirtualService in the route metadata', () => {
    const routes = translate(`
- match: [{ uri: { prefix: /api } }]${TO_V1}
- route:
  - { destination: { host: reviews, subset: v1 }, weight: 50 }
  - { destination: { host: reviews, subset: v2 }, weight: 50 }`);
    assert.deepEqual(routes.map((r) => r.decorator?.operation), [`${REVIEWS}:9080/api*`, 'reviews-vs:9080/*']);
    assert.deepEqual(routes[0]?.metadata, { filterMetadata: { istio: { config: '/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews-vs' } } });
  });
});

describe('translateVirtualService for proxyless gRPC', () => {
  const grpc = { proxy: { generator: 'grpc' as const } };

  it('leaves out what gRPC clients cannot take: redirects, direct responses, query matches, faults, CORS, header changes', () => {
    const routes = translate(`
- match: [{ uri: { prefix: /redirect } }]
  redirect: { uri: /elsewhere }
- match: [{ uri: { prefix: /direct } }]
  directResponse: { status: 503 }
- match: [{ queryParams: { a: { exact: b } } }]${TO_V1}
- match: [{ headers: { x-user: { exact: jason } } }]
  fault: { abort: { httpStatus: 500, percentage: { value: 100 } } }
  corsPolicy: { allowOrigins: [{ exact: a }] }
  headers: { request: { set: { x-a: b } } }
  route: [{ destination: { host: reviews, subset: v2 } }]`, grpc);
    assert.equal(routes.length, 1);
    const route = routes[0]!;
    assert.equal(route.typedPerFilterConfig, undefined);
    assert.equal(route.requestHeadersToAdd, undefined);
    assert.equal(route.decorator, undefined);
    assert.equal(route.route?.cluster, `outbound|9080|v2|${REVIEWS}`);
  });

  it('gives the timeout as the max stream duration, which gRPC clients read', () => {
    const routes = translate(`
- timeout: 3s
  route: [{ destination: { host: reviews } }]`, grpc);
    assert.deepEqual(routes[0]?.route?.maxStreamDuration, { maxStreamDuration: '3s' });
    assert.equal(routes[0]?.route?.maxGrpcTimeout, undefined);
  });
});
