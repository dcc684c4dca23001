import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ParsedConfig } from '../../index.ts';
import { assertValid, parseYaml, problems, resourceYaml } from '../../test-support.ts';
import { jwksProblem, jwksUriProblem } from './request-authentication.ts';

/** Parses one RequestAuthentication whose spec is `spec`, written without indentation. */
function requestAuthentication(spec: string): ParsedConfig {
  return parseYaml(resourceYaml('security.istio.io/v1', 'RequestAuthentication', spec, { name: 'jwt', namespace: 'default' }));
}

const JWKS = '{"keys": [{"kty": "RSA", "e": "AQAB", "n": "xyz", "kid": "k1"}]}';

describe('RequestAuthentication', () => {
  it('accepts a rule using every field', () => {
    const result = requestAuthentication(`
selector:
  matchLabels:
    app: booking-service
jwtRules:
- issuer: testing@secure.istio.io
  audiences: [bookstore_web.apps.example.com]
  jwksUri: https://raw.githubusercontent.com/istio/istio/release-1.20/security/tools/jwt/samples/jwks.json
  fromHeaders:
  - name: x-jwt-assertion
    prefix: "Bearer "
  fromParams: [my_token]
  fromCookies: [auth-token]
  outputPayloadToHeader: x-jwt-payload
  forwardOriginalToken: true
  outputClaimToHeaders:
  - header: x-jwt-group
    claim: nested.key.group
  timeout: 5s
  spaceDelimitedClaims: [custom_scope]
  presence: REQUIRED
- issuer: inline.example.com
  jwks: '${JWKS}'
`);
    assertValid(result);
  });

  it('accepts the snake_case jwks_uri that Istio still reads', () => {
    assert.deepEqual(problems(requestAuthentication('jwtRules:\n- issuer: a\n  jwks_uri: http://keys.example.com/jwks')), []);
  });

  it('accepts a rule with jwksUri and no issuer, as Istio does', () => {
    assert.deepEqual(problems(requestAuthentication('jwtRules:\n- jwksUri: https://example.com/jwks.json')), []);
  });

  it('accepts targetRefs to a service or a gateway', () => {
    assert.deepEqual(problems(requestAuthentication('targetRefs:\n- {group: "", kind: Service, name: foo}\n- {group: gateway.networking.k8s.io, kind: Gateway, name: gw}\njwtRules:\n- issuer: a')), []);
  });

  it('rejects a rule with neither issuer nor jwksUri', () => {
    const result = requestAuthentication('jwtRules:\n- audiences: [a]');
    assert.deepEqual(problems(result), ['spec.jwtRules[0].issuer: issuer is required (the "iss" claim a token must carry), unless jwksUri is set']);
    assert.equal(result.diagnostics[0]!.origin?.line, 8);
  });

  it('rejects both jwksUri and jwks', () => {
    assert.deepEqual(problems(requestAuthentication(`jwtRules:\n- issuer: a\n  jwksUri: https://example.com/jwks\n  jwks: '${JWKS}'`)), [
      'spec.jwtRules[0].jwks: only one of jwksUri or jwks may be set, got jwksUri and jwks',
    ]);
  });

  it('rejects a jwksUri that is not an http(s) URL', () => {
    assert.deepEqual(problems(requestAuthentication('jwtRules:\n- issuer: a\n  jwksUri: ftp://example.com/jwks\n- issuer: b\n  jwksUri: example.com/jwks')), [
      'spec.jwtRules[0].jwksUri: "ftp://example.com/jwks" is not an http:// or https:// URL',
      'spec.jwtRules[1].jwksUri: "example.com/jwks" is not an http:// or https:// URL',
    ]);
  });

  it('rejects jwks that is not a JSON Web Key Set', () => {
    assert.deepEqual(problems(requestAuthentication(`jwtRules:\n- issuer: a\n  jwks: 'not json'\n- issuer: b\n  jwks: '{"keys": [{"n": "x"}]}'\n- issuer: c\n  jwks: '[1]'`)), [
      'spec.jwtRules[0].jwks: jwks is not valid JSON: Unexpected token \'o\', "not json" is not valid JSON',
      'spec.jwtRules[1].jwks: jwks key 0 is not a JSON Web Key (a JSON object with "kty")',
      'spec.jwtRules[2].jwks: jwks must be a JSON Web Key Set ({"keys": [...]}) or a single JSON Web Key',
    ]);
  });

  it('rejects empty audiences, params, cookies and header names', () => {
    assert.deepEqual(problems(requestAuthentication('jwtRules:\n- issuer: a\n  audiences: [""]\n  fromParams: [""]\n  fromCookies: [""]\n  fromHeaders: [{name: ""}, {prefix: "Bearer "}]')), [
      'spec.jwtRules[0].audiences[0]: must not be empty',
      'spec.jwtRules[0].fromHeaders[0].name: must not be empty',
      'spec.jwtRules[0].fromHeaders[1].name: required field is missing',
      'spec.jwtRules[0].fromParams[0]: must not be empty',
      'spec.jwtRules[0].fromCookies[0]: must not be empty',
    ]);
  });

  it('rejects claim-to-header entries with a bad header or an empty claim', () => {
    assert.deepEqual(problems(requestAuthentication('jwtRules:\n- issuer: a\n  outputClaimToHeaders:\n  - {header: ":authority", claim: sub}\n  - {header: x-sub, claim: ""}\n  - {claim: sub}')), [
      'spec.jwtRules[0].outputClaimToHeaders[0].header: must be a header name (letters, digits, \'-\' and \'_\')',
      'spec.jwtRules[0].outputClaimToHeaders[1].claim: must not be empty',
      'spec.jwtRules[0].outputClaimToHeaders[2].header: required field is missing',
    ]);
  });

  it('rejects a timeout below 1ms and an unknown presence', () => {
    assert.deepEqual(problems(requestAuthentication('jwtRules:\n- issuer: a\n  timeout: 0s\n  presence: MANDATORY')), [
      'spec.jwtRules[0].timeout: duration must be at least 1ms, got "0s"',
      'spec.jwtRules[0].presence: must be one of OPTIONAL, REQUIRED, got string "MANDATORY"',
    ]);
  });

  it('rejects a misspelt field with a suggestion and a wrong type', () => {
    assert.deepEqual(problems(requestAuthentication('jwtRules:\n- issuer: a\n  jwksURL: https://example.com\n  forwardOriginalToken: "yes"')), [
      'spec.jwtRules[0].forwardOriginalToken: expected true or false, got string "yes"',
      'spec.jwtRules[0].jwksURL: unknown field "jwksURL" (did you mean "jwksUri"?)',
    ]);
  });

  it('rejects selector together with targetRefs, and cross-namespace targets', () => {
    assert.deepEqual(problems(requestAuthentication('selector: {matchLabels: {a: b}}\ntargetRefs:\n- {kind: Service, name: foo, namespace: bar}')), [
      'spec.targetRefs[0].namespace: cross-namespace references are not supported; leave namespace out (the target must be in the namespace of the policy)',
      'spec.targetRefs: only one of selector, targetRef or targetRefs may be set, got selector and targetRefs',
    ]);
  });

  it('rejects a target reference without a name and with a malformed kind', () => {
    assert.deepEqual(problems(requestAuthentication('targetRef: {group: "", kind: Service}')), ['spec.targetRef.name: required field is missing']);
    assert.deepEqual(problems(requestAuthentication('targetRef: {group: "", kind: Serv_ice, name: foo}')), [
      'spec.targetRef.kind: "Serv_ice" is not a kind name (letters, digits and \'-\', starting with a letter)',
      'spec.targetRef.kind: a policy can target a Service, a ServiceEntry (networking.istio.io), a Gateway or a GatewayClass (gateway.networking.k8s.io), got kind "Serv_ice"',
    ]);
  });

  it('classifies JWKS URIs and inline key sets', () => {
    assert.equal(jwksUriProblem('https://example.com:8443/keys'), undefined);
    assert.notEqual(jwksUriProblem(`https://example.com/${'a'.repeat(2048)}`), undefined);
    assert.equal(jwksProblem('{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}'), undefined);
    assert.equal(jwksProblem('{"keys": []}'), undefined);
    assert.notEqual(jwksProblem('{"keys": {}}'), undefined);
  });
});
