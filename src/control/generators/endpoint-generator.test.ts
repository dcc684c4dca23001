import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seedText } from '../../config/test-support.ts';
import type { Workload } from '../model/index.ts';
import { snapshotFromYaml } from '../snapshot/test-support.ts';
import { TypeUrl } from '../../xds/index.ts';
import type { ClusterLoadAssignment, LbEndpoint } from '../../xds/envoy/index.ts';
import { ClusterGenerator } from './cluster-generator.ts';
import { assignmentsByName, grpcRejection, testProxy } from './cluster-test-support.ts';
import { EndpointGenerator } from './endpoint-generator.ts';

const SEED = seedText('001-reviews.yaml');

const REVIEWS_SERVICE = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  selector: { app: reviews }
  ports: [{ name: http, port: 9080, targetPort: 9081 }]
`;

const REVIEWS = 'reviews.default.svc.cluster.local';

const WORKLOADS: Partial<Workload>[] = [
  { name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, address: '10.0.0.1' },
  { name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' }, address: '10.0.0.2', tlsMode: 'disabled', weight: 3 },
  { name: 'reviews-v2-b', labels: { app: 'reviews', version: 'v2' }, address: '10.0.0.3', healthy: false },
];

function generate(yaml: string, names: ReadonlySet<string> | 'all', options: { workloads?: Partial<Workload>[]; proxy?: Parameters<typeof testProxy>[0] } = {}): Map<string, ClusterLoadAssignment> {
  const snapshot = snapshotFromYaml(yaml, options.workloads ?? WORKLOADS);
  return assignmentsByName(new EndpointGenerator().generate(testProxy(options.proxy), snapshot, names));
}

function endpointsOf(assignment: ClusterLoadAssignment | undefined): LbEndpoint[] {
  return (assignment?.endpoints ?? []).flatMap((l) => l.lbEndpoints);
}

function addresses(assignment: ClusterLoadAssignment | undefined): string[] {
  return endpointsOf(assignment).map((e) => ('socketAddress' in e.endpoint.address ? `${e.endpoint.address.socketAddress?.address}:${e.endpoint.address.socketAddress?.portValue}` : ''));
}

describe('EndpointGenerator', () => {
  const YAML = `${SEED}\n---\n${REVIEWS_SERVICE}`;

  it('gives a subset cluster only the endpoints its labels select, on the target port', () => {
    const assignments = generate(YAML, new Set([`outbound|9080||${REVIEWS}`, `outbound|9080|v2|${REVIEWS}`]));
    assert.deepEqual(addresses(assignments.get(`outbound|9080||${REVIEWS}`)), ['10.0.0.1:9081', '10.0.0.2:9081', '10.0.0.3:9081']);
    assert.deepEqual(addresses(assignments.get(`outbound|9080|v2|${REVIEWS}`)), ['10.0.0.2:9081', '10.0.0.3:9081']);
    assert.equal(assignments.get(`outbound|9080|v2|${REVIEWS}`)?.clusterName, `outbound|9080|v2|${REVIEWS}`);
  });

  it('still answers a subset that selects no workload, with no endpoints (Envoy then answers 503 UH)', () => {
    const v3 = generate(YAML, new Set([`outbound|9080|v3|${REVIEWS}`])).get(`outbound|9080|v3|${REVIEWS}`);
    assert.deepEqual(v3, { clusterName: `outbound|9080|v3|${REVIEWS}`, endpoints: [] });
  });

  it('leaves out names that are no EDS cluster: unknown hosts, ports or subsets, inbound clusters', () => {
    const names = new Set([`outbound|9080|v9|${REVIEWS}`, `outbound|1234||${REVIEWS}`, 'outbound|80||nowhere.default.svc.cluster.local', 'inbound|9080||', 'BlackHoleCluster']);
    assert.equal(generate(YAML, names).size, 0);
  });

  it('marks endpoints with a sidecar for auto mTLS, and describes their workload for telemetry', () => {
    const [v1, v2] = endpointsOf(generate(YAML, new Set([`outbound|9080||${REVIEWS}`])).get(`outbound|9080||${REVIEWS}`));
    assert.deepEqual(v1?.metadata, {
      filterMetadata: {
        'envoy.transport_socket_match': { tlsMode: 'istio' },
        istio: { workload: 'reviews-v1;default;reviews;v1;Kubernetes' },
      },
    });
    assert.deepEqual(v2?.metadata, { filterMetadata: { istio: { workload: 'reviews-v2;default;reviews;v2;Kubernetes' } } });
  });

  it('reports health and weight per endpoint', () => {
    const all = endpointsOf(generate(YAML, new Set([`outbound|9080||${REVIEWS}`])).get(`outbound|9080||${REVIEWS}`));
    assert.deepEqual(all.map((e) => [e.healthStatus, e.loadBalancingWeight]), [['HEALTHY', 1], ['HEALTHY', 3], ['UNHEALTHY', 1]]);
  });

  it('answers every EDS cluster of the proxy when asked for all, as CDS lists them', () => {
    const snapshot = snapshotFromYaml(YAML, WORKLOADS);
    const proxy = testProxy();
    const eds = new EndpointGenerator().generate(proxy, snapshot, 'all').map((r) => r.name);
    const cds = new ClusterGenerator().generate(proxy, snapshot, 'all').filter((r) => r.resource['type'] === 'EDS').map((r) => r.name);
    assert.deepEqual(eds, cds);
    assert.equal(eds.length, 4);
  });

  it('has no assignment for a subset balanced by PASSTHROUGH, whose cluster is original-destination, except for gRPC', () => {
    const yaml = `${REVIEWS_SERVICE}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets: [{ name: direct, labels: { version: v1 }, trafficPolicy: { loadBalancer: { simple: PASSTHROUGH } } }]
`;
    assert.equal(generate(yaml, new Set([`outbound|9080|direct|${REVIEWS}`])).size, 0);
    assert.deepEqual(addresses(generate(yaml, new Set([`outbound|9080|direct|${REVIEWS}`]), { proxy: { generator: 'grpc' } }).get(`outbound|9080|direct|${REVIEWS}`)), ['10.0.0.1:9081'],
      'proxyless gRPC cannot dial an original destination, so its cluster stays EDS');
  });

  it('produces assignments proxyless gRPC accepts', () => {
    const assignments = generate(YAML, 'all', { proxy: { generator: 'grpc' } });
    for (const assignment of assignments.values()) assert.equal(grpcRejection(TypeUrl.ClusterLoadAssignment, assignment), undefined, assignment.clusterName);
  });
});

describe('EndpointGenerator locality', () => {
  const LOCALITIES: Partial<Workload>[] = [
    { name: 'west-1', labels: { app: 'reviews' }, address: '10.0.0.1', locality: 'us-west/zone1' },
    { name: 'west-1b', labels: { app: 'reviews' }, address: '10.0.0.2', locality: 'us-west/zone1' },
    { name: 'west-2', labels: { app: 'reviews' }, address: '10.0.0.3', locality: 'us-west/zone2' },
    { name: 'east', labels: { app: 'reviews' }, address: '10.0.0.4', locality: 'us-east/zone1' },
  ];
  const WEST = { locality: 'us-west/zone1' };
  const rule = (policy: string): string => `${REVIEWS_SERVICE}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy:
${policy}
`;
  const NAME = `outbound|9080||${REVIEWS}`;

  function localities(assignment: ClusterLoadAssignment | undefined): [string, number, number, number][] {
    return (assignment?.endpoints ?? []).map((l) => [`${l.locality?.region ?? ''}/${l.locality?.zone ?? ''}`, l.priority ?? 0, l.loadBalancingWeight ?? 0, l.lbEndpoints.length]);
  }

  it('groups endpoints by locality, all at priority 0 without outlier detection', () => {
    const assignment = generate(REVIEWS_SERVICE, new Set([NAME]), { workloads: LOCALITIES, proxy: WEST }).get(NAME);
    assert.deepEqual(localities(assignment), [['us-east/zone1', 0, 1, 1], ['us-west/zone1', 0, 2, 2], ['us-west/zone2', 0, 1, 1]]);
    assert.deepEqual(assignment?.endpoints[1]?.locality, { region: 'us-west', zone: 'zone1' });
  });

  it('fails over by locality when outlier detection is set: own zone first, then its region, then other regions', () => {
    const assignment = generate(rule('    outlierDetection: { consecutive5xxErrors: 5 }'), new Set([NAME]), { workloads: LOCALITIES, proxy: WEST }).get(NAME);
    assert.deepEqual(localities(assignment), [['us-east/zone1', 2, 1, 1], ['us-west/zone1', 0, 2, 2], ['us-west/zone2', 1, 1, 1]]);
  });

  it('keeps every locality at priority 0 when the rule turns locality balancing off', () => {
    const assignment = generate(rule('    outlierDetection: { consecutive5xxErrors: 5 }\n    loadBalancer: { localityLbSetting: { enabled: false } }'), new Set([NAME]), { workloads: LOCALITIES, proxy: WEST }).get(NAME);
    assert.deepEqual(localities(assignment).map(([, priority]) => priority), [0, 0, 0]);
  });

  it('weighs localities as distribute says for the proxy\'s locality, dropping the others', () => {
    const assignment = generate(rule(`    loadBalancer:
      localityLbSetting:
        distribute: [{ from: "us-west/zone1/*", to: { "us-west/zone1/*": 80, "us-east/*": 20 } }]`), new Set([NAME]), { workloads: LOCALITIES, proxy: WEST }).get(NAME);
    assert.deepEqual(localities(assignment), [['us-east/zone1', 0, 20, 1], ['us-west/zone1', 0, 80, 2]]);
  });

  it('orders by failoverPriority labels shared with the proxy', () => {
    const workloads: Partial<Workload>[] = [
      { name: 'same', labels: { app: 'reviews', network: 'a', rack: 'r1' }, address: '10.0.0.1' },
      { name: 'network', labels: { app: 'reviews', network: 'a', rack: 'r2' }, address: '10.0.0.2' },
      { name: 'other', labels: { app: 'reviews', network: 'b', rack: 'r1' }, address: '10.0.0.3' },
    ];
    const assignment = generate(rule(`    outlierDetection: { consecutive5xxErrors: 5 }
    loadBalancer: { localityLbSetting: { failoverPriority: [network, rack] } }`), new Set([NAME]), { workloads, proxy: { labels: { network: 'a', rack: 'r1' } } }).get(NAME);
    assert.deepEqual(assignment?.endpoints.map((l) => [l.priority ?? 0, addresses({ clusterName: '', endpoints: [l] })]), [[0, ['10.0.0.1:9081']], [1, ['10.0.0.2:9081']], [2, ['10.0.0.3:9081']]]);
  });
});
