import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { HttpExchange, HttpFilter, HttpResponse, RequestHead } from '../../http/exchange.ts';
import { NO_HEADER_MUTATION } from '../../route/index.ts';
import type { RouteEntry } from '../../route/route-entry.ts';
import type { ClusterManager } from '../../upstream/cluster.ts';
import { clusterWith, hostAt, Limits, nullStats, realTimers } from '../../upstream/pools/pool-test-support.ts';
import { UpstreamPools } from '../../upstream/pools/index.ts';
import { RecordingStats } from '../../upstream/upstream-test-support.ts';
import { EXT_AUTHZ_FILTER, EXT_AUTHZ_TYPE } from './ext-authz-config.ts';
import { ExtAuthzFilterFactory } from './ext-authz-filter.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** What the authorizer was sent. */
interface CheckSeen {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** How the authorizer answers a check; never ending the response leaves the check to time out. */
type Answer = (check: CheckSeen, res: http.ServerResponse) => void;

/** Istio's sample ext-authz server: allows `x-ext-authz: allow`, denies the rest with 403 and its explanation. */
const istioSample: Answer = (check, res) => {
  if (check.headers['x-ext-authz'] === 'allow') {
    res.writeHead(200, { 'x-ext-authz-check-result': 'allowed', 'x-ext-authz-additional-header-override': 'from-authz', 'x-user': 'alice' }).end();
    return;
  }
  res.writeHead(403, { 'x-ext-authz-check-result': 'denied', 'content-type': 'text/plain' })
    .end(`denied by ext_authz for not found header \`x-ext-authz: allow\` in the request`);
};

let server: http.Server;
let port = 0;
let answer: Answer = istioSample;
const checks: CheckSeen[] = [];
const pools = new UpstreamPools({ timers: realTimers, stats: nullStats });

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const check = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      checks.push(check);
      answer(check, res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  pools.close();
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

function clusters(): ClusterManager {
  const cluster = clusterWith(new Limits(), { name: 'outbound|8000||ext-authz.foo.svc.cluster.local', picker: () => ({ pick: () => hostAt(port) }) });
  return { get: (name) => (name === cluster.name ? cluster : undefined), names: () => [cluster.name] };
}

/** The HTTP provider config Istio generates for an `envoyExtAuthzHttp` extension provider. */
function istioProvider(more: Record<string, unknown> = {}, service: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    '@type': EXT_AUTHZ_TYPE,
    httpService: {
      serverUri: { uri: 'http://ext-authz.foo.svc.cluster.local', cluster: 'outbound|8000||ext-authz.foo.svc.cluster.local', timeout: '2s' },
      pathPrefix: '/check',
      authorizationRequest: { allowedHeaders: { patterns: [{ exact: 'x-ext-authz', ignoreCase: true }] } },
      authorizationResponse: {
        allowedUpstreamHeaders: { patterns: [{ exact: 'x-ext-authz-additional-header-override', ignoreCase: true }, { exact: 'x-user' }] },
        allowedClientHeadersOnSuccess: { patterns: [{ exact: 'x-ext-authz-check-result' }] },
        allowedClientHeaders: { patterns: [{ exact: 'x-ext-authz-check-result' }] },
      },
      ...service,
    },
    transportApiVersion: 'V3',
    ...more,
  };
}

function setup(config: Record<string, unknown>, manager: ClusterManager = clusters()): { filter: HttpFilter; stats: RecordingStats } {
  const factory = new ExtAuthzFilterFactory({ pools, timers: realTimers });
  const parsed = factory.parse(config);
  if (!parsed.ok) assert.fail(parsed.error);
  const stats = new RecordingStats();
  const filter = factory.create(parsed.value, {
    clusters: manager, stats, httpStats: stats.scope('http.inbound'), clock: { now: () => Date.now() }, random: () => 0, logger: silent,
  });
  return { filter, stats };
}

interface Outcome {
  readonly response: HttpResponse;
  /** The request as it went on, with the body the upstream read; undefined when the filter answered. */
  readonly forwarded: (RequestHead & { readonly bodyText: string }) | undefined;
  readonly exchange: HttpExchange;
}

function exchange(request: Partial<RequestHead>, body: Readable, route?: RouteEntry): HttpExchange {
  return {
    request: { method: 'GET', path: '/headers', authority: 'httpbin.foo:8000', scheme: 'http', headers: {}, protocol: 'HTTP/1.1', ...request },
    body,
    downstream: { connectionId: 1, remoteAddress: '127.0.0.1', remotePort: 40000, localAddress: '127.0.0.1', localPort: 15006 },
    info: { requestId: 'req-1', startTime: 0, responseFlags: new Set(), attemptCount: 0, bytesReceived: 0, bytesSent: 0 },
    metadata: new Map(),
    signal: new AbortController().signal,
    route,
    clearRouteCache() {},
  };
}

/** Runs a request through the filter; the rest of the chain reads the body and answers 200. */
async function send(filter: HttpFilter, request: Partial<RequestHead> = {}, options: { body?: string; route?: RouteEntry; metadata?: Record<string, Record<string, unknown>> } = {}): Promise<Outcome> {
  const body = options.body === undefined ? Readable.from([]) : Readable.from([Buffer.from(options.body)], { objectMode: false });
  const ex = exchange(request, body, options.route);
  for (const [namespace, values] of Object.entries(options.metadata ?? {})) ex.metadata.set(namespace, values);
  let forwarded: Outcome['forwarded'];
  const response = await filter.handle(ex, async () => {
    let text = '';
    for await (const chunk of ex.body) text += (chunk as Buffer).toString();
    forwarded = { ...ex.request, headers: { ...ex.request.headers }, bodyText: text };
    return { status: 200, headers: { 'x-upstream': 'yes' }, body: Buffer.from('upstream') };
  });
  return { response, forwarded, exchange: ex };
}

function bodyText(response: HttpResponse): string {
  return Buffer.isBuffer(response.body) ? response.body.toString() : '';
}

function parseError(config: Record<string, unknown>): string {
  const parsed = new ExtAuthzFilterFactory({ pools, timers: realTimers }).parse(config);
  assert.equal(parsed.ok, false, 'the config should be refused');
  return parsed.ok ? '' : parsed.error;
}

describe('ExtAuthzFilterFactory config', () => {
  it('refuses a gRPC service, naming the field', () => {
    assert.match(parseError({ grpcService: { envoyGrpc: { clusterName: 'authz' } } }), /^grpcService: is not supported by Weft: Weft calls HTTP authorization services only/m);
  });

  it('names the field of each problem', () => {
    const error = parseError(istioProvider({ statusOnError: { code: 'Teapot' }, withRequestBody: { maxRequestBytes: 0 }, failureModeAlow: true }, {
      serverUri: { uri: 'http://authz', cluster: 'c' },
      authorizationRequest: { allowedHeaders: { patterns: [{ exact: 'a', prefix: 'b' }] }, headersToAdd: [{ key: 'content-length', value: '1' }] },
    }));
    for (const expected of [
      'httpService.serverUri.timeout: is required',
      'httpService.authorizationRequest.allowedHeaders.patterns[0]: sets exact and prefix; only one may be set',
      'httpService.authorizationRequest.headersToAdd[0].key: "content-length" is not a header a check request may carry',
      'statusOnError.code: "Teapot" is not an HTTP status',
      'withRequestBody.maxRequestBytes: 0 is not a whole number from 1',
      'failureModeAlow: is not a field of ExtAuthz; did you mean failureModeAllow?',
    ]) assert.ok(error.includes(expected), `expected "${expected}" in:\n${error}`);
  });

  it('checks a route\'s ExtAuthzPerRoute', () => {
    const factory = new ExtAuthzFilterFactory({ pools, timers: realTimers });
    assert.equal(factory.parsePerRoute({ disabled: true }).ok, true);
    assert.equal(factory.parsePerRoute({ checkSettings: { contextExtensions: { a: 'b' }, disableRequestBodyBuffering: true } }).ok, true);
    const both = factory.parsePerRoute({ disabled: true, checkSettings: {} });
    assert.ok(!both.ok && both.error.includes('sets disabled and checkSettings'));
  });
});

describe('ExtAuthzFilterFactory against an HTTP authorizer', () => {
  it('lets an allowed request through with the authorizer\'s headers, and checks it with method, prefixed path and allowed headers only', async () => {
    answer = istioSample;
    checks.length = 0;
    const { filter, stats } = setup(istioProvider());
    const { response, forwarded } = await send(filter, {
      method: 'DELETE', path: '/status/200?x=1',
      headers: { 'x-ext-authz': 'allow', authorization: 'Bearer t', 'x-secret': 'no', 'x-ext-authz-additional-header-override': 'from-client' },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers['x-ext-authz-check-result'], 'allowed', 'allowedClientHeadersOnSuccess');
    assert.equal(response.headers['x-upstream'], 'yes');
    assert.equal(forwarded?.headers['x-ext-authz-additional-header-override'], 'from-authz', 'allowedUpstreamHeaders replaces the client\'s');
    assert.equal(forwarded?.headers['x-user'], 'alice');
    const check = checks[0]!;
    assert.equal(check.method, 'DELETE');
    assert.equal(check.url, '/check/status/200?x=1');
    assert.equal(check.headers['host'], 'httpbin.foo:8000');
    assert.equal(check.headers['authorization'], 'Bearer t');
    assert.equal(check.headers['x-ext-authz'], 'allow');
    assert.equal(check.headers['x-secret'], undefined);
    assert.equal(check.headers['content-length'], '0');
    assert.equal(stats.get('http.inbound.ext_authz.ok'), 1);
  });

  it('denies with the authorizer\'s status, body and allowed client headers, flag UAEX', async () => {
    answer = istioSample;
    const { filter, stats } = setup(istioProvider());
    const { response, forwarded, exchange: ex } = await send(filter, { headers: { 'x-ext-authz': 'deny' } });
    assert.equal(forwarded, undefined);
    assert.equal(response.status, 403);
    assert.equal(bodyText(response), 'denied by ext_authz for not found header `x-ext-authz: allow` in the request');
    assert.equal(response.headers['x-ext-authz-check-result'], 'denied');
    assert.equal(response.headers['content-type'], 'text/plain');
    assert.deepEqual([...ex.info.responseFlags], ['UAEX']);
    assert.equal(ex.info.responseCodeDetails, 'ext_authz_denied');
    assert.equal(stats.get('http.inbound.ext_authz.denied'), 1);
  });

  it('passes every header of a denial but host when allowedClientHeaders is unset', async () => {
    answer = (_check, res) => res.writeHead(302, { location: 'https://login.example/', 'x-other': '1' }).end();
    const { filter } = setup(istioProvider({}, { authorizationResponse: {} }));
    const { response } = await send(filter);
    assert.equal(response.status, 302);
    assert.equal(response.headers['location'], 'https://login.example/');
    assert.equal(response.headers['x-other'], '1');
  });

  it('answers 403 (or statusOnError) when the authorizer does not answer in time, or answers 5xx', async () => {
    answer = () => {};
    const slow = setup(istioProvider({}, { serverUri: { uri: 'http://authz', cluster: 'outbound|8000||ext-authz.foo.svc.cluster.local', timeout: '0.1s' } }));
    const { response, forwarded, exchange: ex } = await send(slow.filter, { headers: { 'x-ext-authz': 'allow' } });
    assert.equal(forwarded, undefined);
    assert.equal(response.status, 403);
    assert.equal(bodyText(response), '');
    assert.equal(ex.info.responseCodeDetails, 'ext_authz_error');
    assert.deepEqual([...ex.info.responseFlags], ['UAEX']);
    assert.equal(slow.stats.get('http.inbound.ext_authz.error'), 1);

    answer = (_check, res) => res.writeHead(500).end('boom');
    const failing = setup(istioProvider({ statusOnError: { code: 'ServiceUnavailable' } }));
    assert.equal((await send(failing.filter)).response.status, 503);
  });

  it('lets requests through on error with failureModeAllow, marked when asked', async () => {
    answer = (_check, res) => res.writeHead(503).end();
    const { filter, stats } = setup(istioProvider({ failureModeAllow: true, failureModeAllowHeaderAdd: true }));
    const { response, forwarded } = await send(filter);
    assert.equal(response.status, 200);
    assert.equal(forwarded?.headers['x-envoy-auth-failure-mode-allowed'], 'true');
    assert.equal(stats.get('http.inbound.ext_authz.failure_mode_allowed'), 1);
  });

  it('answers statusOnError when the cluster is unknown', async () => {
    const { filter } = setup(istioProvider({ statusOnError: { code: 401 } }), { get: () => undefined, names: () => [] });
    assert.equal((await send(filter)).response.status, 401);
  });

  it('checks only the requests whose metadata matches filterEnabledMetadata, as Istio\'s CUSTOM action sets it', async () => {
    answer = istioSample;
    checks.length = 0;
    const { filter, stats } = setup(istioProvider({
      filterEnabledMetadata: { filter: 'envoy.filters.http.rbac', path: [{ key: 'istio_ext_authz_shadow_effective_policy_id' }], value: { stringMatch: { prefix: 'istio-ext-authz' } } },
    }));
    const skipped = await send(filter, { headers: { 'x-ext-authz': 'deny' } });
    assert.equal(skipped.response.status, 200);
    assert.equal(checks.length, 0);
    assert.equal(stats.get('http.inbound.ext_authz.disabled'), 1);
    const checked = await send(filter, { headers: { 'x-ext-authz': 'deny' } }, {
      metadata: { 'envoy.filters.http.rbac': { istio_ext_authz_shadow_effective_policy_id: 'istio-ext-authz-ns[foo]-policy[ext-authz]-rule[0]' } },
    });
    assert.equal(checked.response.status, 403);
    assert.equal(checks.length, 1);
  });

  it('sends the body with withRequestBody, and the upstream still gets all of it', async () => {
    checks.length = 0;
    answer = (_check, res) => res.writeHead(200).end();
    const { filter } = setup(istioProvider({ withRequestBody: { maxRequestBytes: 5, allowPartialMessage: true } }, {
      authorizationRequest: { allowedHeaders: { patterns: [{ exact: 'x-envoy-auth-partial-body' }] } },
    }));
    const whole = await send(filter, { method: 'POST' }, { body: 'abc' });
    assert.equal(checks[0]?.body, 'abc');
    assert.equal(checks[0]?.headers['content-length'], '3');
    assert.equal(checks[0]?.headers['x-envoy-auth-partial-body'], 'false');
    assert.equal(whole.forwarded?.bodyText, 'abc');
    const long = await send(filter, { method: 'POST' }, { body: 'abcdefghij' });
    assert.equal(checks[1]?.body, 'abcde');
    assert.equal(checks[1]?.headers['x-envoy-auth-partial-body'], 'true');
    assert.equal(long.forwarded?.bodyText, 'abcdefghij');
  });

  it('answers 413 to a body over maxRequestBytes without allowPartialMessage', async () => {
    checks.length = 0;
    const { filter } = setup(istioProvider({ withRequestBody: { maxRequestBytes: 4 } }));
    const { response } = await send(filter, { method: 'POST' }, { body: 'too long' });
    assert.equal(response.status, 413);
    assert.equal(checks.length, 0);
  });

  it('skips routes whose ExtAuthzPerRoute disables it', async () => {
    checks.length = 0;
    const factory = new ExtAuthzFilterFactory({ pools, timers: realTimers });
    const perRoute = factory.parsePerRoute({ disabled: true });
    if (!perRoute.ok) assert.fail(perRoute.error);
    const route: RouteEntry = {
      name: 'r', virtualHostName: 'vh', action: { kind: 'direct', status: 200 }, requestHeaders: NO_HEADER_MUTATION, responseHeaders: NO_HEADER_MUTATION,
      perFilterConfig: new Map([[EXT_AUTHZ_FILTER, perRoute.value]]),
    };
    const { filter } = setup(istioProvider());
    assert.equal((await send(filter, { headers: { 'x-ext-authz': 'deny' } }, { route })).response.status, 200);
    assert.equal(checks.length, 0);
  });
});
