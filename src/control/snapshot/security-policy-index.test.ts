import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtinKinds, formatDiagnostic, parseSources, type AnyResource } from '../../config/index.ts';
import type { Labels } from '../model/index.ts';
import { buildSecurityPolicyIndex, GATEWAY_NAME_LABEL } from './security-policy-index.ts';

function parse(yaml: string): AnyResource[] {
  const parsed = parseSources([{ name: 'test.yaml', text: yaml }], { kinds: builtinKinds() });
  const errors = parsed.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(errors.map(formatDiagnostic).join('\n'));
  return parsed.resources;
}

function policy(kind: 'AuthorizationPolicy' | 'RequestAuthentication', namespace: string, name: string, target = ''): string {
  const spec = kind === 'AuthorizationPolicy' ? `{ ${target} }` : `{ ${target}${target === '' ? '' : ', '}jwtRules: [{ issuer: "${name}" }] }`;
  return `apiVersion: security.istio.io/v1
kind: ${kind}
metadata: { name: ${name}, namespace: ${namespace} }
spec: ${spec}
---
`;
}

const ap = (namespace: string, name: string, target = ''): string => policy('AuthorizationPolicy', namespace, name, target);
const ra = (namespace: string, name: string, target = ''): string => policy('RequestAuthentication', namespace, name, target);

function names(yaml: string, namespace: string, labels: Labels, kind: 'authz' | 'authn' = 'authz'): string[] {
  const index = buildSecurityPolicyIndex(parse(yaml), 'istio-system');
  const found = kind === 'authz' ? index.authorizationPolicies(namespace, labels) : index.requestAuthentications(namespace, labels);
  return found.map((p) => `${p.namespace}/${p.name}`);
}

const REVIEWS = { app: 'reviews', version: 'v1' };

describe('buildSecurityPolicyIndex', () => {
  const all = [
    ap('istio-system', 'mesh-wide'),
    ap('istio-system', 'mesh-reviews', 'selector: { matchLabels: { app: reviews } }'),
    ap('istio-system', 'mesh-ratings', 'selector: { matchLabels: { app: ratings } }'),
    ap('default', 'namespace-wide'),
    ap('default', 'reviews', 'selector: { matchLabels: { app: reviews } }'),
    ap('default', 'ratings', 'selector: { matchLabels: { app: ratings } }'),
    ap('shop', 'shop-wide'),
  ].join('');

  it('applies root namespace policies mesh-wide (with a selector, to the matching workloads of every namespace) and namespace policies to their namespace', () => {
    assert.deepEqual(names(all, 'default', REVIEWS), ['default/namespace-wide', 'default/reviews', 'istio-system/mesh-reviews', 'istio-system/mesh-wide']);
    assert.deepEqual(names(all, 'shop', REVIEWS), ['istio-system/mesh-reviews', 'istio-system/mesh-wide', 'shop/shop-wide']);
    assert.deepEqual(names(all, 'other', { app: 'ratings' }), ['istio-system/mesh-ratings', 'istio-system/mesh-wide']);
    assert.deepEqual(names(all, 'istio-system', {}), ['istio-system/mesh-wide']);
  });

  it('treats an empty selector as the whole namespace', () => {
    assert.deepEqual(names(ap('default', 'any', 'selector: {}'), 'default', REVIEWS), ['default/any']);
  });

  it('selects RequestAuthentications by the same rules', () => {
    const yaml = ra('istio-system', 'mesh') + ra('default', 'ratings', 'selector: { matchLabels: { app: ratings } }') + ra('default', 'reviews', 'selector: { matchLabels: { app: reviews } }');
    assert.deepEqual(names(yaml, 'default', REVIEWS, 'authn'), ['default/reviews', 'istio-system/mesh']);
    assert.deepEqual(names(yaml, 'default', REVIEWS, 'authz'), []);
  });

  it('attaches a Gateway targetRef to the pods of that Gateway in the policy\'s namespace only', () => {
    const target = 'targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: web }]';
    const yaml = ap('default', 'web', target) + ap('default', 'legacy', 'targetRef: { group: gateway.networking.k8s.io, kind: Gateway, name: web }') + ap('default', 'wide');
    const pod = { [GATEWAY_NAME_LABEL]: 'web' };
    assert.deepEqual(names(yaml, 'default', pod), ['default/legacy', 'default/web', 'default/wide']);
    assert.deepEqual(names(yaml, 'default', { [GATEWAY_NAME_LABEL]: 'other' }), ['default/wide']);
    assert.deepEqual(names(yaml, 'shop', pod), []);
    assert.deepEqual(names(yaml, 'default', REVIEWS), ['default/wide']);
  });

  it('attaches Service targetRefs to nothing (they serve waypoints)', () => {
    const yaml = ap('default', 'svc', 'targetRefs: [{ kind: Service, name: reviews }]');
    assert.deepEqual(names(yaml, 'default', { app: 'reviews', [GATEWAY_NAME_LABEL]: 'reviews' }), []);
  });

  it('answers the same list for the same labels, whatever their order', () => {
    const index = buildSecurityPolicyIndex(parse(all), 'istio-system');
    assert.equal(index.authorizationPolicies('default', { app: 'reviews', version: 'v1' }), index.authorizationPolicies('default', { version: 'v1', app: 'reviews' }));
  });
});
