import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveTrafficPolicy } from './effective-traffic-policy.ts';
import type { EffectiveDestinationRule } from './mesh-snapshot.ts';
import { snapshotFromYaml } from './test-support.ts';

const HOST = 'reviews.default.svc.cluster.local';

/** The effective rule of a DestinationRule for `reviews` whose spec (below `host`) is `body`. */
function rule(body: string): EffectiveDestinationRule {
  const indented = body.trim().split('\n').map((line) => `  ${line}`).join('\n');
  const snapshot = snapshotFromYaml(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
${indented}
`);
  const found = snapshot.destinationRule(HOST, 'default');
  assert.ok(found);
  return found;
}

describe('effectiveTrafficPolicy', () => {
  it('is empty without a rule, and without a policy', () => {
    assert.deepEqual(effectiveTrafficPolicy(undefined, 9080), {});
    assert.deepEqual(effectiveTrafficPolicy(rule('subsets: [{ name: v1, labels: { version: v1 } }]'), 9080), {});
    assert.deepEqual(effectiveTrafficPolicy(rule('subsets: [{ name: v1, labels: { version: v1 } }]'), 9080, 'v1'), {});
  });

  it('applies the top-level policy to every port, without its portLevelSettings', () => {
    const r = rule(`
trafficPolicy:
  loadBalancer: { simple: ROUND_ROBIN }
  connectionPool: { tcp: { maxConnections: 10 } }
  portLevelSettings:
  - port: { number: 9090 }
    loadBalancer: { simple: RANDOM }
`);
    assert.deepEqual(effectiveTrafficPolicy(r, 9080), {
      loadBalancer: { simple: 'ROUND_ROBIN' },
      connectionPool: { tcp: { maxConnections: 10 } },
    });
  });

  it('replaces loadBalancer, connectionPool, outlierDetection and tls with the port-level entry, inheriting none of them', () => {
    const r = rule(`
trafficPolicy:
  loadBalancer: { simple: ROUND_ROBIN }
  connectionPool: { tcp: { maxConnections: 10 } }
  outlierDetection: { consecutive5xxErrors: 3 }
  tls: { mode: ISTIO_MUTUAL }
  portLevelSettings:
  - port: { number: 9080 }
    loadBalancer: { simple: RANDOM }
`);
    assert.deepEqual(effectiveTrafficPolicy(r, 9080), { loadBalancer: { simple: 'RANDOM' } });
  });

  it('keeps tunnel and proxyProtocol of the top level under a port-level entry, since they cannot be set per port', () => {
    const r = rule(`
trafficPolicy:
  proxyProtocol: { version: V2 }
  portLevelSettings:
  - port: { number: 9080 }
    tls: { mode: DISABLE }
`);
    assert.deepEqual(effectiveTrafficPolicy(r, 9080), { proxyProtocol: { version: 'V2' }, tls: { mode: 'DISABLE' } });
  });

  it('overrides the top-level policy with the subset policy field by field', () => {
    const r = rule(`
trafficPolicy:
  loadBalancer: { simple: ROUND_ROBIN }
  connectionPool: { tcp: { maxConnections: 10 } }
subsets:
- name: v1
  labels: { version: v1 }
  trafficPolicy:
    connectionPool: { http: { http1MaxPendingRequests: 1 } }
`);
    assert.deepEqual(effectiveTrafficPolicy(r, 9080, 'v1'), {
      loadBalancer: { simple: 'ROUND_ROBIN' },
      // The subset's connectionPool replaces the top-level one whole; tcp is not inherited.
      connectionPool: { http: { http1MaxPendingRequests: 1 } },
    });
  });

  it('applies the subset policy over the top-level port-level entry', () => {
    const r = rule(`
trafficPolicy:
  loadBalancer: { simple: ROUND_ROBIN }
  portLevelSettings:
  - port: { number: 9080 }
    outlierDetection: { consecutive5xxErrors: 7 }
subsets:
- name: v1
  labels: { version: v1 }
  trafficPolicy:
    tls: { mode: DISABLE }
`);
    assert.deepEqual(effectiveTrafficPolicy(r, 9080, 'v1'), { outlierDetection: { consecutive5xxErrors: 7 }, tls: { mode: 'DISABLE' } });
    assert.deepEqual(effectiveTrafficPolicy(r, 9090, 'v1'), { loadBalancer: { simple: 'ROUND_ROBIN' }, tls: { mode: 'DISABLE' } });
  });

  it('lets the subset port-level entry replace all four port-level fields, even those it leaves out', () => {
    const r = rule(`
trafficPolicy:
  loadBalancer: { simple: ROUND_ROBIN }
  tls: { mode: ISTIO_MUTUAL }
subsets:
- name: v1
  labels: { version: v1 }
  trafficPolicy:
    connectionPool: { tcp: { maxConnections: 5 } }
    portLevelSettings:
    - port: { number: 9080 }
      outlierDetection: { consecutive5xxErrors: 1 }
`);
    assert.deepEqual(effectiveTrafficPolicy(r, 9080, 'v1'), { outlierDetection: { consecutive5xxErrors: 1 } });
    // On another port the subset's own top level applies over the rule's.
    assert.deepEqual(effectiveTrafficPolicy(r, 9090, 'v1'), {
      loadBalancer: { simple: 'ROUND_ROBIN' },
      tls: { mode: 'ISTIO_MUTUAL' },
      connectionPool: { tcp: { maxConnections: 5 } },
    });
  });

  it('takes the subset tunnel or proxyProtocol over the top-level one', () => {
    const r = rule(`
trafficPolicy:
  proxyProtocol: { version: V1 }
subsets:
- name: v1
  labels: { version: v1 }
  trafficPolicy:
    proxyProtocol: { version: V2 }
- name: v2
  labels: { version: v2 }
  trafficPolicy:
    loadBalancer: { simple: RANDOM }
`);
    assert.deepEqual(effectiveTrafficPolicy(r, 9080, 'v1'), { proxyProtocol: { version: 'V2' } });
    assert.deepEqual(effectiveTrafficPolicy(r, 9080, 'v2'), { proxyProtocol: { version: 'V1' }, loadBalancer: { simple: 'RANDOM' } });
  });

  it('uses the subset policy alone when the rule has no top-level policy', () => {
    const r = rule(`
subsets:
- name: v1
  labels: { version: v1 }
  trafficPolicy:
    loadBalancer: { simple: RANDOM }
    portLevelSettings:
    - port: { number: 9090 }
      tls: { mode: DISABLE }
`);
    assert.deepEqual(effectiveTrafficPolicy(r, 9080, 'v1'), { loadBalancer: { simple: 'RANDOM' } });
    assert.deepEqual(effectiveTrafficPolicy(r, 9090, 'v1'), { tls: { mode: 'DISABLE' } });
  });

  it('ignores an unknown subset, leaving the top-level policy', () => {
    const r = rule(`
trafficPolicy:
  loadBalancer: { simple: ROUND_ROBIN }
subsets:
- name: v1
  labels: { version: v1 }
  trafficPolicy:
    loadBalancer: { simple: RANDOM }
`);
    assert.deepEqual(effectiveTrafficPolicy(r, 9080, 'v9'), { loadBalancer: { simple: 'ROUND_ROBIN' } });
    assert.deepEqual(effectiveTrafficPolicy(r, 9080), { loadBalancer: { simple: 'ROUND_ROBIN' } });
  });

  it('does not change the rule it reads', () => {
    const r = rule(`
trafficPolicy:
  loadBalancer: { simple: ROUND_ROBIN }
  portLevelSettings:
  - port: { number: 9080 }
    tls: { mode: DISABLE }
`);
    const before = structuredClone(r.trafficPolicy);
    effectiveTrafficPolicy(r, 9080);
    assert.deepEqual(r.trafficPolicy, before);
  });
});
