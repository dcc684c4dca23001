import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtinKinds, formatDiagnostic, ofKind, parseSources, type Resource } from '../../../config/index.ts';
import type { JwtAuthentication } from './jwt-authn-config.ts';
import { jwtAuthnFilters, UNRESOLVED_JWKS, type JwtAuthnFilters } from './jwt-authn.ts';

function requestAuthentications(yaml: string): Resource<'RequestAuthentication'>[] {
  const parsed = parseSources([{ name: 'test.yaml', text: yaml }], { kinds: builtinKinds() });
  const errors = parsed.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(errors.map(formatDiagnostic).join('\n'));
  return ofKind(parsed.resources, 'RequestAuthentication');
}

function ra(name: string, jwtRules: string): string {
  return `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: ${name}, namespace: default }
spec: { jwtRules: ${jwtRules} }
---
`;
}

const INLINE = '{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}';
const FETCHED = '{"keys":[{"kty":"RSA","n":"fetched","e":"AQAB"}]}';

function build(yaml: string, options: { jwks?: Record<string, string>; clearRouteCache?: boolean } = {}): JwtAuthnFilters {
  return jwtAuthnFilters({
    requestAuthentications: requestAuthentications(yaml),
    jwks: (uri) => options.jwks?.[uri],
    clearRouteCache: options.clearRouteCache ?? false,
  });
}

function jwtConfig(filters: JwtAuthnFilters): JwtAuthentication {
  assert.deepEqual(filters.filters.map((f) => f.name), ['envoy.filters.http.jwt_authn', 'istio_authn']);
  assert.deepEqual(filters.filters[1]?.typedConfig, { '@type': 'type.googleapis.com/io.istio.network.authn.Config' });
  return filters.filters[0]!.typedConfig as JwtAuthentication;
}

describe('jwtAuthnFilters', () => {
  it('makes no filter when no RequestAuthentication applies, and says whether one does', () => {
    assert.deepEqual(build(''), { applies: false, filters: [] });
    assert.deepEqual(build(ra('empty', '[]')), { applies: true, filters: [] });
  });

  it('turns a JWT rule into a provider that accepts a valid token or none, with every field carried over', () => {
    const yaml = ra('shop', `[{
      issuer: "https://auth.example.com", audiences: [shop], jwks: '${INLINE}',
      fromHeaders: [{ name: x-jwt, prefix: "Bearer " }], fromParams: [token], fromCookies: [session],
      forwardOriginalToken: true, outputPayloadToHeader: x-jwt-payload,
      outputClaimToHeaders: [{ header: x-user, claim: sub }], spaceDelimitedClaims: [roles] }]`);
    assert.deepEqual(jwtConfig(build(yaml, { clearRouteCache: true })), {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
      providers: {
        'origins-0': {
          issuer: 'https://auth.example.com',
          audiences: ['shop'],
          localJwks: { inlineString: INLINE },
          forward: true,
          forwardPayloadHeader: 'x-jwt-payload',
          fromHeaders: [{ name: 'x-jwt', valuePrefix: 'Bearer ' }],
          fromParams: ['token'],
          fromCookies: ['session'],
          claimToHeaders: [{ headerName: 'x-user', claimName: 'sub' }],
          payloadInMetadata: 'https://auth.example.com',
          normalizePayloadInMetadata: { spaceDelimitedClaims: ['permission', 'roles', 'scope'] },
          clearRouteCache: true,
        },
      },
      rules: [{ match: { prefix: '/' }, requires: { requiresAny: { requirements: [{ providerName: 'origins-0' }, { allowMissing: {} }] } } }],
      bypassCorsPreflight: true,
    });
  });

  it('leaves the token out of the forwarded request unless forwardOriginalToken is set', () => {
    const provider = jwtConfig(build(ra('a', `[{ issuer: a, jwks: '${INLINE}' }]`))).providers['origins-0'];
    assert.equal(provider?.forward, undefined);
    assert.equal(provider?.clearRouteCache, undefined);
  });

  it('names providers origins-<i> across all RequestAuthentications, ordered by issuer, ties kept in order', () => {
    const yaml = ra('first', `[{ issuer: zeta, jwks: '${INLINE}' }, { issuer: alpha, jwks: '${INLINE}', audiences: [one] }]`)
      + ra('second', `[{ issuer: alpha, jwks: '${INLINE}', audiences: [two] }]`);
    const config = jwtConfig(build(yaml));
    assert.deepEqual(Object.entries(config.providers).map(([name, p]) => `${name}=${p.issuer}/${p.audiences?.join() ?? ''}`), [
      'origins-0=alpha/one', 'origins-1=alpha/two', 'origins-2=zeta/',
    ]);
    const orMissing = (name: string) => ({ requiresAny: { requirements: [{ providerName: name }, { allowMissing: {} }] } });
    assert.deepEqual(config.rules[0]?.requires, {
      requiresAny: {
        requirements: [
          { providerName: 'origins-0' }, { providerName: 'origins-1' }, { providerName: 'origins-2' },
          { requiresAll: { requirements: [orMissing('origins-0'), orMissing('origins-1'), orMissing('origins-2')] } },
        ],
      },
    });
  });

  it('inlines the key set fetched from jwksUri, and while it is unknown one no token can match', () => {
    const yaml = ra('a', '[{ issuer: a, jwksUri: "https://a.example.com/jwks" }, { issuer: b, jwks_uri: "https://b.example.com/jwks" }]');
    const resolved = jwtConfig(build(yaml, { jwks: { 'https://a.example.com/jwks': FETCHED } }));
    assert.equal(resolved.providers['origins-0']?.localJwks.inlineString, FETCHED);
    assert.equal(resolved.providers['origins-1']?.localJwks.inlineString, UNRESOLVED_JWKS);
    const keys = (JSON.parse(UNRESOLVED_JWKS) as { keys: { kty: string; d?: string }[] }).keys;
    assert.equal(keys.length, 1);
    assert.equal(keys[0]?.kty, 'RSA');
    assert.equal(keys[0]?.d, undefined, 'a public key only');
  });
});
