import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertValidMessage, decodeMessage, encodeMessage, packAny, ProtoJsonError, type ProtoJson } from './proto-json.ts';
import { TypeUrl } from './type-urls.ts';

const CLUSTER: ProtoJson = {
  name: 'outbound|9080|v1|reviews.default.svc.cluster.local',
  type: 'EDS',
  edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' }, serviceName: 'outbound|9080|v1|reviews.default.svc.cluster.local' },
  connectTimeout: '10s',
  lbPolicy: 'LEAST_REQUEST',
  circuitBreakers: { thresholds: [{ maxConnections: 100, maxPendingRequests: 100, maxRequests: 1000, maxRetries: 3 }] },
  outlierDetection: { consecutive5xx: 5, interval: '30s', baseEjectionTime: '60s', maxEjectionPercent: 10 },
  metadata: { filterMetadata: { istio: { services: [{ host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' }], subset: 'v1' } } },
  typedExtensionProtocolOptions: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} },
      commonHttpProtocolOptions: { idleTimeout: '3600s', maxRequestsPerConnection: 10 },
    },
  },
};

describe('the JSON form of Envoy messages', () => {
  it('round-trips a Cluster with durations, wrappers, enums, a Struct and a nested Any', () => {
    const bytes = encodeMessage('envoy.config.cluster.v3.Cluster', CLUSTER);
    assert.deepEqual(decodeMessage('envoy.config.cluster.v3.Cluster', bytes), CLUSTER);
  });

  it('writes sub-second durations as Envoy does', () => {
    const bytes = encodeMessage('envoy.config.cluster.v3.Cluster', { name: 'c', connectTimeout: '0.250s' });
    assert.deepEqual(decodeMessage('envoy.config.cluster.v3.Cluster', bytes), { name: 'c', connectTimeout: '0.25s' });
  });

  it('packs a resource as an Any for a discovery response', () => {
    const any = packAny(TypeUrl.Cluster, { name: 'BlackHoleCluster', type: 'STATIC', connectTimeout: '10s' });
    assert.equal(any.type_url, TypeUrl.Cluster);
    assert.deepEqual(decodeMessage('envoy.config.cluster.v3.Cluster', any.value), { name: 'BlackHoleCluster', type: 'STATIC', connectTimeout: '10s' });
  });

  it('refuses an unknown field, naming where it is', () => {
    assert.throws(
      () => assertValidMessage('envoy.config.cluster.v3.Cluster', { name: 'c', circuitBreakers: { thresholds: [{ maxConnection: 1 }] } }),
      (e: unknown) => e instanceof ProtoJsonError && e.path === 'Cluster.circuitBreakers.thresholds[0].maxConnection',
    );
  });

  it('refuses a wrong enum name, a malformed duration and two members of a oneof', () => {
    assert.throws(() => assertValidMessage('envoy.config.cluster.v3.Cluster', { name: 'c', lbPolicy: 'FASTEST' }), /"FASTEST" is not a value of LbPolicy/);
    assert.throws(() => assertValidMessage('envoy.config.cluster.v3.Cluster', { name: 'c', connectTimeout: '10' }), /not a proto3 duration/);
    assert.throws(() => assertValidMessage('envoy.config.cluster.v3.Cluster', { name: 'c', type: 'EDS', clusterType: { name: 'x' } }), /only one of/);
  });
});
