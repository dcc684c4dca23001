import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Labels } from '../model/index.ts';
import { snapshotFromYaml } from './test-support.ts';

function limit(namespace: string, name: string, options: { selector?: Labels; created?: string } = {}): string {
  const selector = options.selector !== undefined ? `selector: { matchLabels: ${JSON.stringify(options.selector)} }` : '';
  const created = options.created !== undefined ? `, creationTimestamp: "${options.created}"` : '';
  return `apiVersion: policy.weft.dev/v1alpha1
kind: LocalRateLimit
metadata: { name: ${name}, namespace: ${namespace}${created} }
spec: { ${selector} }
---
`;
}

/** The name (namespace/name) of the LocalRateLimit that applies to a proxy of `namespace` with `labels`. */
function applied(yaml: string, namespace: string, labels: Labels): string | undefined {
  const found = snapshotFromYaml(yaml).localRateLimitFor(namespace, labels);
  return found !== undefined ? `${found.namespace}/${found.name}` : undefined;
}

const REVIEWS = { app: 'reviews', version: 'v1' };

describe('MeshSnapshot.localRateLimitFor', () => {
  it('prefers, in turn: a selector of the proxy\'s namespace, its namespace-wide one, a selector of the root namespace, the root namespace-wide one', () => {
    const all = [
      limit('istio-system', 'mesh-wide'),
      limit('istio-system', 'mesh-reviews', { selector: { app: 'reviews' } }),
      limit('default', 'namespace-wide'),
      limit('default', 'reviews', { selector: { app: 'reviews' } }),
    ];
    assert.equal(applied(all.join(''), 'default', REVIEWS), 'default/reviews');
    assert.equal(applied(all.slice(0, 3).join(''), 'default', REVIEWS), 'default/namespace-wide');
    assert.equal(applied(all.slice(0, 2).join(''), 'default', REVIEWS), 'istio-system/mesh-reviews');
    assert.equal(applied(all.slice(0, 1).join(''), 'default', REVIEWS), 'istio-system/mesh-wide');
  });

  it('applies a selector only to the workloads whose labels it matches, and an empty one to the whole namespace', () => {
    const yaml = limit('default', 'ratings', { selector: { app: 'ratings' } }) + limit('shop', 'any', { selector: {} });
    assert.equal(applied(yaml, 'default', REVIEWS), undefined);
    assert.equal(applied(yaml, 'default', { app: 'ratings' }), 'default/ratings');
    assert.equal(applied(yaml, 'shop', REVIEWS), 'shop/any');
    assert.equal(applied(yaml, 'other', REVIEWS), undefined);
  });

  it('gives a workload of the root namespace only the root namespace\'s, selecting ones first', () => {
    const yaml = limit('istio-system', 'mesh-wide') + limit('istio-system', 'ingress', { selector: { istio: 'ingressgateway' } });
    assert.equal(applied(yaml, 'istio-system', { istio: 'ingressgateway' }), 'istio-system/ingress');
    assert.equal(applied(yaml, 'istio-system', { istio: 'egressgateway' }), 'istio-system/mesh-wide');
  });

  it('settles a tie by the oldest creationTimestamp (none counting as oldest), then by name', () => {
    const selector = { app: 'reviews' };
    assert.equal(applied(limit('default', 'a', { selector, created: '2025-02-01T00:00:00Z' }) + limit('default', 'b', { selector, created: '2025-01-01T00:00:00Z' }), 'default', REVIEWS), 'default/b');
    assert.equal(applied(limit('default', 'a', { selector, created: '2025-01-01T00:00:00Z' }) + limit('default', 'b', { selector }), 'default', REVIEWS), 'default/b');
    assert.equal(applied(limit('default', 'b', { selector }) + limit('default', 'a', { selector }), 'default', REVIEWS), 'default/a');
  });

  it('answers the same resource for the same namespace and labels, whatever their order', () => {
    const snapshot = snapshotFromYaml(limit('default', 'reviews', { selector: { app: 'reviews' } }));
    const first = snapshot.localRateLimitFor('default', { app: 'reviews', version: 'v1' });
    assert.ok(first !== undefined);
    assert.equal(snapshot.localRateLimitFor('default', { version: 'v1', app: 'reviews' }), first);
  });
});
