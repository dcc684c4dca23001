import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpExchange, HttpFilter, HttpResponse, RequestHead } from '../../http/exchange.ts';
import { FakeTimers, RecordingStats } from '../../upstream/upstream-test-support.ts';
import { JwtAuthnFilterFactory } from './jwt-authn-filter.ts';
import { JWT_AUTHN_FILTER, JWT_AUTHN_TYPE } from './jwt-authn-config.ts';
import type { FetchJwks } from './jwks-source.ts';
import { bodyText, exchange, jwksOf, NOW_SECONDS, RecordingUpstream, routeWith, TestKey } from './jwt-test-support.ts';

const ISSUER = 'testing@secure.istio.io';
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const rsa = new TestKey('RS256', 'rsa-1');
/** Another key under the same kid: its signatures do not verify with rsa's JWK. */
const impostor = new TestKey('RS256', 'rsa-1');

interface Setup {
  readonly filter: HttpFilter;
  readonly stats: RecordingStats;
  readonly clock: FakeTimers;
}

function setup(config: Record<string, unknown>, fetch: FetchJwks = globalThis.fetch): Setup {
  const clock = new FakeTimers();
  clock.advance(NOW_SECONDS * 1000);
  const factory = new JwtAuthnFilterFactory({ fetch, timers: clock });
  const parsed = factory.parse({ '@type': JWT_AUTHN_TYPE, ...config });
  if (!parsed.ok) assert.fail(parsed.error);
  const stats = new RecordingStats();
  const filter = factory.create(parsed.value, {
    clusters: { get: () => undefined, names: () => [] }, stats, httpStats: stats.scope('http.inbound'), clock, random: () => 0, logger: silent,
  });
  return { filter, stats, clock };
}

/** What Istio generates for a RequestAuthentication with these jwtRules: one provider each, any of them or no token. */
function istio(...providers: Record<string, unknown>[]): Record<string, unknown> {
  return {
    providers: Object.fromEntries(providers.map((p, i) => [`origins-${i}`, p])),
    rules: [{ match: { prefix: '/' }, requires: { requiresAny: { requirements: [...providers.map((_, i) => ({ providerName: `origins-${i}` })), { allowMissing: {} }] } } }],
    bypassCorsPreflight: true,
  };
}

function provider(more: Record<string, unknown> = {}, key: TestKey = rsa): Record<string, unknown> {
  return { issuer: ISSUER, localJwks: { inlineString: jwksOf(key) }, payloadInMetadata: ISSUER, ...more };
}

function claims(more: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: ISSUER, sub: ISSUER, exp: NOW_SECONDS + 3600, iat: NOW_SECONDS, ...more };
}

interface Outcome {
  readonly response: HttpResponse;
  /** The request as it went upstream; undefined when the filter answered. */
  readonly forwarded: RequestHead | undefined;
  readonly exchange: HttpExchange;
}

async function send(filter: HttpFilter, request: Partial<RequestHead> = {}, perRoute?: ReadonlyMap<string, unknown>): Promise<Outcome> {
  const ex = exchange(request, perRoute === undefined ? undefined : routeWith(perRoute));
  const upstream = new RecordingUpstream();
  const response = await filter.handle(ex, upstream.next(ex));
  return { response, forwarded: upstream.seen[0], exchange: ex };
}

function bearer(token: string): Partial<RequestHead> {
  return { headers: { authorization: `Bearer ${token}` } };
}

function parseErrors(config: Record<string, unknown>): string {
  const parsed = new JwtAuthnFilterFactory({ fetch: globalThis.fetch, timers: new FakeTimers() }).parse(config);
  assert.equal(parsed.ok, false, 'the config should be refused');
  return parsed.ok ? '' : parsed.error;
}

describe('JwtAuthnFilterFactory config', () => {
  it('names the field of each problem', () => {
    const error = parseErrors({
      providers: {
        a: { issuer: 'x', localJwks: { inlineString: '{"keys":[]}' }, fromHeader: [] },
        b: { issuer: 'y' },
        c: { remoteJwks: { httpUri: { uri: 'ftp://keys', cluster: '' } }, clockSkewSeconds: -1 },
      },
      rules: [{ match: { prefix: '/' }, requires: { providerName: 'missing' } }, { requires: { requiresAny: { requirements: [{ providerName: 'a' }] } } }],
    });
    for (const expected of [
      'providers.a.localJwks.inlineString: Jwks doesn\'t have any valid public key',
      'providers.a.fromHeader: is not a field of JwtProvider; did you mean fromHeaders?',
      'providers.b: needs one of localJwks or remoteJwks',
      'providers.c.remoteJwks.httpUri.uri: "ftp://keys" is not an http or https URI',
      'providers.c.remoteJwks.httpUri.cluster: is required',
      'providers.c.remoteJwks.httpUri.timeout: is required',
      'providers.c.clockSkewSeconds: -1 is not a whole number',
      'rules[0].requires.providerName: Required provider [\'missing\'] is not configured.',
      'rules[1].match: is required',
      'rules[1].requires.requiresAny.requirements: needs at least 2 entries',
    ]) assert.ok(error.includes(expected), `expected "${expected}" in:\n${error}`);
  });

  it('refuses a rule naming a requirement requirementMap lacks, and what Weft does not support', () => {
    const error = parseErrors({
      providers: { a: provider({ subjects: { exact: 'x' } }) },
      requirementMap: { one: { providerName: 'a' } },
      rules: [{ match: { path: '/x' }, requirementName: 'two' }],
      filterStateRules: { name: 'f' },
    });
    assert.match(error, /rules\[0\]\.requirementName: Wrong requirement_name: two\. It should be one of \[one\]/);
    assert.match(error, /providers\.a\.subjects: is not supported by Weft/);
    assert.match(error, /filterStateRules: is not supported by Weft/);
  });

  it('checks a route\'s PerRouteConfig', () => {
    const factory = new JwtAuthnFilterFactory({ fetch: globalThis.fetch, timers: new FakeTimers() });
    assert.equal(factory.parsePerRoute({ disabled: true }).ok, true);
    assert.equal(factory.parsePerRoute({ requirementName: 'one' }).ok, true);
    const both = factory.parsePerRoute({ disabled: true, requirementName: 'one' });
    assert.ok(!both.ok && both.error.includes('sets disabled and requirementName'));
    const off = factory.parsePerRoute({ disabled: false });
    assert.ok(!off.ok && off.error.startsWith('disabled: must be true'));
  });
});

describe('JwtAuthnFilterFactory with Istio\'s RequestAuthentication config', () => {
  const { filter, stats } = setup(istio(provider()));

  it('passes a valid token, removes it, and leaves its payload in metadata', async () => {
    const payload = claims({ groups: ['admin'] });
    const { response, forwarded, exchange: ex } = await send(filter, bearer(rsa.sign(payload)));
    assert.equal(response.status, 200);
    assert.equal(forwarded?.headers['authorization'], undefined, 'forward is false by default');
    assert.deepEqual(ex.metadata.get(JWT_AUTHN_FILTER), { [ISSUER]: payload });
    assert.equal(stats.get('http.inbound.jwt_authn.allowed'), 1);
  });

  it('passes a request without a token (allowMissing), with no metadata', async () => {
    const { response, forwarded, exchange: ex } = await send(filter);
    assert.equal(response.status, 200);
    assert.ok(forwarded !== undefined);
    assert.equal(ex.metadata.size, 0);
  });

  it('refuses a token of another issuer: 401 Jwt issuer is not configured', async () => {
    const { response, forwarded, exchange: ex } = await send(filter, { path: '/headers?x=1', headers: { authorization: `Bearer ${rsa.sign(claims({ iss: 'someone-else' }))}`, 'x-forwarded-proto': 'https' } });
    assert.equal(forwarded, undefined);
    assert.equal(response.status, 401);
    assert.equal(bodyText(response), 'Jwt issuer is not configured');
    assert.equal(response.headers['www-authenticate'], 'Bearer realm="https://httpbin.foo:8000/headers?x=1", error="invalid_token"');
    assert.equal(ex.info.responseCodeDetails, 'jwt_authn_access_denied{Jwt_issuer_is_not_configured}');
  });

  it('refuses a bad signature, even though allowMissing is there: 401 Jwt verification fails', async () => {
    const { response } = await send(filter, bearer(impostor.sign(claims())));
    assert.equal(response.status, 401);
    assert.equal(bodyText(response), 'Jwt verification fails');
    assert.ok(stats.get('http.inbound.jwt_authn.denied')! >= 1);
  });

  it('refuses an expired token, and accepts one expired within the 60 s clock skew', async () => {
    const expired = await send(filter, bearer(rsa.sign(claims({ exp: NOW_SECONDS - 61 }))));
    assert.equal(expired.response.status, 401);
    assert.equal(bodyText(expired.response), 'Jwt is expired');
    assert.equal((await send(filter, bearer(rsa.sign(claims({ exp: NOW_SECONDS - 59 }))))).response.status, 200);
    const early = await send(filter, bearer(rsa.sign(claims({ nbf: NOW_SECONDS + 120 }))));
    assert.equal(bodyText(early.response), 'Jwt not yet valid');
  });

  it('refuses what is not a JWT', async () => {
    const { response } = await send(filter, bearer('not-a-jwt'));
    assert.equal(response.status, 401);
    assert.equal(bodyText(response), 'Jwt is not in the form of Header.Payload.Signature');
    const none = await send(filter, bearer(rsa.sign(claims(), { alg: 'none' })));
    assert.equal(bodyText(none.response), 'Jwt header [alg] field value is invalid');
  });

  it('lets a CORS preflight through unverified', async () => {
    const { response } = await send(filter, { method: 'OPTIONS', headers: { origin: 'https://a.example', 'access-control-request-method': 'GET', authorization: 'Bearer bad' } });
    assert.equal(response.status, 200);
    assert.equal(stats.get('http.inbound.jwt_authn.cors_preflight_bypassed'), 1);
  });
});

describe('JwtAuthnFilterFactory providers', () => {
  it('answers 403 when no audience of the token is allowed, ignoring schemes and trailing slashes', async () => {
    const { filter } = setup(istio(provider({ audiences: ['https://bookstore.example.com/'] })));
    const wrong = await send(filter, bearer(rsa.sign(claims({ aud: ['other'] }))));
    assert.equal(wrong.response.status, 403);
    assert.equal(bodyText(wrong.response), 'Audiences in Jwt are not allowed');
    assert.equal((await send(filter, bearer(rsa.sign(claims({ aud: 'bookstore.example.com' }))))).response.status, 200);
  });

  it('reads a token from a query parameter and removes only that parameter', async () => {
    const { filter } = setup(istio(provider({ fromParams: ['my_token'] })));
    const token = rsa.sign(claims());
    const { response, forwarded } = await send(filter, { path: `/api?a=1&my_token=${token}&b=2` });
    assert.equal(response.status, 200);
    assert.equal(forwarded?.path, '/api?a=1&b=2');
    const alone = await send(filter, { path: `/api?my_token=${token}` });
    assert.equal(alone.forwarded?.path, '/api');
    const header = await send(filter, bearer(impostor.sign(claims())));
    assert.equal(header.response.status, 200, 'Authorization is not looked at once fromParams is set');
  });

  it('finds the default ?access_token and a custom header with its prefix; forward keeps the token', async () => {
    const token = rsa.sign(claims());
    const byParam = setup(istio(provider({ forward: true })));
    const kept = await send(byParam.filter, { path: `/x?access_token=${token}` });
    assert.equal(kept.forwarded?.path, `/x?access_token=${token}`);
    const byHeader = setup(istio(provider({ fromHeaders: [{ name: 'X-Jwt-Assertion', valuePrefix: 'Token ' }] })));
    const { response, forwarded } = await send(byHeader.filter, { headers: { 'x-jwt-assertion': `Token ${token}` } });
    assert.equal(response.status, 200);
    assert.equal(forwarded?.headers['x-jwt-assertion'], undefined);
    assert.equal((await send(byHeader.filter, { headers: { 'x-jwt-assertion': `Token ${impostor.sign(claims())}` } })).response.status, 401);
  });

  it('copies claims to headers as Envoy writes them, after removing forged ones', async () => {
    const { filter } = setup(istio(provider({
      claimToHeaders: [
        { headerName: 'x-sub', claimName: 'sub' },
        { headerName: 'x-country', claimName: 'address.country' },
        { headerName: 'x-level', claimName: 'level' },
        { headerName: 'x-ratio', claimName: 'ratio' },
        { headerName: 'x-admin', claimName: 'admin' },
        { headerName: 'x-groups', claimName: 'groups' },
        { headerName: 'x-absent', claimName: 'absent' },
      ],
      forwardPayloadHeader: 'x-jwt-payload',
    })));
    const token = rsa.sign(claims({ address: { country: 'NL' }, level: 3, ratio: 0.5, admin: true, groups: ['a', 'b'] }));
    const { forwarded } = await send(filter, { headers: { authorization: `Bearer ${token}`, 'x-admin': 'forged', 'x-absent': 'forged' } });
    const headers = forwarded?.headers ?? {};
    assert.equal(headers['x-sub'], ISSUER);
    assert.equal(headers['x-country'], 'NL');
    assert.equal(headers['x-level'], '3');
    assert.equal(headers['x-ratio'], '0.500000');
    assert.equal(headers['x-admin'], 'true');
    assert.equal(Buffer.from(headers['x-groups'] as string, 'base64').toString(), '["a","b"]');
    assert.equal(headers['x-absent'], undefined, 'a client cannot forge a claim header');
    assert.equal(headers['x-jwt-payload'], token.split('.')[1]);
  });

  it('verifies ES256, PS256 and EdDSA tokens against their JWKs', async () => {
    for (const alg of ['ES256', 'PS256', 'EdDSA'] as const) {
      const key = new TestKey(alg, `${alg}-key`);
      const { filter } = setup(istio(provider({}, key)));
      assert.equal((await send(filter, bearer(key.sign(claims())))).response.status, 200, alg);
      const other = new TestKey(alg, `${alg}-key`);
      assert.equal(bodyText((await send(filter, bearer(other.sign(claims())))).response), 'Jwt verification fails', alg);
      assert.equal(bodyText((await send(filter, bearer(key.sign(claims(), { kid: 'unknown' })))).response), 'Jwks doesn\'t have key to match kid or alg from Jwt', alg);
    }
  });

  it('picks, among several providers, the one of the token\'s issuer', async () => {
    const second = new TestKey('ES256', 'ec-1');
    const { filter } = setup(istio(
      provider(),
      { issuer: 'other@example.com', localJwks: { inlineString: jwksOf(second) }, payloadInMetadata: 'other@example.com', fromHeaders: [{ name: 'x-other' }] },
    ));
    const { response, exchange: ex } = await send(filter, { headers: { 'x-other': second.sign(claims({ iss: 'other@example.com' })) } });
    assert.equal(response.status, 200);
    assert.deepEqual(Object.keys(ex.metadata.get(JWT_AUTHN_FILTER) ?? {}), ['other@example.com']);
  });
});

describe('JwtAuthnFilterFactory requirements', () => {
  const config = {
    providers: { a: provider(), b: { issuer: 'b', localJwks: { inlineString: jwksOf(rsa) }, fromHeaders: [{ name: 'x-b' }], forward: true } },
    rules: [
      { match: { prefix: '/public' } },
      { match: { prefix: '/both' }, requires: { requiresAll: { requirements: [{ providerName: 'a' }, { providerName: 'b' }] } } },
      { match: { prefix: '/', headers: [{ name: 'x-lenient', presentMatch: true }] }, requires: { allowMissingOrFailed: {} } },
      { match: { prefix: '/optional' }, requires: { allowMissing: {} } },
      { match: { prefix: '/' }, requires: { providerName: 'a' } },
    ],
    requirementMap: { onlyB: { providerName: 'b' } },
  };
  const { filter } = setup(config);

  it('requires a token where the rule names a provider: 401 Jwt is missing, without error="invalid_token"', async () => {
    const { response } = await send(filter, { path: '/private' });
    assert.equal(response.status, 401);
    assert.equal(bodyText(response), 'Jwt is missing');
    assert.equal(response.headers['www-authenticate'], 'Bearer realm="http://httpbin.foo:8000/private"');
  });

  it('verifies nothing where the first matching rule has no requirement', async () => {
    assert.equal((await send(filter, { path: '/public/x', headers: { authorization: 'Bearer garbage' } })).response.status, 200);
  });

  it('needs every token of requiresAll', async () => {
    const a = rsa.sign(claims());
    const b = rsa.sign(claims({ iss: 'b' }));
    assert.equal((await send(filter, { path: '/both', headers: { authorization: `Bearer ${a}` } })).response.status, 401);
    const both = await send(filter, { path: '/both', headers: { authorization: `Bearer ${a}`, 'x-b': b } });
    assert.equal(both.response.status, 200);
    assert.equal(both.forwarded?.headers['x-b'], b, 'provider b forwards its token');
  });

  it('lets a request without token through allowMissing alone, but not one with a bad token', async () => {
    assert.equal((await send(filter, { path: '/optional' })).response.status, 200);
    const bad = await send(filter, { path: '/optional', headers: { authorization: `Bearer ${impostor.sign(claims())}` } });
    assert.equal(bad.response.status, 401);
    assert.equal(bodyText(bad.response), 'Jwt verification fails');
    const good = await send(filter, { path: '/optional', headers: { authorization: `Bearer ${rsa.sign(claims())}` } });
    assert.equal(good.response.status, 200);
    assert.ok(good.exchange.metadata.has(JWT_AUTHN_FILTER), 'allowMissing verifies with the provider of the token\'s issuer');
  });

  it('lets a bad token through allowMissingOrFailed', async () => {
    assert.equal((await send(filter, { path: '/x', headers: { 'x-lenient': '1', authorization: 'Bearer garbage' } })).response.status, 200);
  });

  it('follows the route\'s PerRouteConfig: a named requirement, disabled, or 403 for an unknown name', async () => {
    const factory = new JwtAuthnFilterFactory({ fetch: globalThis.fetch, timers: new FakeTimers() });
    const perRoute = (raw: Record<string, unknown>): ReadonlyMap<string, unknown> => {
      const parsed = factory.parsePerRoute(raw);
      if (!parsed.ok) assert.fail(parsed.error);
      return new Map([[JWT_AUTHN_FILTER, parsed.value]]);
    };
    const b = rsa.sign(claims({ iss: 'b' }));
    assert.equal((await send(filter, { path: '/private', headers: { 'x-b': b } }, perRoute({ requirementName: 'onlyB' }))).response.status, 200);
    assert.equal((await send(filter, { path: '/private' }, perRoute({ disabled: true }))).response.status, 200);
    const wrong = await send(filter, { path: '/private' }, perRoute({ requirementName: 'nope' }));
    assert.equal(wrong.response.status, 403);
    assert.equal(bodyText(wrong.response), 'Failed JWT authentication: Wrong requirement_name: nope. It should be one of [onlyB]');
  });
});

describe('JwtAuthnFilterFactory with a remote JWKS', () => {
  let server: http.Server;
  let port = 0;
  let fetches = 0;
  let failing = false;

  before(async () => {
    server = http.createServer((req, res) => {
      fetches++;
      if (failing) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(jwksOf(rsa));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server.close();
    await once(server, 'close');
  });

  function remote(cacheDuration?: string): Record<string, unknown> {
    const remoteJwks = { httpUri: { uri: `http://127.0.0.1:${port}/jwks`, cluster: 'outbound|80||jwks.example', timeout: '5s' }, ...(cacheDuration !== undefined && { cacheDuration }) };
    return istio({ issuer: ISSUER, remoteJwks });
  }

  it('fetches the JWKS once, serves later requests from the cache, and fetches again once it expires', async () => {
    fetches = 0;
    failing = false;
    const { filter, clock, stats } = setup(remote('60s'));
    const token = rsa.sign(claims({ exp: NOW_SECONDS + 7200 }));
    assert.equal((await send(filter, bearer(token))).response.status, 200);
    assert.equal((await send(filter, bearer(token))).response.status, 200);
    assert.equal(fetches, 1);
    clock.advance(60_000);
    assert.equal((await send(filter, bearer(token))).response.status, 200);
    assert.equal(fetches, 2);
    assert.equal(stats.get('http.inbound.jwt_authn.jwks_fetch_success'), 2);
  });

  it('keeps a fetched JWKS 10 minutes by default', async () => {
    fetches = 0;
    failing = false;
    const { filter, clock } = setup(remote());
    const token = rsa.sign(claims({ exp: NOW_SECONDS + 7200 }));
    await send(filter, bearer(token));
    clock.advance(599_000);
    await send(filter, bearer(token));
    assert.equal(fetches, 1);
    clock.advance(1_000);
    await send(filter, bearer(token));
    assert.equal(fetches, 2);
  });

  it('fails tokens while the JWKS cannot be fetched, and passes them once it can', async () => {
    fetches = 0;
    failing = true;
    const { filter, stats } = setup(remote());
    const token = rsa.sign(claims());
    const { response } = await send(filter, bearer(token));
    assert.equal(response.status, 401);
    assert.equal(bodyText(response), 'Jwks remote fetch is failed');
    assert.equal(stats.get('http.inbound.jwt_authn.jwks_fetch_failed'), 1);
    failing = false;
    assert.equal((await send(filter, bearer(token))).response.status, 200);
    assert.equal(fetches, 2);
  });

  it('gives up on a JWKS fetch after httpUri.timeout', async () => {
    const never: FetchJwks = (_url, init) => new Promise((_resolve, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))));
    const { filter, clock } = setup(remote(), never);
    const pending = send(filter, bearer(rsa.sign(claims())));
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(5_000);
    assert.equal(bodyText((await pending).response), 'Jwks remote fetch is failed');
  });
});
