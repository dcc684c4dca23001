import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml } from '../test-support.ts';
import { jwtPrincipalWithoutRequestAuthentication } from './jwt-principal-without-request-authentication.ts';

const run = (text: string): string[] => analyzeYaml(text, jwtPrincipalWithoutRequestAuthentication);

const requireJwt = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: default}
spec:
  selector:
    matchLabels: {app: booking}
  rules:
  - from:
    - source:
        requestPrincipals: ["*"]
---
`;

const requestAuthentication = (namespace: string, selector: string): string => `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: ${namespace}}
spec:
${selector}  jwtRules:
  - issuer: testing@secure.istio.io
    jwksUri: https://example.com/jwks.json
---
`;

const message = (uses: string, target: string): string =>
  `The AuthorizationPolicy uses ${uses} but no RequestAuthentication applies to its workloads (${target}), so requests are never authenticated by JWT and carry no request principal or claims. Add a RequestAuthentication that selects these workloads, or one in istio-system for the whole mesh.`;

describe('JwtPrincipalWithoutRequestAuthentication', () => {
  it('warns about requestPrincipals with no RequestAuthentication, at the line of the field', () => {
    assert.deepEqual(run(requireJwt), [
      `Warning [WFT0150] (AuthorizationPolicy default/require-jwt test.yaml:10) ${message('requestPrincipals', 'app=booking')}`,
    ]);
  });

  it('accepts a RequestAuthentication for the namespace, the mesh, or the same workloads', () => {
    assert.deepEqual(run(requireJwt + requestAuthentication('default', '')), []);
    assert.deepEqual(run(requireJwt + requestAuthentication('istio-system', '')), []);
    assert.deepEqual(run(requireJwt + requestAuthentication('default', '  selector: {matchLabels: {app: booking}}\n')), []);
  });

  it('does not count a RequestAuthentication for other workloads or another namespace', () => {
    assert.equal(run(requireJwt + requestAuthentication('default', '  selector: {matchLabels: {app: ratings}}\n')).length, 1);
    assert.equal(run(requireJwt + requestAuthentication('shop', '')).length, 1);
  });

  it('counts a RequestAuthentication whose selector picks the same Pod with other labels', () => {
    assert.deepEqual(run(`${requireJwt}${requestAuthentication('default', '  selector: {matchLabels: {tier: front}}\n')}apiVersion: v1
kind: Pod
metadata: {name: booking-1, namespace: default, labels: {app: booking, tier: front}}
spec:
  containers: [{name: app, image: example/booking}]
`), []);
  });

  it('sees request.auth conditions and notRequestPrincipals, and describes a namespace-wide policy', () => {
    assert.deepEqual(run(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-anonymous, namespace: shop}
spec:
  action: DENY
  rules:
  - from:
    - source:
        notRequestPrincipals: ["*"]
    when:
    - key: request.auth.claims[groups]
      values: [guests]
`), [`Warning [WFT0150] (AuthorizationPolicy shop/deny-anonymous test.yaml:9) ${message('notRequestPrincipals and request.auth.claims[groups]', 'every workload of namespace shop')}`]);
  });

  it('says nothing about policies that use no JWT fields', () => {
    assert.deepEqual(run(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-frontend}
spec:
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/default/sa/frontend"]
`), []);
  });
});
