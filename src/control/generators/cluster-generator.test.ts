import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seedText } from '../../config/test-support.ts';
import { snapshotFromYaml } from '../snapshot/test-support.ts';
import type { Workload } from '../model/index.ts';
import { TypeUrl } from '../../xds/index.ts';
import type { Cluster, UpstreamTlsContext } from '../../xds/envoy/index.ts';
import { ClusterGenerator } from './cluster-generator.ts';
import { clustersByName, grpcRejection, testProxy } from './cluster-test-support.ts';

const SEED = seedText('001-reviews.yaml');

const SERVICES = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  selector: { app: reviews }
  ports: [{ name: http, port: 9080 }]
---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: default }
spec:
  selector: { app: ratings }
  ports: [{ name: http, port: 9080 }, { name: grpc, port: 9090 }]
`;

const WORKLOADS: Partial<Workload>[] = [
  { name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'bookinfo-reviews', ports: [{ port: 9080 }] },
  { name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' }, serviceAccount: 'bookinfo-reviews', ports: [{ port: 9080 }] },
  { name: 'ratings-v1', labels: { app: 'ratings', version: 'v1' }, ports: [{ port: 9080 }, { port: 9090 }] },
];

function generate(yaml: string, options: { proxy?: Parameters<typeof testProxy>[0]; workloads?: Partial<Workload>[]; names?: ReadonlySet<string>; mesh?: Parameters<typeof snapshotFromYaml>[2] } = {}): Map<string, Cluster> {
  const snapshot = snapshotFromYaml(yaml, options.workloads ?? WORKLOADS, options.mesh);
  return clustersByName(new ClusterGenerator().generate(testProxy(options.proxy), snapshot, options.names ?? 'all'));
}

function get(clusters: Map<string, Cluster>, name: string): Cluster {
  const cluster = clusters.get(name);
  assert.ok(cluster !== undefined, `no cluster ${name}; have ${[...clusters.keys()].join(', ')}`);
  return cluster;
}

function tlsContext(cluster: Cluster): UpstreamTlsContext | undefined {
  return cluster.transportSocket?.typedConfig as UpstreamTlsContext | undefined;
}

const REVIEWS = 'reviews.default.svc.cluster.local';
const RATINGS = 'ratings.default.svc.cluster.local';

describe('ClusterGenerator for a sidecar', () => {
  it('gives one outbound cluster per service port and DestinationRule subset, inbound clusters for its ports, and the special clusters', () => {
    const clusters = generate(`${SEED}\n---\n${SERVICES}`, { proxy: { ports: [{ port: 9080, name: 'http' }] } });
    assert.deepEqual([...clusters.keys()], [
      `outbound|9080||${RATINGS}`, `outbound|9090||${RATINGS}`,
      `outbound|9080||${REVIEWS}`, `outbound|9080|v1|${REVIEWS}`, `outbound|9080|v2|${REVIEWS}`, `outbound|9080|v3|${REVIEWS}`,
      'inbound|9080||', 'BlackHoleCluster', 'PassthroughCluster', 'InboundPassthroughCluster',
    ]);
  });

  it('applies the seed DestinationRule to the reviews v1 cluster: round robin, 100 connections, 5 consecutive 5xx every 30s eject for 60s', () => {
    const v1 = get(generate(`${SEED}\n---\n${SERVICES}`), `outbound|9080|v1|${REVIEWS}`);
    assert.equal(v1.type, 'EDS');
    assert.deepEqual(v1.edsClusterConfig, { edsConfig: { ads: {}, resourceApiVersion: 'V3' }, serviceName: `outbound|9080|v1|${REVIEWS}` });
    assert.equal(v1.lbPolicy, 'ROUND_ROBIN');
    assert.equal(v1.connectTimeout, '10s');
    assert.deepEqual(v1.circuitBreakers?.thresholds[0], { maxConnections: 100, maxPendingRequests: 4294967295, maxRequests: 1000, maxRetries: 4294967295, trackRemaining: true });
    assert.deepEqual(v1.outlierDetection, { consecutive5xx: 5, enforcingConsecutive5xx: 100, interval: '30s', baseEjectionTime: '60s', enforcingSuccessRate: 0 });
    assert.deepEqual(v1.commonLbConfig, { healthyPanicThreshold: { value: 0 } });
    assert.deepEqual(v1.typedExtensionProtocolOptions?.['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']?.commonHttpProtocolOptions, { maxRequestsPerConnection: 10 });
  });

  it('records the service, port, subset and DestinationRule in the istio metadata that proxy-config shows', () => {
    const v1 = get(generate(`${SEED}\n---\n${SERVICES}`), `outbound|9080|v1|${REVIEWS}`);
    assert.deepEqual(v1.metadata?.filterMetadata?.['istio'], {
      services: [{ host: REVIEWS, name: 'reviews', namespace: 'default' }],
      default_original_port: 9080,
      subset: 'v1',
      config: '/apis/networking.istio.io/v1/namespaces/default/destination-rule/reviews',
    });
  });

  it('uses Istio defaults without a DestinationRule: LEAST_REQUEST, the mesh connect timeout, unlimited circuit breakers, no outlier detection', () => {
    const ratings = get(generate(SERVICES, { mesh: { mesh: { connectTimeout: '5s' } } }), `outbound|9080||${RATINGS}`);
    assert.equal(ratings.lbPolicy, 'LEAST_REQUEST');
    assert.equal(ratings.connectTimeout, '5s');
    assert.deepEqual(ratings.circuitBreakers?.thresholds[0], { maxConnections: 4294967295, maxPendingRequests: 4294967295, maxRequests: 4294967295, maxRetries: 4294967295, trackRemaining: true });
    assert.equal(ratings.outlierDetection, undefined);
    assert.equal(ratings.metadata?.filterMetadata?.['istio']?.['config'], undefined);
  });

  it('lets a port-level setting replace the whole top-level policy for its port, leaving other ports alone', () => {
    const clusters = generate(`${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings, namespace: default }
spec:
  host: ratings
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    connectionPool: { tcp: { maxConnections: 100 } }
    portLevelSettings:
    - port: { number: 9090 }
      loadBalancer: { simple: RANDOM }
`);
    const http = get(clusters, `outbound|9080||${RATINGS}`);
    assert.equal(http.lbPolicy, 'ROUND_ROBIN');
    assert.equal(http.circuitBreakers?.thresholds[0]?.maxConnections, 100);
    const grpc = get(clusters, `outbound|9090||${RATINGS}`);
    assert.equal(grpc.lbPolicy, 'RANDOM');
    assert.equal(grpc.circuitBreakers?.thresholds[0]?.maxConnections, 4294967295, 'the top-level connection pool is replaced, not merged');
  });

  it('overlays a subset policy on the top-level policy field by field', () => {
    const clusters = generate(`${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    connectionPool: { tcp: { maxConnections: 100 } }
  subsets:
  - name: v2
    labels: { version: v2 }
    trafficPolicy:
      loadBalancer: { simple: RANDOM }
`);
    const v2 = get(clusters, `outbound|9080|v2|${REVIEWS}`);
    assert.equal(v2.lbPolicy, 'RANDOM');
    assert.equal(v2.circuitBreakers?.thresholds[0]?.maxConnections, 100);
    assert.equal(get(clusters, `outbound|9080||${REVIEWS}`).lbPolicy, 'ROUND_ROBIN');
  });

  it('uses auto mTLS without DestinationRule tls: ISTIO_MUTUAL towards endpoints labelled tlsMode istio, plaintext towards the rest', () => {
    const reviews = get(generate(SERVICES), `outbound|9080||${REVIEWS}`);
    assert.equal(reviews.transportSocket, undefined);
    const [mtls, plain] = reviews.transportSocketMatches ?? [];
    assert.equal(mtls?.name, 'tlsMode-istio');
    assert.deepEqual(mtls?.match, { tlsMode: 'istio' });
    const context = mtls?.transportSocket?.typedConfig as UpstreamTlsContext;
    assert.equal(context.sni, `outbound_.9080_._.${REVIEWS}`);
    assert.deepEqual(context.commonTlsContext.alpnProtocols, ['istio-peer-exchange', 'istio']);
    assert.deepEqual(context.commonTlsContext.tlsCertificateSdsSecretConfigs, [{ name: 'default', sdsConfig: { ads: {}, resourceApiVersion: 'V3' } }]);
    assert.deepEqual(context.commonTlsContext.combinedValidationContext, {
      defaultValidationContext: { matchTypedSubjectAltNames: [{ sanType: 'URI', matcher: { exact: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews' } }] },
      validationContextSdsSecretConfig: { name: 'ROOTCA', sdsConfig: { ads: {}, resourceApiVersion: 'V3' } },
    });
    assert.deepEqual(plain, { name: 'tlsMode-disabled', match: {}, transportSocket: { name: 'envoy.transport_sockets.raw_buffer' } });
  });

  it('advertises h2 in the mTLS ALPN of an HTTP/2 (gRPC) port, and speaks HTTP/2 to it', () => {
    const grpc = get(generate(SERVICES), `outbound|9090||${RATINGS}`);
    const context = grpc.transportSocketMatches?.[0]?.transportSocket?.typedConfig as UpstreamTlsContext;
    assert.deepEqual(context.commonTlsContext.alpnProtocols, ['istio-peer-exchange', 'istio', 'h2']);
    assert.deepEqual(grpc.typedExtensionProtocolOptions?.['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']?.explicitHttpConfig, { http2ProtocolOptions: {} });
  });

  it('sends plaintext when auto mTLS is off mesh-wide or the DestinationRule says DISABLE', () => {
    assert.equal(get(generate(SERVICES, { mesh: { mesh: { enableAutoMtls: false } } }), `outbound|9080||${REVIEWS}`).transportSocketMatches, undefined);
    const disabled = get(generate(`${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec: { host: reviews, trafficPolicy: { tls: { mode: DISABLE } } }
`), `outbound|9080||${REVIEWS}`);
    assert.equal(disabled.transportSocket, undefined);
    assert.equal(disabled.transportSocketMatches, undefined);
  });

  it('uses ISTIO_MUTUAL towards every endpoint when the DestinationRule says so, with the subset cluster\'s SNI', () => {
    const v1 = get(generate(`${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy: { tls: { mode: ISTIO_MUTUAL } }
  subsets: [{ name: v1, labels: { version: v1 } }]
`), `outbound|9080|v1|${REVIEWS}`);
    assert.equal(v1.transportSocketMatches, undefined);
    assert.equal(v1.transportSocket?.name, 'envoy.transport_sockets.tls');
    assert.equal(tlsContext(v1)?.sni, `outbound_.9080_.v1_.${REVIEWS}`);
  });

  it('originates TLS to an external service with the DestinationRule\'s files and SNI', () => {
    const clusters = generate(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: default }
spec:
  hosts: [api.example.com]
  ports: [{ number: 443, name: https, protocol: HTTPS }]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api, namespace: default }
spec:
  host: api.example.com
  trafficPolicy:
    tls: { mode: MUTUAL, clientCertificate: /etc/certs/client.pem, privateKey: /etc/certs/key.pem, caCertificates: /etc/certs/ca.pem, sni: api.example.com }
`, { workloads: [] });
    const api = get(clusters, 'outbound|443||api.example.com');
    assert.equal(api.type, 'STRICT_DNS');
    assert.deepEqual(tlsContext(api), {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      commonTlsContext: {
        tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_2', tlsMaximumProtocolVersion: 'TLSv1_3' },
        tlsCertificates: [{ certificateChain: { filename: '/etc/certs/client.pem' }, privateKey: { filename: '/etc/certs/key.pem' } }],
        validationContext: { trustedCa: { filename: '/etc/certs/ca.pem' } },
      },
      sni: 'api.example.com',
    });
    assert.equal(api.metadata?.filterMetadata?.['istio']?.['external'], true);
  });

  it('builds DNS clusters with their hostnames to resolve, original-destination clusters for NONE and headless services', () => {
    const clusters = generate(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: external, namespace: default }
spec:
  hosts: [strict.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: logical, namespace: default }
spec:
  hosts: [logical.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: DNS_ROUND_ROBIN
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: passthrough, namespace: default }
spec:
  hosts: [none.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: NONE
---
apiVersion: v1
kind: Service
metadata: { name: db, namespace: default }
spec:
  clusterIP: None
  selector: { app: db }
  ports: [{ name: tcp, port: 5432 }]
`, { workloads: [] });
    const strict = get(clusters, 'outbound|80||strict.example.com');
    assert.equal(strict.type, 'STRICT_DNS');
    assert.equal(strict.respectDnsTtl, true);
    assert.equal(strict.dnsLookupFamily, 'V4_ONLY');
    assert.deepEqual(strict.loadAssignment?.endpoints[0]?.lbEndpoints[0]?.endpoint, { address: { socketAddress: { address: 'strict.example.com', portValue: 80 } } });
    assert.equal(strict.transportSocketMatches, undefined, 'no auto mTLS towards a mesh-external service');
    assert.equal(get(clusters, 'outbound|80||logical.example.com').type, 'LOGICAL_DNS');
    for (const name of ['outbound|80||none.example.com', 'outbound|5432||db.default.svc.cluster.local']) {
      const cluster = get(clusters, name);
      assert.equal(cluster.type, 'ORIGINAL_DST', name);
      assert.equal(cluster.lbPolicy, 'CLUSTER_PROVIDED', name);
      assert.equal(cluster.edsClusterConfig, undefined, name);
      assert.equal(cluster.transportSocketMatches, undefined, name);
    }
  });

  it('turns a PASSTHROUGH subset into an original-destination cluster', () => {
    const v2 = get(generate(`${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets: [{ name: v2, labels: { version: v2 }, trafficPolicy: { loadBalancer: { simple: PASSTHROUGH } } }]
`), `outbound|9080|v2|${REVIEWS}`);
    assert.equal(v2.type, 'ORIGINAL_DST');
    assert.equal(v2.lbPolicy, 'CLUSTER_PROVIDED');
    assert.equal(v2.edsClusterConfig, undefined);
  });

  it('weighs localities when the DestinationRule distributes traffic between them', () => {
    const reviews = get(generate(`${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        distribute: [{ from: "us-west/*", to: { "us-west/*": 80, "us-east/*": 20 } }]
`), `outbound|9080||${REVIEWS}`);
    assert.deepEqual(reviews.commonLbConfig, { localityWeightedLbConfig: {} });
  });

  it('gives inbound clusters to 127.0.0.1 with the Sidecar\'s inbound connection pool and the services they serve', () => {
    const clusters = generate(`${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: default }
spec:
  inboundConnectionPool: { tcp: { maxConnections: 7 } }
`, { proxy: { ipAddresses: ['10.0.0.1'], labels: { app: 'reviews', version: 'v1' }, ports: [{ port: 9080, name: 'http' }] } });
    const inbound = get(clusters, 'inbound|9080||');
    assert.equal(inbound.type, 'STATIC');
    assert.deepEqual(inbound.loadAssignment, { clusterName: 'inbound|9080||', endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: 9080 } } } }] }] });
    assert.equal(inbound.circuitBreakers?.thresholds[0]?.maxConnections, 7);
    assert.deepEqual(inbound.metadata?.filterMetadata?.['istio'], { services: [{ host: REVIEWS, name: 'reviews', namespace: 'default' }] });
    assert.equal(inbound.transportSocket, undefined);
    assert.equal(inbound.outlierDetection, undefined);
  });

  it('sends to the original destination from PassthroughCluster and InboundPassthroughCluster, and nowhere from BlackHoleCluster', () => {
    const clusters = generate(SERVICES);
    assert.deepEqual(get(clusters, 'BlackHoleCluster'), { name: 'BlackHoleCluster', type: 'STATIC', connectTimeout: '10s' });
    for (const name of ['PassthroughCluster', 'InboundPassthroughCluster']) {
      const cluster = get(clusters, name);
      assert.equal(cluster.type, 'ORIGINAL_DST');
      assert.equal(cluster.lbPolicy, 'CLUSTER_PROVIDED');
    }
    assert.deepEqual(get(clusters, 'InboundPassthroughCluster').upstreamBindConfig, { sourceAddress: { address: '127.0.0.6', portValue: 0 } });
  });
});

describe('ClusterGenerator scoping', () => {
  const TWO_NAMESPACES = `${SERVICES}
---
apiVersion: v1
kind: Service
metadata: { name: billing, namespace: payments }
spec:
  selector: { app: billing }
  ports: [{ name: http, port: 8080 }]
`;

  it('drops the services a Sidecar does not import', () => {
    const clusters = generate(`${TWO_NAMESPACES}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: default }
spec:
  egress: [{ hosts: ["./ratings.default.svc.cluster.local", "istio-system/*"] }]
`);
    const outbound = [...clusters.keys()].filter((n) => n.startsWith('outbound'));
    assert.deepEqual(outbound, [`outbound|9080||${RATINGS}`, `outbound|9090||${RATINGS}`]);
  });

  it('imports only the port of an egress listener that names one', () => {
    const clusters = generate(`${TWO_NAMESPACES}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: default }
spec:
  egress:
  - port: { number: 9090, protocol: GRPC, name: grpc }
    hosts: ["./*"]
  - hosts: ["payments/*"]
`);
    const outbound = [...clusters.keys()].filter((n) => n.startsWith('outbound'));
    assert.deepEqual(outbound, ['outbound|8080||billing.payments.svc.cluster.local', `outbound|9090||${RATINGS}`]);
  });

  it('imports every namespace by default, and a root-namespace Sidecar scopes every namespace to "./*"', () => {
    const all = generate(TWO_NAMESPACES);
    assert.ok(all.has('outbound|8080||billing.payments.svc.cluster.local'));
    const scoped = generate(`${TWO_NAMESPACES}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: istio-system }
spec:
  egress: [{ hosts: ["./*"] }]
`);
    assert.ok(!scoped.has('outbound|8080||billing.payments.svc.cluster.local'));
    assert.ok(scoped.has(`outbound|9080||${REVIEWS}`));
  });

  it('hides a service exported only to its own namespace', () => {
    const clusters = generate(`
apiVersion: v1
kind: Service
metadata:
  name: billing
  namespace: payments
  annotations: { networking.istio.io/exportTo: "." }
spec:
  selector: { app: billing }
  ports: [{ name: http, port: 8080 }]
`);
    assert.ok(!clusters.has('outbound|8080||billing.payments.svc.cluster.local'));
  });

  it('gives a gateway every visible service, ignoring Sidecars, with no inbound or passthrough clusters', () => {
    const clusters = generate(`${TWO_NAMESPACES}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: istio-system }
spec:
  egress: [{ hosts: ["./*"] }]
`, { proxy: { kind: 'router', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, ports: [{ port: 8080 }] } });
    assert.ok(clusters.has('outbound|8080||billing.payments.svc.cluster.local'));
    assert.ok(clusters.has('BlackHoleCluster'));
    assert.deepEqual([...clusters.keys()].filter((n) => !n.startsWith('outbound|')), ['BlackHoleCluster']);
  });
});

describe('ClusterGenerator for proxyless gRPC', () => {
  const DR = `${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings, namespace: default }
spec:
  host: ratings
  trafficPolicy:
    connectionPool: { http: { http2MaxRequests: 50, maxRequestsPerConnection: 3 } }
    outlierDetection: { consecutive5xxErrors: 3 }
  subsets:
  - name: hashed
    labels: { version: v1 }
    trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: x-user, ringHash: { minimumRingSize: 2048 } } } }
  - name: least
    labels: { version: v1 }
    trafficPolicy: { loadBalancer: { simple: LEAST_REQUEST }, tls: { mode: ISTIO_MUTUAL } }
`;
  const GRPC = { generator: 'grpc' as const };

  it('answers only the clusters asked for, as EDS clusters gRPC accepts', () => {
    const names = new Set([`outbound|9090||${RATINGS}`, `outbound|9090|hashed|${RATINGS}`, `outbound|9090|least|${RATINGS}`, 'outbound|1||nowhere.example.com']);
    const clusters = generate(DR, { proxy: GRPC, names });
    assert.deepEqual([...clusters.keys()], [...names].slice(0, 3));
    for (const cluster of clusters.values()) {
      assert.equal(cluster.type, 'EDS');
      assert.equal(grpcRejection(TypeUrl.Cluster, cluster), undefined, cluster.name);
    }
  });

  it('balances round robin by default, by ring hash for a consistent hash, and offers least request before round robin', () => {
    const clusters = generate(DR, { proxy: GRPC });
    const plain = get(clusters, `outbound|9090||${RATINGS}`);
    assert.equal(plain.lbPolicy, 'ROUND_ROBIN');
    assert.deepEqual(plain.circuitBreakers, { thresholds: [{ maxRequests: 50 }] });
    assert.equal(plain.outlierDetection?.consecutive5xx, 3);
    assert.equal(plain.typedExtensionProtocolOptions, undefined);
    assert.equal(plain.transportSocketMatches, undefined);
    const hashed = get(clusters, `outbound|9090|hashed|${RATINGS}`);
    assert.equal(hashed.lbPolicy, 'RING_HASH');
    assert.deepEqual(hashed.ringHashLbConfig, { minimumRingSize: 2048 });
    const least = get(clusters, `outbound|9090|least|${RATINGS}`);
    assert.deepEqual(least.loadBalancingPolicy?.policies.map((p) => p.typedExtensionConfig.name), ['envoy.load_balancing_policies.least_request', 'envoy.load_balancing_policies.round_robin']);
  });

  it('secures an explicit ISTIO_MUTUAL with the bootstrap\'s certificate providers instead of SDS', () => {
    const least = get(generate(DR, { proxy: GRPC }), `outbound|9090|least|${RATINGS}`);
    const context = tlsContext(least);
    assert.deepEqual(context?.commonTlsContext.tlsCertificateProviderInstance, { instanceName: 'default', certificateName: 'default' });
    assert.equal(context?.commonTlsContext.tlsParams, undefined);
    assert.equal(context?.commonTlsContext.tlsCertificateSdsSecretConfigs, undefined);
    assert.equal(grpcRejection(TypeUrl.Cluster, least), undefined);
  });

  it('leaves out services gRPC cannot reach through EDS', () => {
    const clusters = generate(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: external, namespace: default }
spec:
  hosts: [api.example.com]
  ports: [{ number: 443, name: grpc, protocol: GRPC }]
  resolution: DNS
`, { proxy: GRPC, workloads: [] });
    assert.equal(clusters.size, 0);
  });
});
