import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TypeUrl } from '../../xds/index.ts';
import { HTTP_PROTOCOL_OPTIONS_KEY, HTTP_PROTOCOL_OPTIONS_TYPE, type Cluster, type ClusterLoadAssignment } from '../../xds/envoy/index.ts';
import type { ResourceHandler, ResourceUpdate } from '../xds-client/resource-handler.ts';
import type { UpstreamHost } from './cluster.ts';
import { XdsClusterManager } from './cluster-manager.ts';
import { FakeTimers, RecordingStats, seededRandom } from './upstream-test-support.ts';

const ADS = { ads: {}, resourceApiVersion: 'V3' as const };

function update(resources: readonly (Cluster | ClusterLoadAssignment)[], version = '1', removed: readonly string[] = []): ResourceUpdate {
  return { resources: new Map(resources.map((r) => ['name' in r ? r.name : r.clusterName, r])), removed, version };
}

function apply(handler: ResourceHandler, resources: readonly (Cluster | ClusterLoadAssignment)[], version = '1', removed: readonly string[] = []): void {
  const result = handler.apply(update(resources, version, removed));
  assert.ok(!(result instanceof Promise));
  assert.deepEqual(result, { ok: true, value: undefined });
}

function refused(handler: ResourceHandler, resources: readonly (Cluster | ClusterLoadAssignment)[]): string {
  const result = handler.apply(update(resources));
  assert.ok(!(result instanceof Promise));
  assert.equal(result.ok, false);
  return result.ok ? '' : result.error;
}

function setup(resolve?: (hostname: string) => Promise<string[]>): { manager: XdsClusterManager; stats: RecordingStats; timers: FakeTimers } {
  const stats = new RecordingStats();
  const timers = new FakeTimers();
  const manager = new XdsClusterManager({
    stats, timers, clock: { now: () => Date.UTC(2025, 0, 1) }, random: seededRandom(1), ...(resolve !== undefined && { resolve }),
  });
  return { manager, stats, timers };
}

function endpoint(address: string, port = 8080, extra: Record<string, unknown> = {}): ClusterLoadAssignment['endpoints'][number]['lbEndpoints'][number] {
  return { endpoint: { address: { socketAddress: { address, portValue: port } } }, ...extra };
}

const staticCluster = (name: string, addresses: readonly string[] = ['127.0.0.1'], extra: Partial<Cluster> = {}): Cluster => ({
  name,
  type: 'STATIC',
  loadAssignment: { clusterName: name, endpoints: [{ lbEndpoints: addresses.map((a) => endpoint(a)) }] },
  ...extra,
});

const edsCluster = (name: string, extra: Partial<Cluster> = {}): Cluster => ({
  name, type: 'EDS', edsClusterConfig: { edsConfig: ADS, serviceName: name }, connectTimeout: '1s', lbPolicy: 'ROUND_ROBIN', ...extra,
});

const picks = (manager: XdsClusterManager, cluster: string, n: number, context = {}): (string | undefined)[] =>
  Array.from({ length: n }, () => manager.get(cluster)?.picker().pick(context)?.id);

/** Lets promise callbacks (the fake resolver's answers) run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('XdsClusterManager: CDS', () => {
  it('runs a static cluster with Envoy defaults', () => {
    const { manager } = setup();
    apply(manager.cds, [staticCluster('local', ['127.0.0.1', '127.0.0.2'])]);
    const cluster = manager.get('local')!;
    assert.equal(cluster.name, 'local');
    assert.equal(cluster.connectTimeoutMs, 5000);
    assert.equal(cluster.upstreamProtocol, 'http1');
    assert.deepEqual(manager.names(), ['local']);
    assert.deepEqual(picks(manager, 'local', 3), ['127.0.0.1:8080', '127.0.0.2:8080', '127.0.0.1:8080']);
  });

  it('has handlers for CDS and EDS', () => {
    const { manager } = setup();
    assert.equal(manager.cds.typeUrl, TypeUrl.Cluster);
    assert.equal(manager.eds.typeUrl, TypeUrl.ClusterLoadAssignment);
  });

  it('reads the connect timeout and the upstream protocol', () => {
    const { manager } = setup();
    const options = (config: Record<string, unknown>): Partial<Cluster> => ({
      typedExtensionProtocolOptions: { [HTTP_PROTOCOL_OPTIONS_KEY]: { '@type': HTTP_PROTOCOL_OPTIONS_TYPE, ...config } },
    });
    apply(manager.cds, [
      staticCluster('h2', undefined, { connectTimeout: '0.250s', ...options({ explicitHttpConfig: { http2ProtocolOptions: {} } }) }),
      staticCluster('h1', undefined, options({ explicitHttpConfig: { httpProtocolOptions: {} } })),
      staticCluster('same', undefined, options({ useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} } })),
    ]);
    assert.equal(manager.get('h2')?.connectTimeoutMs, 250);
    assert.equal(manager.get('h2')?.upstreamProtocol, 'http2');
    assert.equal(manager.get('h1')?.upstreamProtocol, 'http1');
    assert.equal(manager.get('same')?.upstreamProtocol, 'downstream');
  });

  it('refuses a whole update with a bad cluster, naming the cluster and the field, and keeps the last good clusters', () => {
    const { manager } = setup();
    apply(manager.cds, [staticCluster('good')]);
    const error = refused(manager.cds, [staticCluster('other'), staticCluster('bad', undefined, { connectTimeout: '0s' })]);
    assert.equal(error, 'cluster "bad": connectTimeout: must be longer than 0 (got "0s")');
    assert.deepEqual(manager.names(), ['good']);
  });

  it('reports every problem of every cluster', () => {
    const { manager } = setup();
    const error = refused(manager.cds, [
      { name: 'a', type: 'EDS', lbPolicy: 'CLUSTER_PROVIDED' },
      { name: 'b', type: 'ORIGINAL_DST' },
      edsCluster('c', { lbPolicy: 'MAGLEV', maglevLbConfig: { tableSize: 1000 } }),
      edsCluster('d', { lbPolicy: 'RING_HASH', ringHashLbConfig: { minimumRingSize: 2048, maximumRingSize: 1024 } }),
      edsCluster('e', { lbPolicy: 'LEAST_REQUEST', leastRequestLbConfig: { choiceCount: 1 } }),
      edsCluster('f', { commonLbConfig: { healthyPanicThreshold: { value: 150 } } }),
    ]);
    assert.deepEqual(error.split('; '), [
      'cluster "a": lbPolicy: CLUSTER_PROVIDED is only for ORIGINAL_DST clusters (this one is EDS)',
      'cluster "a": edsClusterConfig: an EDS cluster needs edsClusterConfig (where its endpoints come from)',
      'cluster "b": lbPolicy: must be CLUSTER_PROVIDED for an ORIGINAL_DST cluster (got ROUND_ROBIN)',
      'cluster "c": maglevLbConfig.tableSize: must be a prime number of at most 5000011 (got 1000)',
      'cluster "d": ringHashLbConfig.minimumRingSize: must not exceed maximumRingSize (2048 > 1024)',
      'cluster "e": leastRequestLbConfig.choiceCount: must be a whole number of at least 2 (got 1)',
      'cluster "f": commonLbConfig.healthyPanicThreshold.value: must be a percentage from 0 to 100 (got 150)',
    ]);
  });

  it('checks the endpoints of static and DNS clusters', () => {
    const { manager } = setup();
    const error = refused(manager.cds, [
      staticCluster('named', ['db.example.com']),
      {
        name: 'logical',
        type: 'LOGICAL_DNS',
        loadAssignment: { clusterName: 'logical', endpoints: [{ lbEndpoints: [endpoint('a.example'), endpoint('b.example')] }] },
      },
      {
        name: 'dns-pipe',
        type: 'STRICT_DNS',
        loadAssignment: { clusterName: 'dns-pipe', endpoints: [{ lbEndpoints: [{ endpoint: { address: { pipe: { path: '/tmp/s' } } } }] }] },
      },
      { name: 'odst', type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED', loadAssignment: { clusterName: 'odst', endpoints: [{ lbEndpoints: [endpoint('10.0.0.1')] }] } },
    ]);
    assert.deepEqual(error.split('; '), [
      'cluster "named": loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address.socketAddress.address: must be an IP address (got "db.example.com"): only STRICT_DNS and LOGICAL_DNS clusters resolve names',
      'cluster "logical": loadAssignment: a LOGICAL_DNS cluster must have exactly one locality with exactly one endpoint',
      'cluster "dns-pipe": loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address.pipe: a DNS cluster resolves names and cannot reach a pipe',
      'cluster "odst": loadAssignment: an ORIGINAL_DST cluster takes its hosts from the connections and must have no endpoints',
    ]);
  });

  it('runs endpoints that are internal listeners, in STATIC and EDS clusters', () => {
    const { manager } = setup();
    const internal = (name: string, endpointId?: string): ClusterLoadAssignment['endpoints'][number]['lbEndpoints'][number] => ({
      endpoint: { address: { envoyInternalAddress: { serverListenerName: name, ...(endpointId !== undefined && { endpointId }) } as { serverListenerName: string } } },
    });
    apply(manager.cds, [
      { name: 'tunnel', type: 'STATIC', loadAssignment: { clusterName: 'tunnel', endpoints: [{ lbEndpoints: [internal('tunnel_http')] }] } },
      edsCluster('svc'),
    ]);
    apply(manager.eds, [{ clusterName: 'svc', endpoints: [{ lbEndpoints: [internal('inner', 'a'), endpoint('10.0.0.1')] }] }]);
    const tunnel = manager.get('tunnel')!.picker().pick({})!;
    assert.deepEqual([tunnel.id, tunnel.address, tunnel.port, tunnel.internalListener], ['envoy://tunnel_http/', 'envoy://tunnel_http/', 0, 'tunnel_http']);
    const hosts = Array.from({ length: 2 }, () => manager.get('svc')!.picker().pick({})!);
    assert.deepEqual(hosts.map((h) => [h.id, h.internalListener]).sort(), [['10.0.0.1:8080', undefined], ['envoy://inner/a', 'inner']]);
  });

  it('refuses internal listener endpoints without a name, and in DNS clusters', () => {
    const { manager } = setup();
    const error = refused(manager.cds, [
      { name: 'nameless', type: 'STATIC', loadAssignment: { clusterName: 'nameless', endpoints: [{ lbEndpoints: [{ endpoint: { address: { envoyInternalAddress: { serverListenerName: '' } } } }] }] } },
      { name: 'dns', type: 'STRICT_DNS', loadAssignment: { clusterName: 'dns', endpoints: [{ lbEndpoints: [{ endpoint: { address: { envoyInternalAddress: { serverListenerName: 'x' } } } }] }] } },
    ]);
    assert.deepEqual(error.split('; '), [
      'cluster "nameless": loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address.envoyInternalAddress.serverListenerName: must name an internal listener',
      'cluster "dns": loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address.envoyInternalAddress: a DNS cluster resolves names and cannot reach an internal listener (use a STATIC or EDS cluster)',
    ]);
  });

  it('checks protocol options and circuit breakers', () => {
    const { manager } = setup();
    const error = refused(manager.cds, [
      staticCluster('unknown', undefined, { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions': {} } as Cluster['typedExtensionProtocolOptions'] }),
      staticCluster('auto', undefined, {
        typedExtensionProtocolOptions: { [HTTP_PROTOCOL_OPTIONS_KEY]: { '@type': HTTP_PROTOCOL_OPTIONS_TYPE, autoConfig: {} } as never },
      }),
      staticCluster('twice', undefined, { circuitBreakers: { thresholds: [{ maxRequests: 1 }, { priority: 'DEFAULT', maxRequests: 2 }] } }),
    ]);
    assert.deepEqual(error.split('; '), [
      'cluster "unknown": typedExtensionProtocolOptions["envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions"]: unknown protocol options (supported: envoy.extensions.upstreams.http.v3.HttpProtocolOptions)',
      'cluster "auto": typedExtensionProtocolOptions["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].autoConfig: is not supported: choose explicitHttpConfig or useDownstreamProtocolConfig',
      'cluster "twice": circuitBreakers.thresholds[1].priority: DEFAULT already has thresholds (give each priority at most one)',
    ]);
  });

  it('refuses ring hash with MURMUR_HASH_2 and a balancing policy list it cannot run', () => {
    const { manager } = setup();
    const error = refused(manager.cds, [
      edsCluster('murmur', { lbPolicy: 'RING_HASH', ringHashLbConfig: { hashFunction: 'MURMUR_HASH_2' } }),
      edsCluster('custom', { loadBalancingPolicy: { policies: [{ typedExtensionConfig: { name: 'x', typedConfig: { '@type': 'type.googleapis.com/acme.Custom' } } }] } }),
    ]);
    assert.match(error, /cluster "murmur": ringHashLbConfig.hashFunction: only XX_HASH is supported \(got MURMUR_HASH_2\)/);
    assert.match(error, /cluster "custom": loadBalancingPolicy.policies: none is supported \(supported: RoundRobin, LeastRequest, Random, RingHash, Maglev, ClusterProvided\)/);
  });

  it('takes the first balancing policy it runs from loadBalancingPolicy', () => {
    const { manager } = setup();
    const policy = (type: string): { typedExtensionConfig: { name: string; typedConfig: { '@type': string } } } => ({ typedExtensionConfig: { name: type, typedConfig: { '@type': type } } });
    apply(manager.cds, [staticCluster('lb', ['10.0.0.1', '10.0.0.2'], {
      lbPolicy: 'LOAD_BALANCING_POLICY_CONFIG',
      loadBalancingPolicy: { policies: [policy('type.googleapis.com/acme.Custom'), policy('type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin')] },
    })]);
    assert.deepEqual(picks(manager, 'lb', 2), ['10.0.0.1:8080', '10.0.0.2:8080']);
  });

  it('drops removed clusters, keeps unchanged ones, and replaces changed ones keeping their hosts', () => {
    const { manager, stats } = setup();
    apply(manager.cds, [staticCluster('a'), staticCluster('b'), staticCluster('c')]);
    const a = manager.get('a');
    const b = manager.get('b')!;
    const host = b.picker().pick({})!;
    host.activeRequests = 2;
    apply(manager.cds, [staticCluster('a'), staticCluster('b', ['127.0.0.1', '127.0.0.9'])], '2', ['c']);
    assert.deepEqual(manager.names(), ['a', 'b']);
    assert.equal(manager.get('a'), a, 'unchanged');
    assert.notEqual(manager.get('b'), b, 'replaced');
    const kept = manager.get('b')!.picker().pick({ avoid: new Set<UpstreamHost>() });
    assert.equal(kept, host, 'the same host object, with its requests in flight');
    assert.equal(kept?.activeRequests, 2);
    assert.equal(stats.get('cluster_manager.cluster_added'), 3);
    assert.equal(stats.get('cluster_manager.cluster_modified'), 1);
    assert.equal(stats.get('cluster_manager.cluster_removed'), 1);
    assert.equal(stats.get('cluster_manager.active_clusters'), 2);
  });

  it('names the EDS services of EDS clusters as its dependencies, the cluster name by default', () => {
    const { manager } = setup();
    apply(manager.cds, [
      edsCluster('outbound|80||a.svc', { edsClusterConfig: { edsConfig: ADS, serviceName: 'a-endpoints' } }),
      { name: 'b', type: 'EDS', edsClusterConfig: { edsConfig: ADS } },
      staticCluster('s'),
    ]);
    const deps = manager.cds.dependencies!();
    assert.equal(deps.typeUrl, TypeUrl.ClusterLoadAssignment);
    assert.deepEqual([...deps.names].sort(), ['a-endpoints', 'b']);
  });

  it('applies the panic threshold and locality weighting of commonLbConfig', () => {
    const { manager } = setup();
    apply(manager.cds, [
      edsCluster('strict', { commonLbConfig: { healthyPanicThreshold: { value: 0 } } }),
      edsCluster('zones', { commonLbConfig: { localityWeightedLbConfig: {} } }),
    ]);
    apply(manager.eds, [
      { clusterName: 'strict', endpoints: [{ lbEndpoints: [endpoint('10.0.0.1', 80, { healthStatus: 'UNHEALTHY' })] }] },
      {
        clusterName: 'zones',
        endpoints: [
          { locality: { region: 'r', zone: 'a' }, loadBalancingWeight: 3, lbEndpoints: [endpoint('10.0.1.1')] },
          { locality: { region: 'r', zone: 'b' }, loadBalancingWeight: 1, lbEndpoints: [endpoint('10.0.2.1')] },
        ],
      },
    ]);
    assert.equal(manager.get('strict')?.picker().pick({}), undefined);
    assert.deepEqual(picks(manager, 'zones', 4).sort(), ['10.0.1.1:8080', '10.0.1.1:8080', '10.0.1.1:8080', '10.0.2.1:8080']);
  });
});

describe('XdsClusterManager: EDS', () => {
  it('has no hosts for an EDS cluster until its assignment arrives', () => {
    const { manager } = setup();
    apply(manager.cds, [edsCluster('svc')]);
    assert.equal(manager.get('svc')?.picker().pick({}), undefined);
    apply(manager.eds, [{ clusterName: 'svc', endpoints: [{ lbEndpoints: [endpoint('10.0.0.1'), endpoint('10.0.0.2')] }] }]);
    assert.deepEqual(picks(manager, 'svc', 2), ['10.0.0.1:8080', '10.0.0.2:8080']);
  });

  it('gives a cluster added later the assignment already received', () => {
    const { manager } = setup();
    apply(manager.cds, [edsCluster('svc')]);
    apply(manager.eds, [{ clusterName: 'svc', endpoints: [{ lbEndpoints: [endpoint('10.0.0.1')] }] }]);
    apply(manager.cds, [edsCluster('svc', { connectTimeout: '2s' })], '2');
    assert.deepEqual(picks(manager, 'svc', 1), ['10.0.0.1:8080']);
  });

  it('maps endpoints to hosts: address, weight, health, locality, priority, metadata', () => {
    const { manager } = setup();
    apply(manager.cds, [edsCluster('svc')]);
    apply(manager.eds, [{
      clusterName: 'svc',
      endpoints: [{
        locality: { region: 'us', zone: 'us-1a', subZone: 'rack1' },
        priority: 1,
        lbEndpoints: [
          endpoint('fd00::1', 9080, { loadBalancingWeight: 3, metadata: { filterMetadata: { 'envoy.transport_socket_match': { tlsMode: 'istio' } } } }),
          endpoint('10.0.0.2', 9080, { healthStatus: 'DRAINING' }),
        ],
      }],
    }]);
    const host = manager.get('svc')!.picker().pick({})!;
    assert.equal(host.address, 'fd00::1');
    assert.equal(host.port, 9080);
    assert.equal(host.id, '[fd00::1]:9080');
    assert.equal(host.weight, 3);
    assert.equal(host.healthy, true);
    assert.equal(host.locality, 'us/us-1a/rack1');
    assert.equal(host.priority, 1);
    assert.deepEqual(host.metadata, { 'envoy.transport_socket_match': { tlsMode: 'istio' } });
    assert.deepEqual(new Set(picks(manager, 'svc', 20)), new Set(['[fd00::1]:9080']), 'the draining host takes no traffic');
  });

  it('counts HEALTHY and UNKNOWN as healthy, and UNHEALTHY, DRAINING, TIMEOUT and DEGRADED as not', () => {
    const { manager, stats } = setup();
    // No panic: only the healthy hosts take traffic.
    apply(manager.cds, [edsCluster('svc', { commonLbConfig: { healthyPanicThreshold: { value: 0 } } })]);
    const statuses = ['HEALTHY', 'UNKNOWN', 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED'] as const;
    apply(manager.eds, [{ clusterName: 'svc', endpoints: [{ lbEndpoints: statuses.map((s, i) => endpoint(`10.0.0.${i + 1}`, 80, { healthStatus: s })) }] }]);
    assert.equal(stats.get('cluster.svc.membership_total'), 6);
    assert.equal(stats.get('cluster.svc.membership_healthy'), 2);
    assert.equal(stats.get('cluster.svc.membership_degraded'), 1);
    assert.deepEqual(new Set(picks(manager, 'svc', 20)), new Set(['10.0.0.1:80', '10.0.0.2:80']));
    assert.deepEqual(manager.dump().statuses[0]?.hosts.map((h) => h.healthFlags), [
      'healthy', 'healthy', '/failed_eds_health', '/eds_status_draining', '/failed_eds_health', '/degraded_eds_health',
    ]);
  });

  it('keeps a host object across assignments while its address stays', () => {
    const { manager } = setup();
    apply(manager.cds, [edsCluster('svc')]);
    apply(manager.eds, [{ clusterName: 'svc', endpoints: [{ lbEndpoints: [endpoint('10.0.0.1')] }] }]);
    const before = manager.get('svc')!.picker().pick({})!;
    before.activeRequests = 4;
    apply(manager.eds, [{ clusterName: 'svc', endpoints: [{ lbEndpoints: [endpoint('10.0.0.1', 8080, { loadBalancingWeight: 5 })] }] }], '2');
    const after = manager.get('svc')!.picker().pick({})!;
    assert.equal(after, before);
    assert.equal(after.weight, 5);
    assert.equal(after.activeRequests, 4);
  });

  it('refuses a bad assignment whole, naming it and the field', () => {
    const { manager } = setup();
    apply(manager.cds, [edsCluster('svc')]);
    const error = refused(manager.eds, [
      { clusterName: 'svc', endpoints: [{ lbEndpoints: [endpoint('10.0.0.1')] }] },
      { clusterName: 'bad', endpoints: [{ priority: 200, loadBalancingWeight: 0, lbEndpoints: [endpoint('backend.local', 0, { loadBalancingWeight: 0 })] }] },
    ]);
    assert.deepEqual(error.split('; '), [
      'cluster load assignment "bad": endpoints[0].priority: must be a whole number from 0 to 128 (got 200)',
      'cluster load assignment "bad": endpoints[0].loadBalancingWeight: must be a whole number of at least 1 (got 0)',
      'cluster load assignment "bad": endpoints[0].lbEndpoints[0].loadBalancingWeight: must be a whole number of at least 1 (got 0)',
      'cluster load assignment "bad": endpoints[0].lbEndpoints[0].endpoint.address.socketAddress.address: must be an IP address (got "backend.local"): only STRICT_DNS and LOGICAL_DNS clusters resolve names',
      'cluster load assignment "bad": endpoints[0].lbEndpoints[0].endpoint.address.socketAddress.portValue: must be a port from 1 to 65535 (got 0)',
    ]);
    assert.equal(manager.get('svc')?.picker().pick({}), undefined, 'nothing applied');
  });

  it('empties a cluster whose assignment is removed', () => {
    const { manager } = setup();
    apply(manager.cds, [edsCluster('svc')]);
    apply(manager.eds, [{ clusterName: 'svc', endpoints: [{ lbEndpoints: [endpoint('10.0.0.1')] }] }]);
    apply(manager.eds, [], '2', ['svc']);
    assert.equal(manager.get('svc')?.picker().pick({}), undefined);
  });

  it('forgets assignments no cluster reads any more', () => {
    const { manager } = setup();
    apply(manager.cds, [edsCluster('svc')]);
    apply(manager.eds, [{ clusterName: 'svc', endpoints: [{ lbEndpoints: [endpoint('10.0.0.1')] }] }]);
    apply(manager.cds, [], '2', ['svc']);
    assert.deepEqual(manager.dump().endpoints, []);
  });
});

describe('XdsClusterManager: DNS clusters', () => {
  const dnsCluster = (name: string, type: 'STRICT_DNS' | 'LOGICAL_DNS', extra: Partial<Cluster> = {}): Cluster => ({
    name, type, dnsRefreshRate: '10s', loadAssignment: { clusterName: name, endpoints: [{ lbEndpoints: [endpoint('db.example', 5432)] }] }, ...extra,
  });

  it('resolves names into one host per address and refreshes them every dnsRefreshRate', async () => {
    let answer = ['10.0.0.1', '10.0.0.2'];
    const asked: string[] = [];
    const { manager, timers } = setup(async (hostname) => {
      asked.push(hostname);
      return answer;
    });
    apply(manager.cds, [dnsCluster('db', 'STRICT_DNS')]);
    await settle();
    assert.deepEqual(new Set(picks(manager, 'db', 4)), new Set(['10.0.0.1:5432', '10.0.0.2:5432']));
    assert.equal(manager.get('db')?.picker().pick({})?.hostname, 'db.example');

    answer = ['10.0.0.3'];
    timers.advance(9_999);
    await settle();
    assert.equal(asked.length, 1);
    timers.advance(1);
    await settle();
    assert.deepEqual(asked, ['db.example', 'db.example']);
    assert.deepEqual(picks(manager, 'db', 2), ['10.0.0.3:5432', '10.0.0.3:5432']);
    manager.close();
    assert.equal(timers.pending, 0);
  });

  it('keeps the last good addresses when a resolution fails', async () => {
    let fail = false;
    const { manager, timers } = setup(async () => {
      if (fail) throw new Error('SERVFAIL');
      return ['10.0.0.1'];
    });
    apply(manager.cds, [dnsCluster('db', 'STRICT_DNS', { dnsRefreshRate: undefined })]);
    await settle();
    fail = true;
    timers.advance(5000);
    await settle();
    assert.deepEqual(picks(manager, 'db', 1), ['10.0.0.1:5432']);
    manager.close();
  });

  it('uses only the first address for LOGICAL_DNS, and only the asked family', async () => {
    const { manager } = setup(async () => ['fd00::9', '10.0.0.7', '10.0.0.8']);
    apply(manager.cds, [
      dnsCluster('logical', 'LOGICAL_DNS', { dnsLookupFamily: 'V4_ONLY' }),
      dnsCluster('v6', 'STRICT_DNS', { dnsLookupFamily: 'V6_ONLY' }),
      dnsCluster('auto', 'STRICT_DNS'),
    ]);
    await settle();
    assert.deepEqual(new Set(picks(manager, 'logical', 4)), new Set(['10.0.0.7:5432']));
    assert.deepEqual(new Set(picks(manager, 'v6', 4)), new Set(['[fd00::9]:5432']));
    assert.deepEqual(new Set(picks(manager, 'auto', 4)), new Set(['[fd00::9]:5432']), 'AUTO prefers IPv6');
    manager.close();
  });

  it('keeps the hosts of a replaced DNS cluster until the new one resolves', async () => {
    const answers: ((addresses: string[]) => void)[] = [];
    const { manager } = setup(() => new Promise((resolve) => answers.push(resolve)));
    apply(manager.cds, [dnsCluster('db', 'STRICT_DNS')]);
    answers[0]!(['10.0.0.1']);
    await settle();
    apply(manager.cds, [dnsCluster('db', 'STRICT_DNS', { connectTimeout: '3s' })], '2');
    assert.deepEqual(picks(manager, 'db', 1), ['10.0.0.1:5432']);
    answers[1]!(['10.0.0.2']);
    await settle();
    assert.deepEqual(picks(manager, 'db', 1), ['10.0.0.2:5432']);
    manager.close();
  });
});

describe('XdsClusterManager: ORIGINAL_DST, circuit breakers and dumps', () => {
  it('sends an ORIGINAL_DST cluster to the address the client dialled', () => {
    const { manager } = setup();
    apply(manager.cds, [{ name: 'PassthroughCluster', type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED', connectTimeout: '10s' }]);
    const host = manager.get('PassthroughCluster')!.picker().pick({ originalDestination: '93.184.216.34:443' });
    assert.equal(host?.id, '93.184.216.34:443');
    assert.deepEqual(manager.dump().statuses[0]?.hosts.map((h) => h.id), ['93.184.216.34:443']);
    manager.close();
  });

  it('limits requests by the cluster circuit breakers, counting overflow', () => {
    const { manager, stats } = setup();
    apply(manager.cds, [staticCluster('cb', undefined, { circuitBreakers: { thresholds: [{ maxRequests: 2, maxRetries: 0 }] } })]);
    const breakers = manager.get('cb')!.circuitBreakers;
    const first = breakers.tryAcquire('requests');
    assert.ok(breakers.tryAcquire('requests'));
    assert.equal(breakers.tryAcquire('requests'), undefined);
    assert.equal(breakers.tryAcquire('retries'), undefined);
    assert.equal(stats.get('cluster.cb.upstream_rq_pending_overflow'), 1);
    assert.equal(stats.get('cluster.cb.upstream_rq_retry_overflow'), 1);
    first!();
    assert.ok(breakers.tryAcquire('requests'));
    assert.ok(breakers.tryAcquire('connections'), 'connections keep the default limit of 1024');
  });

  it('writes stats under altStatName when the cluster has one', () => {
    const { manager, stats } = setup();
    apply(manager.cds, [staticCluster('outbound|80||a', undefined, { altStatName: 'a_80' })]);
    assert.equal(stats.get('cluster.a_80.membership_total'), 1);
  });

  it('dumps clusters and endpoints with their versions, and each host for /clusters', () => {
    const { manager } = setup();
    const svc = edsCluster('svc');
    apply(manager.cds, [svc], 'cds-7');
    const assignment: ClusterLoadAssignment = { clusterName: 'svc', endpoints: [{ locality: { region: 'eu' }, lbEndpoints: [endpoint('10.0.0.1', 80, { loadBalancingWeight: 2 })] }] };
    apply(manager.eds, [assignment], 'eds-3');
    manager.get('svc')!.picker().pick({})!.activeRequests = 1;
    const dump = manager.dump();
    assert.deepEqual(dump.clusters, [{ versionInfo: 'cds-7', lastUpdated: '2025-01-01T00:00:00.000Z', cluster: svc }]);
    assert.deepEqual(dump.endpoints, [{ versionInfo: 'eds-3', lastUpdated: '2025-01-01T00:00:00.000Z', endpointConfig: assignment }]);
    assert.deepEqual(dump.statuses, [{
      name: 'svc',
      type: 'EDS',
      circuitBreakers: { connections: 1024, pendingRequests: 1024, requests: 1024, retries: 3 },
      hosts: [{
        id: '10.0.0.1:80', hostname: undefined, weight: 2, priority: 0, locality: 'eu', healthFlags: 'healthy',
        cxActive: 0, cxTotal: 0, cxConnectFail: 0, rqActive: 1, rqTotal: 0, rqError: 0, rqTimeout: 0,
      }],
    }]);
  });
});
