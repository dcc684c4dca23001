import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { Logger } from '../../../core/index.ts';
import { CORS_POLICY_TYPE, HTTP_FILTER } from '../../../xds/envoy/index.ts';
import type { HttpExchange, HttpResponse } from '../../http/exchange.ts';
import type { Headers } from '../../http/headers.ts';
import { NO_HEADER_MUTATION } from '../../route/index.ts';
import type { RouteEntry } from '../../route/route-entry.ts';
import { nullStats } from '../../upstream/pools/pool-test-support.ts';
import { CorsFilterFactory } from './cors-filter.ts';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const factory = new CorsFilterFactory();

function policy(config: Record<string, unknown>): unknown {
  const parsed = factory.parsePerRoute({ '@type': CORS_POLICY_TYPE, ...config });
  if (!parsed.ok) assert.fail(parsed.error);
  return parsed.value;
}

function route(perRoute: unknown): RouteEntry {
  return {
    name: 'r',
    virtualHostName: 'vh',
    action: { kind: 'direct', status: 200 },
    requestHeaders: NO_HEADER_MUTATION,
    responseHeaders: NO_HEADER_MUTATION,
    perFilterConfig: new Map(perRoute === undefined ? [] : [[HTTP_FILTER.cors, perRoute]]),
  };
}

function exchange(method: string, headers: Headers, perRoute: unknown): HttpExchange {
  return {
    request: { method, path: '/', authority: 'api.example.com', scheme: 'https', headers, protocol: 'HTTP/1.1' },
    body: Readable.from([]),
    downstream: { connectionId: 1, remoteAddress: '10.0.0.1', remotePort: 1234, localAddress: '10.0.0.2', localPort: 443 },
    info: { requestId: 'x', startTime: 0, responseFlags: new Set(), attemptCount: 0, bytesReceived: 0, bytesSent: 0 },
    metadata: new Map(),
    signal: new AbortController().signal,
    route: route(perRoute),
    clearRouteCache() {},
  };
}

/** Runs the filter; `upstream` counts how often the request went on. */
async function run(method: string, headers: Headers, perRoute: unknown, random = 0): Promise<{ response: HttpResponse; forwarded: boolean }> {
  const filter = factory.create({}, { clusters: { get: () => undefined, names: () => [] }, stats: nullStats, httpStats: nullStats, clock: { now: () => 0 }, random: () => random, logger: silent });
  let forwarded = false;
  const response = await filter.handle(exchange(method, headers, perRoute), () => {
    forwarded = true;
    return Promise.resolve({ status: 200, headers: { 'content-type': 'text/plain' }, body: Buffer.from('app') });
  });
  return { response, forwarded };
}

const POLICY = {
  allowOriginStringMatch: [{ exact: 'https://shop.example.com' }, { suffix: '.partner.example' }, { safeRegex: { regex: 'https://dev-[0-9]+\\.example\\.com' } }],
  allowMethods: 'GET,POST',
  allowHeaders: 'authorization,content-type',
  exposeHeaders: 'x-request-id',
  maxAge: '86400',
  allowCredentials: true,
  filterEnabled: { defaultValue: { numerator: 100, denominator: 'HUNDRED' } },
};

describe('CorsFilterFactory', () => {
  it('answers a preflight from an admitted origin itself', async () => {
    const { response, forwarded } = await run('OPTIONS', { origin: 'https://shop.example.com', 'access-control-request-method': 'POST' }, policy(POLICY));
    assert.equal(forwarded, false);
    assert.equal(response.status, 200);
    assert.deepEqual(response.headers, {
      'content-length': '0',
      'access-control-allow-origin': 'https://shop.example.com',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET,POST',
      'access-control-allow-headers': 'authorization,content-type',
      'access-control-max-age': '86400',
    });
  });

  it('matches origins by prefix, suffix, contains and a full-string regex', async () => {
    const compiled = policy({ ...POLICY, allowOriginStringMatch: [{ prefix: 'https://a.' }, { contains: 'mid' }, { safeRegex: { regex: 'https://r[0-9]\\.io' } }, { suffix: '.partner.example', ignoreCase: true }] });
    for (const origin of ['https://a.example', 'https://amidb.io', 'https://r7.io', 'https://X.PARTNER.EXAMPLE']) {
      const { forwarded } = await run('OPTIONS', { origin, 'access-control-request-method': 'GET' }, compiled);
      assert.equal(forwarded, false, origin);
    }
    const { forwarded } = await run('OPTIONS', { origin: 'https://r7.io.evil', 'access-control-request-method': 'GET' }, compiled);
    assert.equal(forwarded, true, 'a regex must match the whole origin');
  });

  it('echoes the requested method and headers when the policy allows *', async () => {
    const { response } = await run('OPTIONS', {
      origin: 'https://shop.example.com', 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'x-custom',
    }, policy({ ...POLICY, allowMethods: '*', allowHeaders: '*' }));
    assert.equal(response.headers['access-control-allow-methods'], 'DELETE');
    assert.equal(response.headers['access-control-allow-headers'], 'x-custom');
  });

  it('adds Access-Control-Allow-Origin, credentials and exposed headers to a simple request\'s response', async () => {
    const { response, forwarded } = await run('GET', { origin: 'https://eu.partner.example' }, policy(POLICY));
    assert.equal(forwarded, true);
    assert.equal(response.headers['access-control-allow-origin'], 'https://eu.partner.example');
    assert.equal(response.headers['access-control-allow-credentials'], 'true');
    assert.equal(response.headers['access-control-expose-headers'], 'x-request-id');
  });

  it('passes a request from another origin through without CORS headers', async () => {
    const { response, forwarded } = await run('GET', { origin: 'https://evil.example' }, policy(POLICY));
    assert.equal(forwarded, true);
    assert.deepEqual(response.headers, { 'content-type': 'text/plain' });
  });

  it('forwards a preflight from another origin to the application by default', async () => {
    const { forwarded } = await run('OPTIONS', { origin: 'https://evil.example', 'access-control-request-method': 'POST' }, policy(POLICY));
    assert.equal(forwarded, true);
  });

  it('answers a preflight from another origin without Allow-Origin when forwardNotMatchingPreflights is false', async () => {
    const { response, forwarded } = await run('OPTIONS', { origin: 'https://evil.example', 'access-control-request-method': 'POST' }, policy({ ...POLICY, forwardNotMatchingPreflights: false }));
    assert.equal(forwarded, false);
    assert.equal(response.status, 200);
    assert.equal(response.headers['access-control-allow-origin'], undefined);
    assert.equal(response.headers['access-control-allow-methods'], 'GET,POST');
  });

  it('treats OPTIONS without Access-Control-Request-Method, and requests without Origin, as ordinary requests', async () => {
    assert.equal((await run('OPTIONS', { origin: 'https://shop.example.com' }, policy(POLICY))).forwarded, true);
    const { response } = await run('GET', {}, policy(POLICY));
    assert.equal(response.headers['access-control-allow-origin'], undefined);
  });

  it('admits any origin through a match-anything regex (Istio\'s "*")', async () => {
    const { response } = await run('GET', { origin: 'https://anything.example' }, policy({ allowOriginStringMatch: [{ safeRegex: { regex: '.*' } }] }));
    assert.equal(response.headers['access-control-allow-origin'], 'https://anything.example');
  });

  it('does nothing on routes without a policy, or when filterEnabled misses', async () => {
    assert.equal((await run('OPTIONS', { origin: 'https://shop.example.com', 'access-control-request-method': 'GET' }, undefined)).forwarded, true);
    const half = policy({ ...POLICY, filterEnabled: { defaultValue: { numerator: 50, denominator: 'HUNDRED' } } });
    assert.equal((await run('OPTIONS', { origin: 'https://shop.example.com', 'access-control-request-method': 'GET' }, half, 0.7)).forwarded, true);
    assert.equal((await run('OPTIONS', { origin: 'https://shop.example.com', 'access-control-request-method': 'GET' }, half, 0.2)).forwarded, false);
  });

  it('rejects a policy with unknown fields, bad types, two specifiers in a matcher or a non-RE2 regex', () => {
    const result = factory.parsePerRoute({
      '@type': CORS_POLICY_TYPE,
      allowOrigin: ['*'],
      allowCredentials: 'yes',
      maxAge: '1d',
      allowOriginStringMatch: [{ exact: 'a', prefix: 'b' }, { safeRegex: { regex: '(?<=x)y' } }],
    });
    assert.equal(result.ok, false);
    const lines = result.ok ? [] : result.error.split('\n');
    assert.equal(lines[0], 'allowOrigin: is not a CorsPolicy field');
    assert.equal(lines[1], 'allowOriginStringMatch[0]: sets exact and prefix; only one may be set');
    assert.match(lines[2]!, /^allowOriginStringMatch\[1\]\.safeRegex\.regex: "\(\?<=x\)y" is not an RE2 regular expression/);
    assert.equal(lines[3], 'maxAge: "1d" is not a number of seconds');
    assert.equal(lines[4], 'allowCredentials: must be true or false');
  });

  it('accepts the Cors filter config only without settings', () => {
    assert.equal(factory.parse({ '@type': factory.typeUrl }).ok, true);
    assert.deepEqual(factory.parse({ '@type': factory.typeUrl, allowOrigin: 'x' }), { ok: false, error: 'allowOrigin: the Cors filter takes no settings (CORS policies are set per route)' });
  });
});
