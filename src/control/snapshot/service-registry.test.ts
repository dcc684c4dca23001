import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Workload } from '../model/index.ts';
import type { MeshSnapshot } from './mesh-snapshot.ts';
import { snapshotFromYaml } from './test-support.ts';

function service(name: string, namespace: string, spec: string, metadata = ''): string {
  return `---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${namespace}${metadata} }
spec: ${spec}
`;
}

function serviceEntry(name: string, namespace: string, spec: string): string {
  const indented = spec.trim().split('\n').map((line) => `  ${line}`).join('\n');
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${indented}
`;
}

/** `address:port` of each endpoint of `hostname` on `port`. */
function endpointsOf(s: MeshSnapshot, hostname: string, port: number, subset?: Record<string, string>): string[] {
  const svc = s.service(hostname);
  assert.ok(svc, `no service ${hostname}`);
  return s.endpoints(svc, port, subset).map((e) => `${e.address}:${e.port}`);
}

const REVIEWS = service('reviews', 'default', '{ selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }');

describe('services from Kubernetes Services', () => {
  it('names a Service by its FQDN and reads its ports and protocols', () => {
    const s = snapshotFromYaml(service('reviews', 'shop', `
  clusterIP: 10.96.0.10
  ports:
  - { name: http-web, port: 80, targetPort: 8080 }
  - { name: grpc, port: 9000, targetPort: grpc-port }
  - { name: metrics, port: 9090, appProtocol: http }
  - { name: db, port: 5432 }`, ', labels: { app: reviews }'));
    const svc = s.service('reviews.shop.svc.cluster.local');
    assert.ok(svc);
    assert.equal(svc.name, 'reviews');
    assert.equal(svc.namespace, 'shop');
    assert.equal(svc.address, '10.96.0.10');
    assert.equal(svc.resolution, 'ClientSideLB');
    assert.equal(svc.meshExternal, false);
    assert.deepEqual(svc.exportTo, ['*']);
    assert.deepEqual(svc.labels, { app: 'reviews' });
    assert.deepEqual(svc.ports, [
      { name: 'http-web', port: 80, targetPort: 8080, protocol: 'HTTP' },
      { name: 'grpc', port: 9000, targetPort: 'grpc-port', protocol: 'GRPC' },
      { name: 'metrics', port: 9090, protocol: 'HTTP' },
      { name: 'db', port: 5432, protocol: 'Unsupported' },
    ]);
    assert.equal(svc.origin.kind, 'Service');
  });

  it('allocates a virtual IP in 240.240.0.0/16 to a Service written without clusterIP', () => {
    const svc = snapshotFromYaml(REVIEWS).service('reviews.default.svc.cluster.local');
    assert.match(svc?.address ?? '', /^240\.240\.\d+\.\d+$/);
    assert.equal(snapshotFromYaml(REVIEWS).service('reviews.default.svc.cluster.local')?.address, svc?.address);
  });

  it('gives a headless Service no address and passthrough resolution', () => {
    const svc = snapshotFromYaml(service('db', 'default', '{ clusterIP: None, selector: { app: db }, ports: [{ name: tcp, port: 5432 }] }')).service('db.default.svc.cluster.local');
    assert.equal(svc?.address, undefined);
    assert.equal(svc?.resolution, 'Passthrough');
  });

  it('resolves an ExternalName Service by DNS to its external name', () => {
    const s = snapshotFromYaml(service('ext', 'default', '{ type: ExternalName, externalName: api.example.com, ports: [{ name: https, port: 443 }] }'));
    const svc = s.service('ext.default.svc.cluster.local');
    assert.equal(svc?.resolution, 'DNS');
    assert.equal(svc?.meshExternal, true);
    assert.equal(svc?.address, undefined);
    assert.deepEqual(endpointsOf(s, 'ext.default.svc.cluster.local', 443), ['api.example.com:443']);
  });

  it('reads exportTo from the networking.istio.io/exportTo annotation', () => {
    const s = snapshotFromYaml(
      service('a', 'shop', '{ ports: [{ port: 80 }] }', ", annotations: { networking.istio.io/exportTo: '., web' }") +
      service('b', 'shop', '{ ports: [{ port: 80 }] }', ", annotations: { networking.istio.io/exportTo: '~' }"),
    );
    assert.deepEqual(s.service('a.shop.svc.cluster.local')?.exportTo, ['shop', 'web']);
    assert.deepEqual(s.service('b.shop.svc.cluster.local')?.exportTo, []);
  });

  it('uses the mesh cluster domain', () => {
    const s = snapshotFromYaml(REVIEWS, [], { mesh: { clusterDomain: 'corp.internal' } });
    assert.ok(s.service('reviews.default.svc.corp.internal'));
    assert.equal(s.service('reviews.default.svc.cluster.local'), undefined);
  });
});

describe('services from ServiceEntries', () => {
  it('makes one service per host, named as written', () => {
    const s = snapshotFromYaml(serviceEntry('ext', 'egress', `
hosts: [api.example.com, Auth.Example.com]
addresses: [192.168.10.1]
location: MESH_EXTERNAL
resolution: STATIC
ports: [{ number: 443, name: tls, protocol: TLS, targetPort: 8443 }]
endpoints: [{ address: 1.1.1.1 }]
exportTo: ['.', web]
`));
    assert.deepEqual(s.services.map((x) => x.hostname), ['api.example.com', 'auth.example.com']);
    const svc = s.service('api.example.com')!;
    assert.equal(svc.name, 'api.example.com');
    assert.equal(svc.namespace, 'egress');
    assert.equal(svc.address, '192.168.10.1');
    assert.equal(svc.resolution, 'ClientSideLB');
    assert.equal(svc.meshExternal, true);
    assert.deepEqual(svc.exportTo, ['egress', 'web']);
    assert.deepEqual(svc.ports, [{ name: 'tls', port: 443, targetPort: 8443, protocol: 'TLS' }]);
    assert.equal(svc.origin.kind, 'ServiceEntry');
  });

  it('maps resolution and location as Istio does', () => {
    const cases = [['NONE', 'Passthrough'], ['STATIC', 'ClientSideLB'], ['DNS', 'DNS'], ['DNS_ROUND_ROBIN', 'DNSRoundRobin']] as const;
    for (const [resolution, expected] of cases) {
      const s = snapshotFromYaml(serviceEntry('e', 'default', `hosts: [e.example.com]\nresolution: ${resolution}\nlocation: MESH_INTERNAL\nports: [{ number: 80, name: http, protocol: HTTP }]`));
      assert.equal(s.service('e.example.com')?.resolution, expected, resolution);
      assert.equal(s.service('e.example.com')?.meshExternal, false);
    }
    const none = snapshotFromYaml(serviceEntry('e', 'default', 'hosts: [e.example.com]\nports: [{ number: 80, name: http }]'));
    assert.equal(none.service('e.example.com')?.resolution, 'Passthrough');
    assert.equal(none.service('e.example.com')?.meshExternal, true);
    assert.equal(none.service('e.example.com')?.ports[0]?.protocol, 'Unsupported');
  });

  it('allocates an address only where it can tell the service apart: not for resolution NONE nor wildcard hosts', () => {
    const s = snapshotFromYaml(
      serviceEntry('dns', 'default', 'hosts: [dns.example.com]\nresolution: DNS\nports: [{ number: 80, name: http, protocol: HTTP }]') +
      serviceEntry('none', 'default', 'hosts: [none.example.com]\nresolution: NONE\nports: [{ number: 80, name: http, protocol: HTTP }]') +
      serviceEntry('wild', 'default', 'hosts: ["*.wild.com"]\nresolution: STATIC\nports: [{ number: 80, name: http, protocol: HTTP }]\nendpoints: [{ address: 1.1.1.1 }]'),
    );
    assert.match(s.service('dns.example.com')?.address ?? '', /^240\.240\./);
    assert.equal(s.service('none.example.com')?.address, undefined);
    assert.equal(s.service('*.wild.com')?.address, undefined);
  });

  it('decorates a Service whose hostname it names: one service, ports added, endpoints joined', () => {
    const s = snapshotFromYaml(REVIEWS + serviceEntry('vm', 'default', `
hosts: [reviews.default.svc.cluster.local]
location: MESH_INTERNAL
resolution: STATIC
ports: [{ number: 9080, name: http, protocol: HTTP }, { number: 9443, name: https, protocol: HTTPS }]
endpoints: [{ address: 192.168.1.5 }]
`), [{ labels: { app: 'reviews' }, address: '10.0.0.7' }]);
    assert.deepEqual(s.services.map((x) => x.hostname), ['reviews.default.svc.cluster.local']);
    const svc = s.service('reviews.default.svc.cluster.local')!;
    assert.equal(svc.origin.kind, 'Service');
    assert.deepEqual(svc.ports.map((p) => p.port), [9080, 9443]);
    assert.deepEqual(endpointsOf(s, svc.hostname, 9080), ['10.0.0.7:9080', '192.168.1.5:9080']);
    assert.deepEqual(endpointsOf(s, svc.hostname, 9443), ['192.168.1.5:9443']);
  });
});

describe('endpoints of a Kubernetes Service', () => {
  const workloads: Partial<Workload>[] = [
    { name: 'r1', labels: { app: 'reviews', version: 'v1' }, address: '10.0.0.10', ports: [{ port: 8080, name: 'web' }] },
    { name: 'r2', labels: { app: 'reviews', version: 'v2' }, address: '10.0.0.2', ports: [{ port: 8081, name: 'web' }], healthy: false },
    { name: 'other-ns', namespace: 'shop', labels: { app: 'reviews' }, address: '10.0.1.1' },
    { name: 'other-app', labels: { app: 'ratings' }, address: '10.0.0.3' },
  ];

  it('selects the workloads of its namespace by label, sorted by address, healthy or not', () => {
    const s = snapshotFromYaml(REVIEWS, workloads);
    const eps = s.endpoints(s.service('reviews.default.svc.cluster.local')!, 9080);
    assert.deepEqual(eps.map((e) => `${e.address}:${e.port}`), ['10.0.0.2:9080', '10.0.0.10:9080']);
    assert.deepEqual(eps.map((e) => e.healthy), [false, true]);
    assert.equal(eps[1]?.workload?.name, 'r1');
    assert.equal(eps[1]?.tlsMode, 'istio');
    assert.equal(eps[1]?.serviceAccount, 'default');
  });

  it('reaches the targetPort: a number, or the workload port of that name', () => {
    const s = snapshotFromYaml(service('reviews', 'default', '{ selector: { app: reviews }, ports: [{ name: a, port: 80, targetPort: 9000 }, { name: b, port: 81, targetPort: web }] }'), workloads);
    assert.deepEqual(endpointsOf(s, 'reviews.default.svc.cluster.local', 80), ['10.0.0.2:9000', '10.0.0.10:9000']);
    assert.deepEqual(endpointsOf(s, 'reviews.default.svc.cluster.local', 81), ['10.0.0.2:8081', '10.0.0.10:8080']);
  });

  it('skips a workload without the named target port', () => {
    const s = snapshotFromYaml(service('reviews', 'default', '{ selector: { app: reviews }, ports: [{ name: a, port: 80, targetPort: admin }] }'), [
      ...workloads,
      { name: 'r3', labels: { app: 'reviews' }, address: '10.0.0.4', ports: [{ port: 7000, name: 'admin' }] },
    ]);
    assert.deepEqual(endpointsOf(s, 'reviews.default.svc.cluster.local', 80), ['10.0.0.4:7000']);
  });

  it('maps a WorkloadEntry port by the service port name', () => {
    const s = snapshotFromYaml(service('reviews', 'default', '{ selector: { app: reviews }, ports: [{ name: http, port: 80, targetPort: 9000 }] }'), [
      { name: 'vm', origin: 'WorkloadEntry', labels: { app: 'reviews' }, address: '192.168.0.9', ports: [{ port: 7777, name: 'http' }] },
    ]);
    assert.deepEqual(endpointsOf(s, 'reviews.default.svc.cluster.local', 80), ['192.168.0.9:7777']);
  });

  it('has no endpoints without a selector, nor for a port it does not declare', () => {
    const s = snapshotFromYaml(service('manual', 'default', '{ ports: [{ name: http, port: 80 }] }') + REVIEWS, workloads);
    assert.deepEqual(endpointsOf(s, 'manual.default.svc.cluster.local', 80), []);
    assert.deepEqual(endpointsOf(s, 'reviews.default.svc.cluster.local', 1234), []);
  });

  it('filters by subset labels', () => {
    const s = snapshotFromYaml(REVIEWS, workloads);
    assert.deepEqual(endpointsOf(s, 'reviews.default.svc.cluster.local', 9080, { version: 'v1' }), ['10.0.0.10:9080']);
    assert.deepEqual(endpointsOf(s, 'reviews.default.svc.cluster.local', 9080, { version: 'v3' }), []);
    assert.deepEqual(endpointsOf(s, 'reviews.default.svc.cluster.local', 9080, {}), ['10.0.0.2:9080', '10.0.0.10:9080']);
  });

  it('counts an address and port once when a proxy and its Pod both announce it, keeping the first', () => {
    const s = snapshotFromYaml(REVIEWS, [
      { name: 'r1', origin: 'proxy', labels: { app: 'reviews' }, address: '10.0.0.5' },
      { name: 'r1', origin: 'Pod', labels: { app: 'reviews' }, address: '10.0.0.5', tlsMode: 'disabled' },
    ]);
    const eps = s.endpoints(s.service('reviews.default.svc.cluster.local')!, 9080);
    assert.equal(eps.length, 1);
    assert.equal(eps[0]?.workload?.origin, 'proxy');
  });
});

describe('endpoints of a ServiceEntry', () => {
  it('lists its own endpoints with their port map, labels, weight, locality, network and service account', () => {
    const s = snapshotFromYaml(serviceEntry('vm', 'default', `
hosts: [vm.example.com]
location: MESH_INTERNAL
resolution: STATIC
ports: [{ number: 80, name: http, protocol: HTTP, targetPort: 8000 }, { number: 81, name: admin, protocol: HTTP }]
endpoints:
- { address: 10.1.0.2, ports: { http: 9000 }, labels: { version: v2, security.istio.io/tlsMode: istio }, weight: 3, locality: us/east, network: n1, serviceAccount: vm-sa }
- { address: 10.1.0.1 }
- { network: remote }
`));
    const svc = s.service('vm.example.com')!;
    assert.deepEqual(endpointsOf(s, svc.hostname, 80), ['10.1.0.1:8000', '10.1.0.2:9000']);
    assert.deepEqual(endpointsOf(s, svc.hostname, 81), ['10.1.0.1:81', '10.1.0.2:81']);
    const [plain, rich] = s.endpoints(svc, 80);
    assert.deepEqual(rich, {
      address: '10.1.0.2', port: 9000, labels: { version: 'v2', 'security.istio.io/tlsMode': 'istio' }, namespace: 'default',
      serviceAccount: 'vm-sa', locality: 'us/east', network: 'n1', weight: 3, healthy: true, tlsMode: 'istio',
    });
    assert.equal(plain?.weight, 1);
    assert.equal(plain?.tlsMode, 'disabled');
    assert.deepEqual(endpointsOf(s, svc.hostname, 80, { version: 'v2' }), ['10.1.0.2:9000']);
  });

  it('selects workloads of its namespace with workloadSelector, by the port of the same name', () => {
    const s = snapshotFromYaml(serviceEntry('vms', 'default', `
hosts: [vms.example.com]
location: MESH_INTERNAL
resolution: STATIC
ports: [{ number: 80, name: http, protocol: HTTP, targetPort: 8080 }]
workloadSelector: { labels: { app: vm } }
`), [
      { name: 'a', labels: { app: 'vm' }, address: '10.2.0.1', ports: [{ port: 9999, name: 'http' }] },
      { name: 'b', labels: { app: 'vm' }, address: '10.2.0.2' },
      { name: 'c', namespace: 'other', labels: { app: 'vm' }, address: '10.2.0.3' },
    ]);
    assert.deepEqual(endpointsOf(s, 'vms.example.com', 80), ['10.2.0.1:9999', '10.2.0.2:8080']);
  });

  it('resolves the host itself when a DNS entry lists no endpoints', () => {
    const s = snapshotFromYaml(serviceEntry('ext', 'default', `
hosts: [api.example.com]
resolution: DNS
ports: [{ number: 443, name: https, protocol: HTTPS }]
`) + serviceEntry('ext2', 'default', `
hosts: [db.example.com]
resolution: DNS
ports: [{ number: 5432, name: tcp, protocol: TCP }]
endpoints: [{ address: db-primary.example.com }, { address: 10.9.9.9 }]
`));
    assert.deepEqual(endpointsOf(s, 'api.example.com', 443), ['api.example.com:443']);
    assert.deepEqual(endpointsOf(s, 'db.example.com', 5432), ['10.9.9.9:5432', 'db-primary.example.com:5432']);
  });

  it('has no endpoints with resolution NONE', () => {
    const s = snapshotFromYaml(serviceEntry('any', 'default', 'hosts: [any.example.com]\nports: [{ number: 443, name: tls, protocol: TLS }]'));
    assert.deepEqual(endpointsOf(s, 'any.example.com', 443), []);
  });
});
