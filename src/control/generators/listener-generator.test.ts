import assert from 'node:assert/strict';
import { seedText } from '../../config/test-support.ts';
import { describe, it } from 'node:test';
import { TypeUrl } from '../../xds/index.ts';
import type { HttpConnectionManager, Listener } from '../../xds/envoy/index.ts';
import type { Workload } from '../model/index.ts';
import { snapshotFromYaml, type SnapshotFromYamlOptions } from '../snapshot/test-support.ts';
import type { MeshSnapshot } from '../snapshot/index.ts';
import { testProxy } from './cluster-test-support.ts';
import { ListenerGenerator } from './listener-generator.ts';
import { chainAction, selectFilterChain } from './listener-simulation.ts';
import { simulateRoute } from './route-simulation.ts';
import { connectTcp, grpcRejection, listenersFor, routeConfigurationFor, sendHttp } from './route-test-support.ts';

const seed = seedText;

const SERVICES = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  clusterIP: 10.96.0.10
  selector: { app: reviews }
  ports: [{ name: http, port: 9080 }]
---
apiVersion: v1
kind: Service
metadata: { name: mysql, namespace: default }
spec:
  clusterIP: 10.96.0.20
  selector: { app: mysql }
  ports: [{ name: tcp, port: 3306 }]
---
apiVersion: v1
kind: Service
metadata: { name: legacy, namespace: default }
spec:
  clusterIP: 10.96.0.30
  selector: { app: legacy }
  ports: [{ name: legacy, port: 7000 }]
`;

const WORKLOADS: Partial<Workload>[] = [
  { name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, address: '10.0.0.1', ports: [{ port: 9080 }] },
];

function mesh(yaml = '', options: SnapshotFromYamlOptions = {}): MeshSnapshot {
  return snapshotFromYaml(`${SERVICES}\n---\n${yaml}`, WORKLOADS, options);
}

function listener(listeners: readonly Listener[], name: string): Listener {
  const found = listeners.find((l) => l.name === name);
  assert.ok(found !== undefined, `no listener ${name}; have ${listeners.map((l) => l.name).join(', ')}`);
  return found;
}

describe('ListenerGenerator for a sidecar, outbound', () => {
  it('gives virtualOutbound, a listener per service port, and virtualInbound', () => {
    assert.deepEqual(listenersFor(testProxy(), mesh()).map((l) => l.name), [
      'virtualOutbound', '0.0.0.0_7000', '0.0.0.0_9080', '10.96.0.20_3306', 'virtualInbound',
    ]);
  });

  it('hands captured connections to the listener of their destination, passing through what none takes', () => {
    const virtualOutbound = listener(listenersFor(testProxy(), mesh()), 'virtualOutbound');
    assert.equal(virtualOutbound.useOriginalDst, true);
    assert.deepEqual(virtualOutbound.address, { socketAddress: { address: '0.0.0.0', portValue: 15001 } });
    assert.deepEqual(connectTcp(testProxy(), mesh(), { address: '93.184.216.34', port: 443 }).action, { kind: 'tcp', cluster: 'PassthroughCluster' });
    assert.deepEqual(connectTcp(testProxy(), mesh(), { address: '10.0.0.100', port: 15001 }).action, { kind: 'tcp', cluster: 'BlackHoleCluster' });
    const blocked = mesh('', { mesh: { outboundTrafficPolicy: 'REGISTRY_ONLY' } });
    assert.deepEqual(connectTcp(testProxy(), blocked, { address: '93.184.216.34', port: 443 }).action, { kind: 'tcp', cluster: 'BlackHoleCluster' });
  });

  it('routes an HTTP port through a connection manager that fetches the route configuration <port> over ADS', () => {
    const http = listener(listenersFor(testProxy(), mesh()), '0.0.0.0_9080');
    assert.equal(http.bindToPort, false);
    const hcm = http.filterChains?.[0]?.filters[0]?.typedConfig as HttpConnectionManager;
    assert.deepEqual(hcm.rds, { configSource: { ads: {}, resourceApiVersion: 'V3' }, routeConfigName: '9080' });
    assert.deepEqual(hcm.httpFilters.map((f) => f.name), ['envoy.filters.http.fault', 'envoy.filters.http.cors', 'envoy.filters.http.router']);
    assert.equal(hcm.useRemoteAddress, false);
  });

  it('sends a TCP port to the service cluster from a listener on the service\'s address', () => {
    assert.deepEqual(connectTcp(testProxy(), mesh(), { address: '10.96.0.20', port: 3306 }), {
      listener: '10.96.0.20_3306', filterChain: '10.96.0.20_3306-0', action: { kind: 'tcp', cluster: 'outbound|3306||mysql.default.svc.cluster.local' },
    });
  });

  it('splits TCP connections by the weights of a VirtualService tcp rule, and narrows by destination subnet', () => {
    const snapshot = mesh(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: mysql, namespace: default }
spec:
  hosts: [mysql]
  tcp:
  - match: [{ destinationSubnets: [10.96.0.0/16], port: 3306, sourceLabels: { app: nobody } }]
    route: [{ destination: { host: mysql, subset: never } }]
  - route:
    - { destination: { host: mysql, subset: primary }, weight: 75 }
    - { destination: { host: mysql, subset: replica }, weight: 25 }`);
    assert.deepEqual(connectTcp(testProxy(), snapshot, { address: '10.96.0.20', port: 3306 }).action, {
      kind: 'tcp',
      weightedClusters: [
        { name: 'outbound|3306|primary|mysql.default.svc.cluster.local', weight: 75 },
        { name: 'outbound|3306|replica|mysql.default.svc.cluster.local', weight: 25 },
      ],
    });
    const selected = connectTcp(testProxy({ labels: { app: 'nobody' } }), snapshot, { address: '10.96.0.20', port: 3306 });
    assert.deepEqual(selected.action, { kind: 'tcp', cluster: 'outbound|3306|never|mysql.default.svc.cluster.local' });
  });

  it('tells HTTP from other bytes on a port of undeclared protocol', () => {
    const sniffed = listener(listenersFor(testProxy(), mesh()), '0.0.0.0_7000');
    assert.deepEqual(sniffed.listenerFilters?.map((f) => f.name), ['envoy.filters.listener.http_inspector']);
    const http = selectFilterChain(sniffed, { address: '10.96.0.30', port: 7000, applicationProtocol: 'http/1.1' });
    assert.deepEqual(http !== undefined && chainAction(http), { kind: 'http', rds: '7000' });
    assert.deepEqual(connectTcp(testProxy(), mesh(), { address: '10.96.0.30', port: 7000 }).action, { kind: 'tcp', cluster: 'outbound|7000||legacy.default.svc.cluster.local' });
    assert.deepEqual(connectTcp(testProxy(), mesh(), { address: '192.0.2.1', port: 7000 }).action, { kind: 'tcp', cluster: 'PassthroughCluster' });
    const trace = sendHttp(testProxy(), mesh(), { authority: 'legacy:7000', path: '/', port: 7000 });
    assert.equal(trace.outcome.kind === 'forward' && trace.outcome.cluster, 'outbound|7000||legacy.default.svc.cluster.local');
  });

  it('routes TLS by SNI as a VirtualService tls rule says, then to the service\'s own cluster', () => {
    const snapshot = mesh(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: default }
spec:
  hosts: [api.example.com]
  addresses: [192.0.2.50]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{ number: 443, name: tls, protocol: TLS }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api, namespace: default }
spec:
  hosts: [api.example.com]
  tls:
  - match: [{ sniHosts: [v2.api.example.com], port: 443 }]
    route: [{ destination: { host: api.example.com, subset: v2 } }]`);
    const to = (serverName: string): unknown => connectTcp(testProxy(), snapshot, { address: '192.0.2.50', port: 443, serverName, transportProtocol: 'tls' });
    assert.deepEqual(to('v2.api.example.com'), { listener: '192.0.2.50_443', filterChain: '192.0.2.50_443-0', action: { kind: 'tcp', cluster: 'outbound|443|v2|api.example.com' } });
    assert.deepEqual(to('api.example.com'), { listener: '192.0.2.50_443', filterChain: '192.0.2.50_443-1', action: { kind: 'tcp', cluster: 'outbound|443||api.example.com' } });
    assert.deepEqual(listener(listenersFor(testProxy(), snapshot), '192.0.2.50_443').listenerFilters?.map((f) => f.name), ['envoy.filters.listener.tls_inspector']);
  });

  it('shares 0.0.0.0_<port> among TLS services without an address, by their hostnames as SNI', () => {
    const snapshot = mesh(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: external, namespace: default }
spec:
  hosts: [login.example.com, files.example.com]
  location: MESH_EXTERNAL
  resolution: NONE
  ports: [{ number: 443, name: tls, protocol: TLS }]`);
    const to = (serverName: string): unknown => connectTcp(testProxy(), snapshot, { address: '198.51.100.1', port: 443, serverName, transportProtocol: 'tls' }).action;
    assert.deepEqual(to('login.example.com'), { kind: 'tcp', cluster: 'outbound|443||login.example.com' });
    assert.deepEqual(to('files.example.com'), { kind: 'tcp', cluster: 'outbound|443||files.example.com' });
    assert.deepEqual(to('other.example.com'), { kind: 'tcp', cluster: 'PassthroughCluster' });
  });
});

describe('ListenerGenerator for a sidecar, inbound', () => {
  const proxy = testProxy({ ipAddresses: ['10.0.0.1'], labels: { app: 'reviews', version: 'v1' }, ports: [{ port: 9080 }, { port: 5432, name: 'tcp-db' }, { port: 6000 }] });

  function inbound(port: number, applicationProtocol?: string): ReturnType<typeof chainAction> {
    const virtualInbound = listener(listenersFor(proxy, mesh()), 'virtualInbound');
    const chain = selectFilterChain(virtualInbound, { address: '10.0.0.1', port, ...(applicationProtocol !== undefined ? { applicationProtocol } : {}) });
    assert.ok(chain !== undefined);
    return chainAction(chain);
  }

  it('listens on 15006 and restores the original destination without handing connections to other listeners', () => {
    const virtualInbound = listener(listenersFor(proxy, mesh()), 'virtualInbound');
    assert.deepEqual(virtualInbound.address, { socketAddress: { address: '0.0.0.0', portValue: 15006 } });
    assert.equal(virtualInbound.useOriginalDst, undefined);
    assert.equal(virtualInbound.listenerFilters?.[0]?.name, 'envoy.filters.listener.original_dst');
    assert.equal(virtualInbound.trafficDirection, 'INBOUND');
  });

  it('routes HTTP for a service port to inbound|<port>|| with only reset-before-request retries and no timeout', () => {
    const action = inbound(9080, 'http/1.1');
    assert.equal(action.kind, 'http');
    const config = action.kind === 'http' ? action.routeConfig : undefined;
    assert.ok(config !== undefined);
    assert.equal(config.name, 'inbound|9080||');
    const outcome = simulateRoute(config, { authority: 'reviews:9080', path: '/reviews/1' });
    assert.equal(outcome.kind === 'forward' && outcome.cluster, 'inbound|9080||');
    assert.deepEqual(outcome.kind === 'forward' && outcome.entry.route?.retryPolicy, { retryOn: 'reset-before-request', numRetries: 2 });
    assert.equal(outcome.kind === 'forward' && outcome.entry.route?.timeout, '0s');
    assert.equal(outcome.kind === 'forward' && outcome.entry.decorator?.operation, 'reviews.default.svc.cluster.local:9080/*');
  });

  it('sends a TCP port to its inbound cluster, sniffs a port of unknown protocol, and passes through other ports', () => {
    assert.deepEqual(inbound(5432), { kind: 'tcp', cluster: 'inbound|5432||' });
    assert.equal(inbound(6000, 'http/1.1').kind, 'http');
    assert.deepEqual(inbound(6000), { kind: 'tcp', cluster: 'inbound|6000||' });
    assert.deepEqual(inbound(7777), { kind: 'tcp', cluster: 'InboundPassthroughCluster' });
    assert.deepEqual(inbound(15006), { kind: 'tcp', cluster: 'BlackHoleCluster' });
  });
});

const GATEWAY_PROXY = testProxy({ kind: 'router', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, workloadName: 'istio-ingressgateway' });

describe('ListenerGenerator for a gateway', () => {
  it('binds a listener per HTTP server port, routed by http.<port> and trusting the client address', () => {
    const listeners = listenersFor(GATEWAY_PROXY, mesh(seed('002-booking-gateway.yaml')));
    assert.deepEqual(listeners.map((l) => l.name), ['0.0.0.0_80']);
    const hcm = listeners[0]?.filterChains?.[0]?.filters[0]?.typedConfig as HttpConnectionManager;
    assert.equal(listeners[0]?.bindToPort, undefined);
    assert.equal(hcm.rds?.routeConfigName, 'http.80');
    assert.equal(hcm.useRemoteAddress, true);
  });

  it('listens on the targetPort of the gateway Service, so servers on 80 and 8080 share the listener on 8080 (as Istio)', () => {
    const snapshot = mesh(`${seed('002-booking-gateway.yaml')}
---
apiVersion: v1
kind: Service
metadata: { name: istio-ingressgateway, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  ports: [{ name: http2, port: 80, targetPort: 8080 }, { name: https, port: 443, targetPort: 8443 }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: other, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 8080, name: http, protocol: HTTP }, hosts: ['other.example.com'] }]
`);
    const listeners = listenersFor(GATEWAY_PROXY, snapshot);
    assert.deepEqual(listeners.map((l) => l.name), ['0.0.0.0_8080']);
    const routes = routeConfigurationFor(GATEWAY_PROXY, snapshot, 'http.8080');
    assert.equal(simulateRoute(routes, { authority: 'shop.example.com', path: '/api/v1/booking' }).kind, 'forward');
  });

  it('proxies a TCP server by the tcp rule of a VirtualService bound to the gateway', () => {
    const snapshot = mesh(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: db, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 31400, name: tcp, protocol: TCP }, hosts: ["*"] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: db, namespace: default }
spec:
  hosts: ["*"]
  gateways: [istio-system/db]
  tcp: [{ match: [{ port: 31400 }], route: [{ destination: { host: mysql, port: { number: 3306 } } }] }]`);
    assert.deepEqual(connectTcp(GATEWAY_PROXY, snapshot, { address: '0.0.0.0', port: 31400 }).action, { kind: 'tcp', cluster: 'outbound|3306||mysql.default.svc.cluster.local' });
  });
});

describe('ListenerGenerator for a proxyless gRPC client', () => {
  const client = testProxy({ generator: 'grpc' });

  it('answers the API listener of a dialled target, which grpc-js accepts', () => {
    const [api] = listenersFor(client, mesh(), new Set(['reviews:9080']));
    assert.ok(api !== undefined);
    assert.equal(api.name, 'reviews:9080');
    const hcm = api.apiListener?.apiListener;
    assert.deepEqual(hcm?.rds?.routeConfigName, 'reviews:9080');
    assert.deepEqual(hcm?.httpFilters.map((f) => f.name), ['envoy.filters.http.router']);
    assert.equal(grpcRejection(TypeUrl.Listener, api), undefined);
  });

  it('answers nothing for a target that names no service port', () => {
    assert.deepEqual(new ListenerGenerator().generate(client, mesh(), new Set(['reviews:1', 'nothing:80'])), []);
  });
});
