import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_MESH_CONFIG } from '../model/index.ts';
import type { ClusterTrafficPolicy } from '../snapshot/index.ts';
import { assertValidMessage } from '../../xds/index.ts';
import { HTTP_PROTOCOL_OPTIONS_KEY } from '../../xds/envoy/index.ts';
import { httpProtocolOptions, speaksHttp2, trafficPolicyToCluster, type ClusterShape } from './traffic-policy-to-cluster.ts';

const EDS: ClusterShape = { type: 'EDS', protocol: 'HTTP', direction: 'outbound', proxyKind: 'sidecar' };

function translate(policy: ClusterTrafficPolicy, shape: ClusterShape = EDS) {
  const fields = trafficPolicyToCluster(policy, shape, DEFAULT_MESH_CONFIG);
  assertValidMessage('envoy.config.cluster.v3.Cluster', { name: 'test', ...fields });
  return fields;
}

function options(policy: ClusterTrafficPolicy, shape: ClusterShape = EDS) {
  const result = httpProtocolOptions(policy.connectionPool, shape);
  if (result !== undefined) assertValidMessage('envoy.config.cluster.v3.Cluster', { name: 'test', typedExtensionProtocolOptions: { [HTTP_PROTOCOL_OPTIONS_KEY]: result } });
  return result;
}

describe('trafficPolicyToCluster load balancing', () => {
  it('balances by LEAST_REQUEST when nothing is said, and for LEAST_CONN and UNSPECIFIED', () => {
    assert.equal(translate({}).lbPolicy, 'LEAST_REQUEST');
    assert.equal(translate({ loadBalancer: { simple: 'LEAST_CONN' } }).lbPolicy, 'LEAST_REQUEST');
    assert.equal(translate({ loadBalancer: { simple: 'UNSPECIFIED' } }).lbPolicy, 'LEAST_REQUEST');
  });

  it('maps ROUND_ROBIN, RANDOM and PASSTHROUGH (an original-destination cluster)', () => {
    assert.equal(translate({ loadBalancer: { simple: 'ROUND_ROBIN' } }).lbPolicy, 'ROUND_ROBIN');
    assert.equal(translate({ loadBalancer: { simple: 'RANDOM' } }).lbPolicy, 'RANDOM');
    assert.deepEqual(translate({ loadBalancer: { simple: 'PASSTHROUGH' } }), { ...translate({}), lbPolicy: 'CLUSTER_PROVIDED', type: 'ORIGINAL_DST' });
  });

  it('lets an original-destination cluster pick its own host whatever the policy says', () => {
    assert.equal(translate({ loadBalancer: { simple: 'ROUND_ROBIN' } }, { ...EDS, type: 'ORIGINAL_DST' }).lbPolicy, 'CLUSTER_PROVIDED');
  });

  it('hashes on a ring of 1024 by default, of minimumRingSize when given, or by MAGLEV with its table size', () => {
    assert.deepEqual(pick(translate({ loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } })), { lbPolicy: 'RING_HASH', ringHashLbConfig: { minimumRingSize: 1024 } });
    assert.deepEqual(pick(translate({ loadBalancer: { consistentHash: { useSourceIp: true, minimumRingSize: 4096 } } })), { lbPolicy: 'RING_HASH', ringHashLbConfig: { minimumRingSize: 4096 } });
    assert.deepEqual(pick(translate({ loadBalancer: { consistentHash: { useSourceIp: true, ringHash: { minimumRingSize: 2048 } } } })), { lbPolicy: 'RING_HASH', ringHashLbConfig: { minimumRingSize: 2048 } });
    assert.deepEqual(pick(translate({ loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 65537 } } } })), { lbPolicy: 'MAGLEV', maglevLbConfig: { tableSize: 65537 } });
  });

  it('warms new endpoints up (slow start) for round robin and least request', () => {
    assert.deepEqual(translate({ loadBalancer: { simple: 'ROUND_ROBIN', warmup: { duration: '1m', minimumPercent: 20, aggression: 2 } } }).roundRobinLbConfig, {
      slowStartConfig: { slowStartWindow: '60s', aggression: { defaultValue: 2, runtimeKey: 'upstream.slow_start.aggression' }, minWeightPercent: { value: 20 } },
    });
    assert.deepEqual(translate({ loadBalancer: { warmupDurationSecs: '30s' } }).leastRequestLbConfig, { slowStartConfig: { slowStartWindow: '30s' } });
  });
});

function pick(fields: ReturnType<typeof translate>) {
  const { lbPolicy, ringHashLbConfig, maglevLbConfig } = fields;
  return { lbPolicy, ...(ringHashLbConfig && { ringHashLbConfig }), ...(maglevLbConfig && { maglevLbConfig }) };
}

describe('trafficPolicyToCluster connection pool', () => {
  it('maps the pool limits onto the default circuit breaker thresholds', () => {
    const fields = translate({
      connectionPool: { tcp: { maxConnections: 10, connectTimeout: '250ms' }, http: { http1MaxPendingRequests: 5, http2MaxRequests: 20, maxRetries: 2 } },
    });
    assert.equal(fields.connectTimeout, '0.25s');
    assert.deepEqual(fields.circuitBreakers, { thresholds: [{ maxConnections: 10, maxPendingRequests: 5, maxRequests: 20, maxRetries: 2, trackRemaining: true }] });
  });

  it('keeps the unlimited default for a limit of 0, which Istio reads as unset', () => {
    assert.equal(translate({ connectionPool: { tcp: { maxConnections: 0 } } }).circuitBreakers?.thresholds[0]?.maxConnections, 4294967295);
  });

  it('limits concurrent retries by a retry budget', () => {
    assert.deepEqual(translate({ retryBudget: { percent: 25, minRetryConcurrency: 5 } }).circuitBreakers?.thresholds[0]?.retryBudget, { budgetPercent: { value: 25 }, minRetryConcurrency: 5 });
  });

  it('sets TCP keepalive in whole seconds', () => {
    assert.deepEqual(translate({ connectionPool: { tcp: { tcpKeepalive: { probes: 3, time: '2h', interval: '75s' } } } }).upstreamConnectionOptions, {
      tcpKeepalive: { keepaliveProbes: 3, keepaliveTime: 7200, keepaliveInterval: 75 },
    });
  });

  it('applies only the connection pool to inbound clusters', () => {
    const fields = translate({ connectionPool: { tcp: { maxConnections: 3 } }, outlierDetection: { consecutive5xxErrors: 1 }, loadBalancer: { simple: 'RANDOM' } }, { ...EDS, type: 'STATIC', direction: 'inbound' });
    assert.deepEqual(Object.keys(fields).sort(), ['circuitBreakers', 'connectTimeout']);
  });
});

describe('trafficPolicyToCluster outlier detection', () => {
  it('ejects on consecutive 5xx and gateway errors, enforced at 100%, with success-rate ejection off', () => {
    assert.deepEqual(translate({ outlierDetection: { consecutive5xxErrors: 7, consecutiveGatewayErrors: 3, interval: '5s', baseEjectionTime: '1m', maxEjectionPercent: 50 } }).outlierDetection, {
      consecutive5xx: 7, enforcingConsecutive5xx: 100, consecutiveGatewayFailure: 3, enforcingConsecutiveGatewayFailure: 100,
      interval: '5s', baseEjectionTime: '60s', maxEjectionPercent: 50, enforcingSuccessRate: 0,
    });
  });

  it('turns consecutive 5xx ejection off with 0', () => {
    assert.deepEqual(translate({ outlierDetection: { consecutive5xxErrors: 0 } }).outlierDetection, { consecutive5xx: 0, enforcingConsecutive5xx: 0, enforcingSuccessRate: 0 });
  });

  it('reads the deprecated consecutiveErrors as gateway errors (502, 503, 504)', () => {
    assert.equal(translate({ outlierDetection: { consecutiveErrors: 4 } }).outlierDetection?.consecutiveGatewayFailure, 4);
  });

  it('counts local-origin failures apart when asked', () => {
    assert.deepEqual(translate({ outlierDetection: { splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2 } }).outlierDetection, {
      enforcingSuccessRate: 0, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailure: 2, enforcingConsecutiveLocalOriginFailure: 100, enforcingLocalOriginSuccessRate: 0,
    });
  });

  it('sets the panic threshold from minHealthPercent, 0 when unset', () => {
    assert.deepEqual(translate({ outlierDetection: { minHealthPercent: 30 } }).commonLbConfig, { healthyPanicThreshold: { value: 30 } });
    assert.deepEqual(translate({ outlierDetection: {} }).commonLbConfig, { healthyPanicThreshold: { value: 0 } });
    assert.equal(translate({}).commonLbConfig, undefined);
  });
});

describe('httpProtocolOptions', () => {
  it('needs none for a plain HTTP/1.1 port without pool settings', () => {
    assert.equal(options({}), undefined);
  });

  it('speaks HTTP/2 to HTTP2 and gRPC ports, with maxConcurrentStreams and keepalive', () => {
    const result = options({ connectionPool: { http: { maxConcurrentStreams: 100, http2KeepAlive: { interval: '10s', timeout: '2s' } } } }, { ...EDS, protocol: 'GRPC' });
    assert.deepEqual(result?.explicitHttpConfig, { http2ProtocolOptions: { maxConcurrentStreams: 100, connectionKeepalive: { interval: '10s', timeout: '2s' } } });
    assert.ok(speaksHttp2(result));
  });

  it('upgrades HTTP/1.1 to HTTP/2 with h2UpgradePolicy UPGRADE, but not on inbound clusters', () => {
    assert.ok(speaksHttp2(options({ connectionPool: { http: { h2UpgradePolicy: 'UPGRADE' } } })));
    assert.ok(!speaksHttp2(options({ connectionPool: { http: { h2UpgradePolicy: 'UPGRADE' } } }, { ...EDS, direction: 'inbound' })));
  });

  it('keeps the client\'s protocol for a sidecar port of unknown protocol and with useClientProtocol', () => {
    assert.deepEqual(options({}, { ...EDS, protocol: 'Unsupported' })?.useDownstreamProtocolConfig, { httpProtocolOptions: {}, http2ProtocolOptions: {} });
    assert.equal(options({}, { ...EDS, protocol: 'Unsupported', proxyKind: 'router' }), undefined);
    assert.ok(options({ connectionPool: { http: { useClientProtocol: true } } })?.useDownstreamProtocolConfig !== undefined);
  });

  it('puts idle timeout, requests per connection and connection duration in the common options, over HTTP/1.1', () => {
    const result = options({ connectionPool: { tcp: { idleTimeout: '30m', maxConnectionDuration: '1h' }, http: { maxRequestsPerConnection: 1 } } });
    assert.deepEqual(result?.commonHttpProtocolOptions, { idleTimeout: '1800s', maxRequestsPerConnection: 1, maxConnectionDuration: '3600s' });
    assert.deepEqual(result?.explicitHttpConfig, { httpProtocolOptions: {} });
  });

  it('prefers the HTTP idle timeout to the TCP one', () => {
    assert.equal(options({ connectionPool: { tcp: { idleTimeout: '30m' }, http: { idleTimeout: '5s' } } })?.commonHttpProtocolOptions?.idleTimeout, '5s');
  });
});
