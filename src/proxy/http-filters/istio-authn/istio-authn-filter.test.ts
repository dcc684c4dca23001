import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { DownstreamTls, HttpExchange, HttpResponse } from '../../http/exchange.ts';
import { ISTIO_AUTHN_FILTER, IstioAuthnFilterFactory } from './istio-authn-filter.ts';

const factory = new IstioAuthnFilterFactory();
const filter = factory.create();

/** An exchange with jwt_authn's metadata and a TLS peer; counts the times the route was matched again. */
function exchange(jwtPayloads: Record<string, unknown> | undefined, tls?: DownstreamTls): HttpExchange & { rematched: number } {
  const metadata = new Map<string, Record<string, unknown>>();
  if (jwtPayloads !== undefined) metadata.set('envoy.filters.http.jwt_authn', jwtPayloads);
  const ex = {
    request: { method: 'GET', path: '/', authority: 'a', scheme: 'http' as const, headers: {}, protocol: 'HTTP/1.1' as const },
    body: Readable.from([]),
    downstream: { connectionId: 1, remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 2, ...(tls !== undefined && { tls }) },
    info: { requestId: 'r', startTime: 0, responseFlags: new Set<never>(), attemptCount: 0, bytesReceived: 0, bytesSent: 0 },
    metadata,
    signal: new AbortController().signal,
    route: undefined,
    rematched: 0,
    clearRouteCache() {
      ex.rematched++;
    },
  };
  return ex;
}

async function run(ex: HttpExchange): Promise<HttpResponse> {
  return filter.handle(ex, () => Promise.resolve({ status: 200, headers: {}, body: null }));
}

const mtls: DownstreamTls = {
  localUriSans: [],
  peerCertificate: { uriSans: ['https://not-spiffe', 'spiffe://cluster.local/ns/foo/sa/sleep'], dnsSans: [], subject: '', sha256: '', pem: '' },
};

describe('IstioAuthnFilterFactory', () => {
  it('accepts the empty config and refuses other fields', () => {
    assert.deepEqual(factory.parse({ '@type': factory.typeUrl }), { ok: true, value: { shared: false } });
    const bad = factory.parse({ share: true, shared: 'yes' });
    assert.ok(!bad.ok);
    assert.match(bad.error, /^share: is not a field/m);
    assert.match(bad.error, /^shared: "yes" is not true or false/m);
  });

  it('writes request.auth.* from the payload whose issuer sorts first, and matches the route again', async () => {
    const ex = exchange({
      'z-issuer': { iss: 'z-issuer', sub: 'zed' },
      'a-issuer': {
        iss: 'a-issuer', sub: 'alice', aud: 'bookstore', azp: 'web-app', scope: 'read  write', groups: ['admin', 7, 'dev'],
        exp: 1700000000, email_verified: true, org: { team: 'core', units: ['x'] },
      },
    });
    const response = await run(ex);
    assert.equal(response.status, 200);
    assert.deepEqual(ex.metadata.get(ISTIO_AUTHN_FILTER), {
      'request.auth.principal': 'a-issuer/alice',
      'request.auth.audiences': ['bookstore'],
      'request.auth.presenter': 'web-app',
      'request.auth.claims': {
        iss: ['a-issuer'], sub: ['alice'], aud: ['bookstore'], azp: ['web-app'], scope: ['read', 'write'], groups: ['admin', 'dev'],
        org: { team: ['core'], units: ['x'] },
      },
    });
    assert.equal(ex.rematched, 1);
  });

  it('writes source.principal and source.namespace from a SPIFFE peer certificate', async () => {
    const ex = exchange(undefined, mtls);
    await run(ex);
    assert.deepEqual(ex.metadata.get(ISTIO_AUTHN_FILTER), { 'source.principal': 'cluster.local/ns/foo/sa/sleep', 'source.namespace': 'foo' });
    assert.equal(ex.rematched, 0);
  });

  it('writes no principal without both iss and sub, and nothing at all without JWT or peer', async () => {
    const ex = exchange({ issuer: { iss: 'only-issuer', aud: ['a', 'b'] } });
    await run(ex);
    const written = ex.metadata.get(ISTIO_AUTHN_FILTER)!;
    assert.equal(written['request.auth.principal'], undefined);
    assert.deepEqual(written['request.auth.audiences'], ['a', 'b']);
    const bare = exchange(undefined);
    assert.equal((await run(bare)).status, 200);
    assert.equal(bare.metadata.has(ISTIO_AUTHN_FILTER), false);
  });
});
