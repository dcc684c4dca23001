import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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

/** What the fake control plane answers for a proxy's admin address (/debug/adminz). */
let namedProxyAdmin = '';

async function run(args: string[]): Promise<{ status: number; stdout: string; stderr: string; paths: string[] }> {
  let stdout = '';
  let stderr = '';
  const paths: string[] = [];
  const client: ControlPlaneClient = {
    get: async <T>(path: string): Promise<T> => {
      paths.push(path);
      if (path.startsWith('/debug/adminz')) return { proxyId: 'productpage-v1.default', adminAddress: namedProxyAdmin } as T;
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

/** Certificates of the proxy's upstream TLS tests: valid from 2026-11-23T11:33:36Z to 2126-10-30T11:33:36Z. */
const testdata = (name: string) => readFileSync(new URL(`../../proxy/upstream/testdata/${name}`, import.meta.url), 'utf8');
const inline = (pem: string) => ({ inlineBytes: Buffer.from(pem).toString('base64') });
const REDACTED = { inlineBytes: Buffer.from('[redacted]').toString('base64') };
const SECRET_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

/** A proxy's /config_dump with Istio's two secrets and a gateway's credentialName one whose chain has the CA after the leaf. */
const ADMIN_DUMP = {
  configs: [
    { '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump', bootstrap: { node: { id: 'sidecar~127.0.0.1~p.default~default.svc.cluster.local' } } },
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
      dynamicActiveSecrets: [
        { name: 'ROOTCA', versionInfo: '1', lastUpdated: '2026-11-23T12:00:00.000Z', secret: { '@type': SECRET_TYPE, name: 'ROOTCA', validationContext: { trustedCa: inline(testdata('ca.pem')) } } },
        { name: 'default', versionInfo: '1', lastUpdated: '2026-11-23T12:00:00.000Z', secret: { '@type': SECRET_TYPE, name: 'default', tlsCertificate: { certificateChain: inline(testdata('client.pem')), privateKey: REDACTED } } },
        {
          name: 'kubernetes://upstream',
          versionInfo: '7',
          lastUpdated: '2026-11-23T12:00:00.000Z',
          secret: { '@type': SECRET_TYPE, name: 'kubernetes://upstream', tlsCertificate: { certificateChain: inline(testdata('server.pem') + testdata('ca.pem')), privateKey: REDACTED } },
        },
      ],
    },
  ],
};

describe('weft proxy-config secret, against a proxy\'s admin port', () => {
  let server: Server;
  let admin: string;
  /** The admin port's clock, sent as its Date header. */
  let proxyTime = 'Fri, 01 Jan 2027 00:00:00 GMT';

  before(async () => {
    server = createServer((request, response) => {
      if (request.url !== '/config_dump') {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json', date: proxyTime }).end(JSON.stringify(ADMIN_DUMP));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    admin = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('prints istioctl\'s table: a row per secret, its leaf or first CA, valid by the proxy\'s clock', async () => {
    proxyTime = 'Fri, 01 Jan 2027 00:00:00 GMT';
    const result = await run(['proxy-config', 'secret', admin]);
    assert.equal(result.stderr, '');
    assert.equal(result.status, 0);
    assert.deepEqual(result.paths, [], 'the control plane is not asked');
    assert.equal(result.stdout, [
      'RESOURCE NAME             TYPE           STATUS     VALID CERT     SERIAL NUMBER                                NOT AFTER                NOT BEFORE',
      'default                   Cert Chain     ACTIVE     true           27619118c1c81d7                              2126-10-30T11:33:36Z     2026-11-23T11:33:36Z',
      'kubernetes://upstream     Cert Chain     ACTIVE     true           f768d0d1f3be1819                             2126-10-30T11:33:36Z     2026-11-23T11:33:36Z',
      'ROOTCA                    CA             ACTIVE     true           1d2de3775aefb42cc1d13475d34077b4d55f6591     2126-10-30T11:33:36Z     2026-11-23T11:33:36Z',
      '',
    ].join('\n'));
  });

  it('shows certificates not yet valid on the proxy\'s clock as not valid', async () => {
    proxyTime = 'Sun, 22 Nov 2026 00:00:00 GMT';
    const result = await run(['pc', 'secret', `http://${admin}`]);
    assert.equal(result.status, 0);
    assert.deepEqual(result.stdout.split('\n').slice(1, -1).map((line) => line.split(/ {2,}/)[3]), ['false', 'false', 'false']);
  });

  it('prints the SecretsConfigDump as JSON', async () => {
    const result = await run(['proxy-config', 'secret', admin, '-o', 'json']);
    assert.equal(result.status, 0);
    assert.deepEqual(JSON.parse(result.stdout), ADMIN_DUMP.configs[1]);
  });

  it('finds a named proxy\'s admin port through the control plane, and says which address does not answer', async () => {
    namedProxyAdmin = admin;
    const named = await run(['proxy-config', 'secret', 'productpage-v1.default']);
    assert.equal(named.status, 0, named.stderr);
    assert.deepEqual(named.paths, ['/debug/adminz?proxyID=productpage-v1.default']);
    assert.equal(named.stdout, (await run(['proxy-config', 'secret', admin])).stdout);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const gone = `127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = await run(['proxy-config', 'secret', gone]);
    assert.equal(unreachable.status, 1);
    assert.match(unreachable.stderr, new RegExp(`^cannot reach the proxy's admin port at ${gone} \\(.*ECONNREFUSED`));
  });
});
