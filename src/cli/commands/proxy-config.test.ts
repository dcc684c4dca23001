import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../program.ts';
import type { ControlPlaneClient } from '../control-plane-client.ts';
import type { ConfigDump, ProxySyncStatus } from '../debug-api.ts';

const DUMP: ConfigDump = {
  configs: [
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
      dynamicActiveClusters: [
        { cluster: { name: 'outbound|9080|v1|reviews.default.svc.cluster.local', type: 'EDS', metadata: { filterMetadata: { istio: { config: '/apis/networking.istio.io/v1/namespaces/default/destination-rule/reviews' } } } } },
        { cluster: { name: 'BlackHoleCluster', type: 'STATIC' } },
        { cluster: { name: 'inbound|9080||', type: 'STATIC' } },
      ],
    },
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
      dynamicListeners: [{
        name: '0.0.0.0_9080',
        activeState: { listener: { name: '0.0.0.0_9080', address: { socketAddress: { address: '0.0.0.0', portValue: 9080 } }, filterChains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typedConfig: { rds: { routeConfigName: '9080' } } }] }] } },
      }],
    },
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
      dynamicRouteConfigs: [{
        routeConfig: {
          name: '9080',
          virtualHosts: [{
            name: 'reviews.default.svc.cluster.local:9080',
            domains: ['reviews.default.svc.cluster.local', 'reviews', 'reviews:9080'],
            routes: [{ match: { prefix: '/' }, metadata: { filterMetadata: { istio: { config: '/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews' } } } }],
          }],
        },
      }],
    },
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
      dynamicEndpointConfigs: [{ endpointConfig: { clusterName: 'outbound|9080|v1|reviews.default.svc.cluster.local', endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.0.0.7', portValue: 9080 } } }, healthStatus: 'HEALTHY' }] }] } }],
    },
  ],
};

const STATUS: ProxySyncStatus[] = [{
  name: 'productpage-v1.default',
  id: 'sidecar~10.0.0.9~productpage-v1.default~default.svc.cluster.local',
  kind: 'sidecar',
  cluster: 'Kubernetes',
  version: '0.1.0',
  controlPlane: 'weft-control-plane',
  types: { CDS: { status: 'SYNCED' }, LDS: { status: 'SYNCED' }, EDS: { status: 'STALE' }, RDS: { status: 'ERROR', error: 'bad route' }, SDS: { status: 'NOT SENT' } },
}];

async function run(args: string[]): Promise<{ status: number; stdout: string; stderr: string; paths: string[] }> {
  let stdout = '';
  let stderr = '';
  const paths: string[] = [];
  const client: ControlPlaneClient = {
    get: async <T>(path: string): Promise<T> => {
      paths.push(path);
      return (path.startsWith('/debug/syncz') ? STATUS : DUMP) as T;
    },
  };
  const status = await runCli(args, {
    io: { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), readStdin: () => '', cwd: '/' },
    kinds: new Map(),
    analyzers: [],
    version: '0.1.0',
    controlPlane: () => client,
    defaultControlPlaneUrl: 'http://127.0.0.1:15014',
    defaultStateDir: '/nonexistent',
  });
  return { status, stdout, stderr, paths };
}

describe('weft proxy-config and proxy-status', () => {
  it('prints clusters with istioctl\'s columns, naming the DestinationRule', async () => {
    const result = await run(['proxy-config', 'cluster', 'productpage-v1.default']);
    assert.equal(result.status, 0);
    assert.deepEqual(result.paths, ['/debug/config_dump?proxyID=productpage-v1.default']);
    assert.equal(result.stdout, [
      'SERVICE FQDN                          PORT     SUBSET     DIRECTION     TYPE       DESTINATION RULE',
      'BlackHoleCluster                      -        -          -             STATIC     -',
      'inbound|9080||                        9080     -          inbound       STATIC     -',
      'reviews.default.svc.cluster.local     9080     v1         outbound      EDS        reviews.default',
      '',
    ].join('\n'));
  });

  it('filters clusters by fqdn and direction', async () => {
    const result = await run(['pc', 'cluster', 'p.default', '--direction', 'outbound', '--fqdn', 'reviews']);
    assert.equal(result.stdout.trim().split('\n').length, 2);
  });

  it('prints listeners, routes and endpoints', async () => {
    const listeners = await run(['proxy-config', 'listener', 'p.default']);
    assert.match(listeners.stdout, /^0\.0\.0\.0 +9080 +ALL +Route: 9080$/m);
    const routes = await run(['proxy-config', 'route', 'p.default']);
    assert.match(routes.stdout, /^9080 +reviews\.default\.svc\.cluster\.local:9080 +reviews\.default\.svc\.cluster\.local, reviews \+ 1 more\.\.\. +\/\* +reviews\.default$/m);
    const endpoints = await run(['proxy-config', 'endpoint', 'p.default']);
    assert.match(endpoints.stdout, /^10\.0\.0\.7:9080 +HEALTHY +OK +outbound\|9080\|v1\|reviews\.default\.svc\.cluster\.local$/m);
  });

  it('prints the config dump section as JSON', async () => {
    const result = await run(['proxy-config', 'cluster', 'p.default', '-o', 'json']);
    assert.equal((JSON.parse(result.stdout) as { '@type': string })['@type'], 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump');
  });

  it('prints proxy-status with a cell per xDS type, and errors as such', async () => {
    const result = await run(['proxy-status']);
    assert.equal(result.stdout.split('\n')[0], 'NAME                       CLUSTER        CDS        LDS        EDS       RDS                  ECDS        ISTIOD                 VERSION');
    assert.match(result.stdout, /^productpage-v1\.default +Kubernetes +SYNCED +SYNCED +STALE +ERROR: bad route +IGNORED +weft-control-plane +0\.1\.0$/m);
  });

  it('refuses an unknown type with exit status 2', async () => {
    assert.equal((await run(['proxy-config', 'secrets', 'p.default'])).status, 2);
  });
});
