import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryConfigSource, ProxyWorkloadRegistry } from '../sources/index.ts';
import type { ProxyView, ResourceKind } from '../model/index.ts';
import { SnapshotPublisher } from './snapshot-publisher.ts';
import type { MeshSnapshot } from './mesh-snapshot.ts';

const SERVICE = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
`;

const VIRTUAL_SERVICE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
`;

const PROXY: ProxyView = {
  id: 'reviews-v1-1.default', kind: 'sidecar', generator: 'envoy', namespace: 'default', labels: { app: 'reviews', version: 'v1' },
  serviceAccount: 'reviews', workloadName: 'reviews-v1', ipAddresses: ['127.0.0.2'], ports: [{ port: 9080, name: 'http' }], locality: '', version: '0.1.0',
  interceptionMode: 'REDIRECT', appPorts: [], localServicePorts: [],
};

function recorder(publisher: SnapshotPublisher): { events: { version: number; kinds: ResourceKind[] }[] } {
  const events: { version: number; kinds: ResourceKind[] }[] = [];
  publisher.subscribe((next: MeshSnapshot, kinds) => events.push({ version: next.version, kinds: [...kinds].sort() }));
  return { events };
}

describe('SnapshotPublisher', () => {
  it('rebuilds on a config change and names the kinds that changed', () => {
    const config = new MemoryConfigSource({ analyzers: [] });
    config.apply([{ name: 'svc.yaml', text: SERVICE }]);
    const publisher = new SnapshotPublisher({ config });
    const { events } = recorder(publisher);
    assert.equal(publisher.current().services.length, 1);
    config.apply([{ name: 'vs.yaml', text: VIRTUAL_SERVICE }]);
    assert.deepEqual(events, [{ version: 2, kinds: ['VirtualService'] }]);
    assert.equal(publisher.current().virtualServices('mesh', 'default').length, 1);
    publisher.close();
  });

  it('turns a connecting proxy into endpoints and reports a Workload change', () => {
    const config = new MemoryConfigSource({ analyzers: [] });
    config.apply([{ name: 'svc.yaml', text: SERVICE }]);
    const proxies = new ProxyWorkloadRegistry();
    const publisher = new SnapshotPublisher({ config, workloads: [proxies] });
    const { events } = recorder(publisher);
    proxies.register(PROXY, 'conn-1');
    assert.deepEqual(events, [{ version: 2, kinds: ['Workload'] }]);
    const snapshot = publisher.current();
    const reviews = snapshot.service('reviews.default.svc.cluster.local')!;
    assert.deepEqual(snapshot.endpoints(reviews, 9080).map((e) => `${e.address}:${e.port}`), ['127.0.0.2:9080']);
    proxies.unregister('conn-1');
    assert.equal(publisher.current().endpoints(publisher.current().service('reviews.default.svc.cluster.local')!, 9080).length, 0);
    publisher.close();
  });

  it('does not notify when nothing changed', () => {
    const config = new MemoryConfigSource({ analyzers: [] });
    const publisher = new SnapshotPublisher({ config });
    const { events } = recorder(publisher);
    config.apply([{ name: 'svc.yaml', text: SERVICE }]);
    config.apply([{ name: 'svc.yaml', text: SERVICE }]);
    assert.equal(events.length, 1);
    publisher.close();
  });

  it('counts a proxy and the Pod it runs in once, but never merges two workloads of config that share an address', () => {
    const config = new MemoryConfigSource({ analyzers: [] });
    const pod = `apiVersion: v1
kind: Pod
metadata: {name: reviews-v1-1, namespace: default, labels: {app: reviews, version: v1}}
spec: {containers: [{name: app, image: reviews}]}
status: {podIP: 127.0.0.2}
`;
    const entries = ['v2', 'v3'].map((version, i) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-${version}, namespace: default}
spec: {address: 127.0.0.1, labels: {app: reviews, version: ${version}}, ports: {http: ${19080 + i}}}
`).join('---\n');
    config.apply([{ name: 'svc.yaml', text: SERVICE }, { name: 'pod.yaml', text: pod }, { name: 'entries.yaml', text: entries }]);
    const proxies = new ProxyWorkloadRegistry();
    const publisher = new SnapshotPublisher({ config, workloads: [proxies] });
    proxies.register(PROXY, 'conn-1');
    const snapshot = publisher.current();
    const reviews = snapshot.service('reviews.default.svc.cluster.local')!;
    assert.deepEqual(snapshot.endpoints(reviews, 9080).map((e) => `${e.address}:${e.port}`), ['127.0.0.1:19080', '127.0.0.1:19081', '127.0.0.2:9080']);
    publisher.close();
  });
});
