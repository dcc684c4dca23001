import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ProxyView } from '../model/index.ts';
import { ProxyWorkloadRegistry } from './proxy-workload-registry.ts';

function sidecar(overrides: Partial<ProxyView> = {}): ProxyView {
  return {
    id: 'reviews-v1-1.default',
    kind: 'sidecar',
    generator: 'envoy',
    namespace: 'default',
    labels: { app: 'reviews', version: 'v1' },
    serviceAccount: 'bookinfo-reviews',
    workloadName: 'reviews-v1',
    ipAddresses: ['10.0.0.1', 'fd00::1'],
    ports: [{ port: 9080, name: 'http', protocol: 'TCP' }],
    locality: 'us-east1/b',
    version: '1.24.0',
    interceptionMode: 'REDIRECT',
    appPorts: [], localServicePorts: [],
    ...overrides,
  };
}

/** Counts the notifications of `registry`. */
function counter(registry: ProxyWorkloadRegistry): () => number {
  let count = 0;
  registry.subscribe(() => count++);
  return () => count;
}

describe('ProxyWorkloadRegistry', () => {
  it('turns a connected sidecar into a workload', () => {
    const registry = new ProxyWorkloadRegistry();
    const notified = counter(registry);
    const workload = registry.register(sidecar(), 'conn-1');
    assert.deepEqual(registry.workloads(), [{
      uid: 'proxy/default/reviews-v1-1',
      name: 'reviews-v1',
      namespace: 'default',
      labels: { app: 'reviews', version: 'v1' },
      serviceAccount: 'bookinfo-reviews',
      address: '10.0.0.1',
      ports: [{ port: 9080, name: 'http', protocol: 'TCP' }],
      locality: 'us-east1/b',
      network: '',
      weight: 1,
      healthy: true,
      tlsMode: 'istio',
      origin: 'proxy',
    }]);
    assert.equal(workload, registry.workloads()[0]);
    assert.equal(notified(), 1);
  });

  it('takes a sidecar labelled security.istio.io/tlsMode: disabled as one that does not accept mutual TLS', () => {
    const registry = new ProxyWorkloadRegistry();
    assert.equal(registry.register(sidecar({ labels: { app: 'reviews', 'security.istio.io/tlsMode': 'disabled' } }), 'conn-1')?.tlsMode, 'disabled');
    assert.equal(registry.register(sidecar({ labels: { app: 'reviews', 'security.istio.io/tlsMode': 'istio' } }), 'conn-1')?.tlsMode, 'istio');
  });

  it('keeps a workload unhealthy until its readiness gate says it is ready', () => {
    const ready = new Set<string>();
    let changed: () => void = () => undefined;
    const registry = new ProxyWorkloadRegistry({ readiness: { isReady: (uid) => ready.has(uid), subscribe: (l) => { changed = l; return () => undefined; } } });
    registry.register(sidecar(), 'conn-1');
    assert.equal(registry.workloads()[0]?.healthy, false);
    const notified = counter(registry);
    ready.add('proxy/default/reviews-v1-1');
    changed();
    assert.equal(registry.workloads()[0]?.healthy, true);
    assert.equal(notified(), 1);
  });

  it('removes the workload when its connection closes', () => {
    const registry = new ProxyWorkloadRegistry();
    registry.register(sidecar(), 'conn-1');
    const notified = counter(registry);
    registry.unregister('conn-1');
    assert.deepEqual(registry.workloads(), []);
    assert.equal(notified(), 1);
  });

  it('keeps replicas of one workload apart by their pod names', () => {
    const registry = new ProxyWorkloadRegistry();
    registry.register(sidecar(), 'conn-1');
    registry.register(sidecar({ id: 'reviews-v1-2.default', ipAddresses: ['10.0.0.2'] }), 'conn-2');
    assert.deepEqual(registry.workloads().map((w) => `${w.uid} ${w.name} ${w.address}`), [
      'proxy/default/reviews-v1-1 reviews-v1 10.0.0.1',
      'proxy/default/reviews-v1-2 reviews-v1 10.0.0.2',
    ]);
  });

  it('keeps a workload that reconnected before its old stream closed until the last connection goes', () => {
    const registry = new ProxyWorkloadRegistry();
    const notified = counter(registry);
    registry.register(sidecar(), 'old');
    registry.register(sidecar(), 'new');
    assert.equal(registry.workloads().length, 1);
    assert.equal(notified(), 1);
    registry.unregister('old');
    assert.equal(registry.workloads().length, 1);
    assert.equal(notified(), 1);
    registry.unregister('new');
    assert.deepEqual(registry.workloads(), []);
    assert.equal(notified(), 2);
  });

  it('describes a workload by its newest connection, and by the older one again when the newest goes', () => {
    const registry = new ProxyWorkloadRegistry();
    registry.register(sidecar(), 'old');
    registry.register(sidecar({ labels: { app: 'reviews', version: 'v2' } }), 'new');
    assert.deepEqual(registry.workloads()[0]?.labels, { app: 'reviews', version: 'v2' });
    registry.unregister('new');
    assert.deepEqual(registry.workloads()[0]?.labels, { app: 'reviews', version: 'v1' });
  });

  it('replaces what a connection said when it registers again', () => {
    const registry = new ProxyWorkloadRegistry();
    registry.register(sidecar(), 'conn-1');
    const notified = counter(registry);
    registry.register(sidecar(), 'conn-1');
    assert.equal(notified(), 0);
    registry.register(sidecar({ id: 'reviews-v1-9.default', ipAddresses: ['10.0.0.9'] }), 'conn-1');
    assert.deepEqual(registry.workloads().map((w) => w.uid), ['proxy/default/reviews-v1-9']);
    assert.equal(notified(), 1);
  });

  it('does not count gateways, proxyless gRPC clients or proxies with no IP as workloads', () => {
    const registry = new ProxyWorkloadRegistry();
    const notified = counter(registry);
    assert.equal(registry.register(sidecar({ kind: 'router', id: 'istio-ingressgateway-1.istio-system', namespace: 'istio-system' }), 'gw'), undefined);
    assert.equal(registry.register(sidecar({ generator: 'grpc', id: 'my-client' }), 'grpc'), undefined);
    assert.equal(registry.register(sidecar({ id: 'my-proxy', ipAddresses: [] }), 'no-ip'), undefined);
    assert.deepEqual(registry.workloads(), []);
    assert.equal(notified(), 0);
    registry.unregister('gw');
    assert.equal(notified(), 0);
  });

  it('withdraws a workload whose connection registers again as something that is not one', () => {
    const registry = new ProxyWorkloadRegistry();
    registry.register(sidecar(), 'conn-1');
    registry.register(sidecar({ ipAddresses: [] }), 'conn-1');
    assert.deepEqual(registry.workloads(), []);
  });

  it('ignores an unknown connection closing', () => {
    const registry = new ProxyWorkloadRegistry();
    const notified = counter(registry);
    registry.unregister('never-seen');
    assert.equal(notified(), 0);
  });

  it('places a workload on the network its topology label names', () => {
    const registry = new ProxyWorkloadRegistry();
    registry.register(sidecar({ labels: { app: 'reviews', 'topology.istio.io/network': 'net-east' } }), 'conn-1');
    assert.equal(registry.workloads()[0]?.network, 'net-east');
  });

  it('keeps the same workloads array until something changes, sorted by uid', () => {
    const registry = new ProxyWorkloadRegistry();
    registry.register(sidecar({ id: 'ratings-1.default', workloadName: 'ratings' }), 'b');
    registry.register(sidecar(), 'a');
    const first = registry.workloads();
    assert.deepEqual(first.map((w) => w.uid), ['proxy/default/ratings-1', 'proxy/default/reviews-v1-1']);
    registry.register(sidecar(), 'a2');
    assert.equal(registry.workloads(), first);
  });

  it('stops notifying a listener that unsubscribed', () => {
    const registry = new ProxyWorkloadRegistry();
    let count = 0;
    const unsubscribe = registry.subscribe(() => count++);
    registry.register(sidecar(), 'conn-1');
    unsubscribe();
    registry.unregister('conn-1');
    assert.equal(count, 1);
  });
});
