import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { snapshotFromYaml, testWorkload } from './test-support.ts';

describe('testWorkload', () => {
  it('fills in a healthy sidecar workload in default, addressed by its index', () => {
    assert.deepEqual(testWorkload({}, 4), {
      uid: 'proxy/default/workload-4', name: 'workload-4', namespace: 'default', labels: {}, serviceAccount: 'default',
      address: '10.0.0.5', ports: [], locality: '', network: '', weight: 1, healthy: true, tlsMode: 'istio', origin: 'proxy',
    });
  });

  it('keeps what is given and derives the uid from it', () => {
    const w = testWorkload({ name: 'vm-1', namespace: 'shop', origin: 'WorkloadEntry', address: '192.168.0.1' });
    assert.equal(w.uid, 'WorkloadEntry/shop/vm-1');
    assert.equal(w.address, '192.168.0.1');
  });
});

describe('snapshotFromYaml', () => {
  it('builds a snapshot of the YAML and the workloads', () => {
    const s = snapshotFromYaml(`
apiVersion: v1
kind: Service
metadata: { name: reviews }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
`, [{ labels: { app: 'reviews' } }, { labels: { app: 'reviews' } }], { version: 3, mesh: { rootNamespace: 'mesh-root' } });
    assert.equal(s.version, 3);
    assert.equal(s.mesh.rootNamespace, 'mesh-root');
    assert.equal(s.mesh.clusterDomain, 'cluster.local');
    const svc = s.service('reviews.default.svc.cluster.local')!;
    assert.deepEqual(s.endpoints(svc, 9080).map((e) => e.address), ['10.0.0.1', '10.0.0.2']);
  });

  it('throws on YAML with errors, naming them', () => {
    assert.throws(() => snapshotFromYaml(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: r }
spec: { hots: reviews }
`), /test\.yaml:5.*hots/s);
  });
});
