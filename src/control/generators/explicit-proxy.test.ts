import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Cluster, HttpConnectionManager, Listener } from '../../xds/envoy/index.ts';
import type { Workload } from '../model/index.ts';
import { snapshotFromYaml } from '../snapshot/test-support.ts';
import { ClusterGenerator } from './cluster-generator.ts';
import { testProxy } from './cluster-test-support.ts';
import { HTTP_PROXY_ROUTE, HTTP_PROXY_TUNNEL } from './explicit-proxy.ts';
import { simulateRoute } from './route-simulation.ts';
import { listenersFor, routeConfigurationFor } from './route-test-support.ts';

const CONFIG = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  selector: { app: reviews }
  ports: [{ name: http, port: 9080 }]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: 8000 }]
---
apiVersion: v1
kind: Service
metadata: { name: mysql, namespace: default }
spec:
  selector: { app: mysql }
  ports: [{ name: tcp, port: 3306 }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - route: [{ destination: { host: reviews, subset: v1 } }]
`;

const WORKLOADS: Partial<Workload>[] = [
  { name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, address: '127.10.0.3', ports: [{ port: 9080, name: 'http' }] },
  { name: 'web', labels: { app: 'web' }, address: '127.10.0.4', ports: [{ port: 8000 }] },
];

/** reviews-v1's sidecar in explicit mode: its app serves 9080 on 127.0.0.1:41000. */
const REVIEWS = testProxy({
  ipAddresses: ['127.10.0.3'], labels: { app: 'reviews', version: 'v1' }, ports: [{ port: 9080, name: 'http' }],
  interceptionMode: 'NONE', appPorts: [{ port: 9080, appPort: 41000 }],
  localServicePorts: [
    { localPort: 20000, hostname: 'reviews.default.svc.cluster.local', port: 9080 },
    { localPort: 20001, hostname: 'mysql.default.svc.cluster.local', port: 3306 },
  ],
});

function listener(listeners: readonly Listener[], name: string): Listener {
  const found = listeners.find((l) => l.name === name);
  assert.ok(found !== undefined, `no listener ${name}; have ${listeners.map((l) => l.name).join(', ')}`);
  return found;
}

describe('a sidecar in explicit mode (INTERCEPTION_MODE NONE)', () => {
  const snapshot = snapshotFromYaml(CONFIG, WORKLOADS);

  it('binds its own ports on its address, the HTTP proxy on 15001, and the tunnel as an internal listener', () => {
    const listeners = listenersFor(REVIEWS, snapshot);
    assert.deepEqual(listeners.map((l) => l.name), ['127.10.0.3_9080', '127.10.0.3_20000', '127.10.0.3_20001', 'http_proxy', HTTP_PROXY_TUNNEL]);
    assert.deepEqual(listener(listeners, '127.10.0.3_9080').address, { socketAddress: { address: '127.10.0.3', portValue: 9080 } });
    assert.deepEqual(listener(listeners, 'http_proxy').address, { socketAddress: { address: '127.10.0.3', portValue: 15001 } });
    const tunnel = listener(listeners, HTTP_PROXY_TUNNEL);
    assert.equal(tunnel.address, undefined);
    assert.deepEqual(tunnel.internalListener, {});
    const hcm = (l: Listener) => l.filterChains![0]!.filters![0]!.typedConfig as unknown as HttpConnectionManager;
    assert.deepEqual(hcm(listener(listeners, 'http_proxy')).upgradeConfigs?.map((u) => u.upgradeType), ['websocket', 'CONNECT']);
    assert.deepEqual(hcm(tunnel).upgradeConfigs?.map((u) => u.upgradeType), ['websocket']);
    assert.equal(hcm(tunnel).rds?.routeConfigName, HTTP_PROXY_ROUTE);
  });

  it('sends inbound traffic to the port its app was given, and has the tunnel cluster', () => {
    const clusters = new ClusterGenerator().generate(REVIEWS, snapshot, 'all').map((r) => r.resource as unknown as Cluster);
    const inbound = clusters.find((c) => c.name === 'inbound|9080||');
    assert.deepEqual(inbound?.loadAssignment?.endpoints?.[0]?.lbEndpoints?.[0]?.endpoint?.address, { socketAddress: { address: '127.0.0.1', portValue: 41000 } });
    const tunnel = clusters.find((c) => c.name === HTTP_PROXY_TUNNEL);
    assert.deepEqual(tunnel?.loadAssignment?.endpoints?.[0]?.lbEndpoints?.[0]?.endpoint?.address, { envoyInternalAddress: { serverListenerName: HTTP_PROXY_TUNNEL } });
  });

  it('routes absolute-form requests by host:port with the VirtualService, bare names only for port 80', () => {
    const config = routeConfigurationFor(REVIEWS, snapshot, HTTP_PROXY_ROUTE);
    const forward = (authority: string, headers: Record<string, string> = {}) => {
      const outcome = simulateRoute(config, { authority, path: '/reviews/0', method: 'GET', headers });
      return outcome.kind === 'forward' ? outcome.cluster : `${outcome.kind} ${outcome.status}`;
    };
    assert.equal(forward('reviews:9080'), 'outbound|9080|v1|reviews.default.svc.cluster.local');
    assert.equal(forward('reviews.default.svc.cluster.local:9080', { 'end-user': 'jason' }), 'outbound|9080|v2|reviews.default.svc.cluster.local');
    assert.equal(forward('web'), 'outbound|80||web.default.svc.cluster.local');
    assert.equal(forward('web:80'), 'outbound|80||web.default.svc.cluster.local');
    assert.equal(forward('reviews'), 'direct-response 502');
    assert.equal(forward('example.com'), 'direct-response 502');
  });

  it('terminates CONNECT to an HTTP service into the tunnel, and carries CONNECT to a TCP service to its cluster', () => {
    const config = routeConfigurationFor(REVIEWS, snapshot, HTTP_PROXY_ROUTE);
    const connect = (authority: string) => {
      const outcome = simulateRoute(config, { authority, path: '', method: 'CONNECT' });
      return outcome.kind === 'forward' ? outcome.cluster : `${outcome.kind} ${outcome.status}`;
    };
    assert.equal(connect('reviews:9080'), HTTP_PROXY_TUNNEL);
    assert.equal(connect('mysql:3306'), 'outbound|3306||mysql.default.svc.cluster.local');
    assert.equal(connect('example.com:443'), 'direct-response 502');
  });

  it('gives a service port a port of its own: HTTP routed by the service\'s virtual host whatever the Host, TCP to its cluster', () => {
    const listeners = listenersFor(REVIEWS, snapshot);
    const http = listener(listeners, '127.10.0.3_20000');
    assert.deepEqual(http.address, { socketAddress: { address: '127.10.0.3', portValue: 20000 } });
    const hcm = http.filterChains![0]!.filters![0]!.typedConfig as unknown as HttpConnectionManager;
    const routes = hcm.routeConfig!;
    const to = (headers: Record<string, string>) => {
      const outcome = simulateRoute(routes, { authority: '127.10.0.3:20000', path: '/reviews/0', method: 'GET', headers });
      return outcome.kind === 'forward' ? outcome.cluster : outcome.kind;
    };
    assert.equal(to({}), 'outbound|9080|v1|reviews.default.svc.cluster.local');
    assert.equal(to({ 'end-user': 'jason' }), 'outbound|9080|v2|reviews.default.svc.cluster.local');
    const tcp = listener(listeners, '127.10.0.3_20001').filterChains![0]!.filters![0]!.typedConfig as Record<string, unknown>;
    assert.equal(tcp['cluster'], 'outbound|3306||mysql.default.svc.cluster.local');
  });

  it('leaves a sidecar whose traffic is captured as it was', () => {
    const captured = listenersFor({ ...REVIEWS, interceptionMode: 'REDIRECT' }, snapshot).map((l) => l.name);
    assert.ok(captured.includes('virtualOutbound') && captured.includes('virtualInbound'));
    assert.ok(!captured.includes('http_proxy'));
  });
});

describe('explicit-mode sidecars sharing one loopback address (local mode where only 127.0.0.1 exists)', () => {
  const shared: Partial<Workload>[] = [
    { name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, address: '127.0.0.1', ports: [{ port: 9080, name: 'http', hostPort: 41001 }] },
    { name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' }, address: '127.0.0.1', ports: [{ port: 9080, name: 'http', hostPort: 41002 }] },
  ];
  const snapshot = snapshotFromYaml(CONFIG, shared);
  const v1 = testProxy({
    ipAddresses: ['127.0.0.1'], labels: { app: 'reviews', version: 'v1' }, ports: [{ port: 9080, name: 'http', hostPort: 41001 }],
    interceptionMode: 'NONE', appPorts: [{ port: 41001, appPort: 51001 }],
  });

  it('reaches each replica at its hostPort', () => {
    assert.deepEqual(snapshot.endpoints(snapshot.service('reviews.default.svc.cluster.local')!, 9080).map((e) => `${e.address}:${e.port}`).sort(), ['127.0.0.1:41001', '127.0.0.1:41002']);
  });

  it('binds only its own hostPort, and forwards it to its app', () => {
    const listeners = listenersFor(v1, snapshot);
    assert.deepEqual(listeners.filter((l) => l.trafficDirection === 'INBOUND').map((l) => l.name), ['127.0.0.1_41001']);
    const clusters = new ClusterGenerator().generate(v1, snapshot, 'all').map((r) => r.resource as unknown as Cluster);
    const inbound = clusters.filter((c) => c.name.startsWith('inbound|'));
    assert.deepEqual(inbound.map((c) => c.name), ['inbound|41001||']);
    assert.deepEqual(inbound[0]?.loadAssignment?.endpoints?.[0]?.lbEndpoints?.[0]?.endpoint?.address, { socketAddress: { address: '127.0.0.1', portValue: 51001 } });
  });
});
