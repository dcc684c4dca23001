import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { snapshotFromYaml } from './test-support.ts';

function dr(name: string, namespace: string, body: string): string {
  const indented = body.trim().split('\n').map((line) => `  ${line}`).join('\n');
  return `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${indented}
`;
}

const SERVICES = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: shop }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
`;
const REVIEWS = 'reviews.shop.svc.cluster.local';

/** Which DestinationRules (namespace/name) apply to reviews from `client`. */
function chosen(yaml: string, client: string, labels?: Record<string, string>): string[] | undefined {
  return snapshotFromYaml(SERVICES + yaml).destinationRule(REVIEWS, client, labels)?.resources.map((r) => `${r.namespace}/${r.name}`);
}

describe('MeshSnapshot.destinationRule', () => {
  it('finds nothing when no rule names the host', () => {
    assert.equal(chosen(dr('other', 'shop', 'host: ratings'), 'shop'), undefined);
  });

  it('looks in the client namespace, then the service namespace, then the root namespace', () => {
    const all = dr('client', 'web', `host: ${REVIEWS}`) + dr('service', 'shop', 'host: reviews') + dr('root', 'istio-system', `host: ${REVIEWS}`);
    assert.deepEqual(chosen(all, 'web'), ['web/client']);
    assert.deepEqual(chosen(all, 'other'), ['shop/service']);
    assert.deepEqual(chosen(dr('root', 'istio-system', `host: ${REVIEWS}`), 'web'), ['istio-system/root']);
  });

  it('prefers the exact host, then the most specific wildcard, within the namespace that decides', () => {
    const yaml = dr('all', 'web', 'host: "*"') + dr('local', 'web', 'host: "*.svc.cluster.local"') + dr('shop', 'web', 'host: "*.shop.svc.cluster.local"');
    assert.deepEqual(chosen(yaml, 'web'), ['web/shop']);
    assert.deepEqual(chosen(yaml + dr('exact', 'web', `host: ${REVIEWS}`), 'web'), ['web/exact']);
    assert.equal(snapshotFromYaml(SERVICES + yaml).destinationRule(REVIEWS, 'web')?.host, '*.shop.svc.cluster.local');
  });

  it('lets a wildcard in the client namespace win over an exact rule further along the path', () => {
    const yaml = dr('wild', 'web', 'host: "*.cluster.local"') + dr('exact', 'shop', 'host: reviews');
    assert.deepEqual(chosen(yaml, 'web'), ['web/wild']);
  });

  it('hides a rule from namespaces it is not exported to', () => {
    const yaml = dr('private', 'shop', `host: reviews\nexportTo: ['.']`) + dr('to-web', 'istio-system', `host: ${REVIEWS}\nexportTo: [web]`);
    assert.deepEqual(chosen(yaml, 'shop'), ['shop/private']);
    assert.deepEqual(chosen(yaml, 'web'), ['istio-system/to-web']);
    assert.equal(chosen(yaml, 'other'), undefined);
  });

  it('keeps private root-namespace rules for clients in the root namespace, without letting public catch-alls there shadow the service namespace', () => {
    const yaml = dr('catch-all', 'istio-system', 'host: "*.cluster.local"') + dr('service', 'shop', 'host: reviews');
    assert.deepEqual(chosen(yaml, 'istio-system'), ['shop/service']);
    assert.deepEqual(chosen(yaml + dr('own', 'istio-system', `host: "*.local"\nexportTo: ['.']`), 'istio-system'), ['istio-system/own']);
  });

  it('merges the rules of one namespace for one host: the first traffic policy, subsets unioned with the first definition kept', () => {
    const yaml = dr('a', 'shop', `
host: reviews
subsets: [{ name: v1, labels: { version: v1 } }]
`) + dr('b', 'shop', `
host: reviews
trafficPolicy: { loadBalancer: { simple: RANDOM } }
subsets: [{ name: v1, labels: { version: other } }, { name: v2, labels: { version: v2 } }]
`) + dr('c', 'shop', `
host: reviews
trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }
`);
    const rule = snapshotFromYaml(SERVICES + yaml).destinationRule(REVIEWS, 'web');
    assert.deepEqual(rule?.resources.map((r) => r.name), ['a', 'b', 'c']);
    assert.deepEqual(rule?.trafficPolicy, { loadBalancer: { simple: 'RANDOM' } });
    assert.deepEqual(rule?.subsets.map((s) => [s.name, s.labels]), [['v1', { version: 'v1' }], ['v2', { version: 'v2' }]]);
  });

  it('applies a rule with a workloadSelector only to the workloads it selects in its own namespace', () => {
    const yaml = dr('selected', 'web', `
host: ${REVIEWS}
workloadSelector: { matchLabels: { app: frontend } }
trafficPolicy: { loadBalancer: { simple: RANDOM } }
`) + dr('everyone', 'web', `host: ${REVIEWS}`);
    assert.deepEqual(chosen(yaml, 'web', { app: 'frontend', version: 'v1' }), ['web/selected']);
    assert.deepEqual(chosen(yaml, 'web', { app: 'other' }), ['web/everyone']);
    assert.deepEqual(chosen(yaml, 'web'), ['web/everyone']);
    assert.equal(chosen(dr('selected', 'web', `host: ${REVIEWS}\nworkloadSelector: { matchLabels: { app: frontend } }`), 'other', { app: 'frontend' }), undefined);
  });

  it('stops at the namespace that has rules for the host even when only a selector rule that does not apply is there', () => {
    const yaml = dr('selected', 'web', `host: ${REVIEWS}\nworkloadSelector: { matchLabels: { app: frontend } }`) + dr('service', 'shop', 'host: reviews');
    assert.equal(chosen(yaml, 'web', { app: 'other' }), undefined);
  });

  it('finds the rules of a ServiceEntry host in the ServiceEntry namespace', () => {
    const s = snapshotFromYaml(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ext, namespace: egress }
spec: { hosts: [api.example.com], resolution: DNS, ports: [{ number: 443, name: tls, protocol: TLS }] }
` + dr('ext', 'egress', 'host: api.example.com'));
    assert.equal(s.destinationRule('api.example.com', 'web')?.resources[0]?.name, 'ext');
  });

  it('returns the same object for the same question', () => {
    const s = snapshotFromYaml(SERVICES + dr('service', 'shop', 'host: reviews'));
    assert.equal(s.destinationRule(REVIEWS, 'web'), s.destinationRule(REVIEWS, 'web'));
    assert.ok(Object.isFrozen(s.destinationRule(REVIEWS, 'web')));
  });
});
