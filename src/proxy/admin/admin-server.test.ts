import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { err, ok } from '../../core/index.ts';
import { StatsStore } from '../telemetry/stats-store.ts';
import { pem } from '../upstream/tls-test-support.ts';
import type { HeldCertificate } from './certificate-details.ts';
import { AdminServer } from './admin-server.ts';
import { adminEndpoints, healthEndpoints, prometheusEndpoints, type LogLevel, type ServerState } from './admin-endpoints.ts';
import type { ClusterStatus } from './cluster-status.ts';
import { ConfigDumpType, type ConfigDumpSource } from './config-dump.ts';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';

const CLUSTERS: ClusterStatus[] = [
  {
    name: REVIEWS,
    addedViaApi: true,
    circuitBreakers: [
      { priority: 'default', maxConnections: 4294967295, maxPendingRequests: 4294967295, maxRequests: 4294967295, maxRetries: 4294967295 },
      { priority: 'high', maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 },
    ],
    hosts: [
      {
        address: '10.1.0.7:9080',
        counters: { rq_total: 12, rq_success: 11, rq_error: 1, rq_timeout: 0, cx_total: 2, cx_connect_fail: 0 },
        gauges: { cx_active: 2, rq_active: 0 },
        healthFlags: ['failed_outlier_check'],
        weight: 1,
        locality: { region: 'eu', zone: 'eu-b' },
        priority: 0,
      },
    ],
  },
];

/** Sources given out of order: the dump puts them in Envoy's. */
const SOURCES: ConfigDumpSource[] = [
  { dump: () => ({ '@type': ConfigDumpType.Routes, dynamicRouteConfigs: [{ versionInfo: '3', routeConfig: { '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', name: '9080' } }] }) },
  { dump: () => ({ '@type': ConfigDumpType.Endpoints, dynamicEndpointConfigs: [] }) },
  { dump: () => ({ '@type': ConfigDumpType.Clusters, versionInfo: '3', dynamicActiveClusters: [{ versionInfo: '3', cluster: { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: REVIEWS } }] }) },
  { dump: () => ({ '@type': ConfigDumpType.Bootstrap, bootstrap: { node: { id: 'sidecar~10.1.0.9~p.default~default.svc.cluster.local' } } }) },
  { dump: () => ({ '@type': ConfigDumpType.Listeners, dynamicListeners: [] }) },
];

describe('the admin port', () => {
  let server: AdminServer;
  let base: string;
  let state: ServerState = 'INITIALIZING';
  let now = 1_000_000;
  const levels = new Map<string, LogLevel>([['admin', 'info'], ['upstream', 'info'], ['config', 'info']]);
  const drains: { inboundOnly: boolean; graceful: boolean }[] = [];
  let quits = 0;
  let certificates: HeldCertificate[] = [];
  const stats = new StatsStore();

  before(async () => {
    stats.scope(`cluster.${REVIEWS}`).counter('upstream_rq_200').inc(5);
    stats.gauge('server.live').set(1);
    server = new AdminServer({
      logger: quiet,
      endpoints: adminEndpoints({
        stats,
        configDump: SOURCES,
        clusters: () => CLUSTERS,
        listeners: () => [{ name: '0.0.0.0_8080', address: { address: '127.0.0.1', port: 41234 } }],
        state: () => state,
        serverInfo: { version: 'weft/0.1.0', node: { id: 'n1', cluster: 'p.default' }, commandLineOptions: { xdsAddress: '127.0.0.1:15010' }, startTime: 1_000_000 },
        clock: { now: () => now },
        certificates: () => certificates,
        logLevels: {
          levels: () => levels,
          set: (logger, level) => {
            if (logger === undefined) {
              for (const name of levels.keys()) levels.set(name, level);
              return ok(undefined);
            }
            if (!levels.has(logger)) return err(`unknown logger "${logger}"`);
            levels.set(logger, level);
            return ok(undefined);
          },
        },
        drainListeners: (options) => {
          drains.push({ ...options });
        },
        quit: () => {
          quits += 1;
        },
      }),
    });
    base = `http://127.0.0.1:${await server.listen('127.0.0.1:0')}`;
  });

  after(async () => {
    await server.close();
  });

  const get = async (path: string, init?: RequestInit): Promise<{ status: number; type: string | null; body: string }> => {
    const response = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(5000) });
    return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
  };
  const post = (path: string) => get(path, { method: 'POST' });

  it('dumps the config sections in Envoy\'s order, endpoints only when asked', async () => {
    const dump = await get('/config_dump');
    assert.equal(dump.status, 200);
    assert.equal(dump.type, 'application/json');
    const types = (JSON.parse(dump.body) as { configs: { '@type': string }[] }).configs.map((c) => c['@type']);
    assert.deepEqual(types, [ConfigDumpType.Bootstrap, ConfigDumpType.Clusters, ConfigDumpType.Listeners, ConfigDumpType.Routes]);
    const withEds = JSON.parse((await get('/config_dump?include_eds')).body) as { configs: { '@type': string }[] };
    assert.deepEqual(withEds.configs.map((c) => c['@type']), [ConfigDumpType.Bootstrap, ConfigDumpType.Clusters, ConfigDumpType.Endpoints, ConfigDumpType.Listeners, ConfigDumpType.Routes]);
  });

  it('shows clusters and hosts in Envoy\'s text format, and as JSON', async () => {
    const clusters = await get('/clusters');
    assert.equal(clusters.body, [
      `${REVIEWS}::observability_name::${REVIEWS}`,
      `${REVIEWS}::default_priority::max_connections::4294967295`,
      `${REVIEWS}::default_priority::max_pending_requests::4294967295`,
      `${REVIEWS}::default_priority::max_requests::4294967295`,
      `${REVIEWS}::default_priority::max_retries::4294967295`,
      `${REVIEWS}::high_priority::max_connections::1024`,
      `${REVIEWS}::high_priority::max_pending_requests::1024`,
      `${REVIEWS}::high_priority::max_requests::1024`,
      `${REVIEWS}::high_priority::max_retries::3`,
      `${REVIEWS}::added_via_api::true`,
      `${REVIEWS}::10.1.0.7:9080::cx_active::2`,
      `${REVIEWS}::10.1.0.7:9080::cx_connect_fail::0`,
      `${REVIEWS}::10.1.0.7:9080::cx_total::2`,
      `${REVIEWS}::10.1.0.7:9080::rq_active::0`,
      `${REVIEWS}::10.1.0.7:9080::rq_error::1`,
      `${REVIEWS}::10.1.0.7:9080::rq_success::11`,
      `${REVIEWS}::10.1.0.7:9080::rq_timeout::0`,
      `${REVIEWS}::10.1.0.7:9080::rq_total::12`,
      `${REVIEWS}::10.1.0.7:9080::hostname::`,
      `${REVIEWS}::10.1.0.7:9080::health_flags::/failed_outlier_check`,
      `${REVIEWS}::10.1.0.7:9080::weight::1`,
      `${REVIEWS}::10.1.0.7:9080::region::eu`,
      `${REVIEWS}::10.1.0.7:9080::zone::eu-b`,
      `${REVIEWS}::10.1.0.7:9080::sub_zone::`,
      `${REVIEWS}::10.1.0.7:9080::canary::false`,
      `${REVIEWS}::10.1.0.7:9080::priority::0`,
      `${REVIEWS}::10.1.0.7:9080::success_rate::-1`,
      `${REVIEWS}::10.1.0.7:9080::local_origin_success_rate::-1`,
      '',
    ].join('\n'));
    const json = JSON.parse((await get('/clusters?format=json')).body) as { clusterStatuses: { hostStatuses: { address: unknown; healthStatus: unknown }[] }[] };
    assert.deepEqual(json.clusterStatuses[0]?.hostStatuses[0]?.address, { socketAddress: { address: '10.1.0.7', portValue: 9080 } });
    assert.deepEqual(json.clusterStatuses[0]?.hostStatuses[0]?.healthStatus, { edsHealthStatus: 'HEALTHY', failedOutlierCheck: true });
  });

  it('lists the listeners where they are bound, as text and in Envoy\'s JSON shape', async () => {
    assert.equal((await get('/listeners')).body, '0.0.0.0_8080::127.0.0.1:41234\n');
    assert.deepEqual(JSON.parse((await get('/listeners?format=json')).body), {
      listener_statuses: [{ name: '0.0.0.0_8080', local_address: { socket_address: { address: '127.0.0.1', port_value: 41234 } } }],
    });
  });

  it('serves the stats as text, JSON and Prometheus, filtered when asked', async () => {
    assert.equal((await get('/stats')).body, `cluster.${REVIEWS}.upstream_rq_200: 5\nserver.live: 1\n`);
    assert.equal((await get('/stats?filter=server')).body, 'server.live: 1\n');
    const prometheus = await get('/stats/prometheus');
    assert.equal(prometheus.type, 'text/plain; version=0.0.4; charset=UTF-8');
    assert.equal(prometheus.body, `# TYPE envoy_cluster_upstream_rq counter\nenvoy_cluster_upstream_rq{envoy_cluster_name="${REVIEWS}",envoy_response_code="200"} 5\n# TYPE envoy_server_live gauge\nenvoy_server_live 1\n`);
    assert.equal((await get('/stats?format=prometheus')).body, prometheus.body);
    assert.deepEqual((JSON.parse((await get('/stats?format=json&filter=live')).body) as { stats: unknown[] }).stats[0], { name: 'server.live', value: 1 });
    const bad = await get('/stats?filter=(');
    assert.equal(bad.status, 400);
    assert.match(bad.body, /^Invalid re2 regex/);
  });

  it('shows the certificates in Envoy\'s /certs shape', async () => {
    certificates = [];
    assert.deepEqual(JSON.parse((await get('/certs')).body), { certificates: [] });
    const server = new X509Certificate(pem('server.pem'));
    const ca = new X509Certificate(pem('ca.pem'));
    certificates = [{ caCertPem: [pem('ca.pem')], certChainPem: [pem('server.pem'), pem('ca.pem')] }];
    const saved = now;
    now = server.validToDate.getTime() - 2.5 * 86_400_000;
    const certs = await get('/certs');
    now = saved;
    assert.equal(certs.type, 'application/json');
    const body = JSON.parse(certs.body) as { certificates: { ca_cert: Record<string, unknown>[]; cert_chain: Record<string, unknown>[] }[] };
    assert.equal(body.certificates.length, 1);
    assert.equal(body.certificates[0]!.cert_chain.length, 1, 'the leaf only, as Envoy shows it');
    assert.deepEqual(body.certificates[0]!.cert_chain[0], {
      path: '<inline>',
      serial_number: server.serialNumber.toLowerCase(),
      subject_alt_names: [{ dns: 'upstream.example.com' }, { dns: '*.api.example.com' }, { uri: 'spiffe://cluster.local/ns/default/sa/upstream' }, { ip_address: '127.0.0.1' }],
      days_until_expiration: '2',
      valid_from: server.validFromDate.toISOString().replace('.000Z', 'Z'),
      expiration_time: server.validToDate.toISOString().replace('.000Z', 'Z'),
    });
    assert.equal(body.certificates[0]!.ca_cert[0]!['serial_number'], ca.serialNumber.toLowerCase());
    certificates = [];
  });

  it('answers /ready with 503 until the proxy is LIVE', async () => {
    state = 'INITIALIZING';
    assert.deepEqual(await get('/ready'), { status: 503, type: 'text/plain; charset=UTF-8', body: 'INITIALIZING\n' });
    state = 'LIVE';
    assert.deepEqual(await get('/ready'), { status: 200, type: 'text/plain; charset=UTF-8', body: 'LIVE\n' });
  });

  it('tells the version, state, uptime, command line and node in /server_info', async () => {
    now = 1_000_000 + 93_500;
    assert.deepEqual(JSON.parse((await get('/server_info')).body), {
      version: 'weft/0.1.0',
      state: 'LIVE',
      hot_restart_version: 'disabled',
      command_line_options: { xdsAddress: '127.0.0.1:15010' },
      node: { id: 'n1', cluster: 'p.default' },
      uptime_current_epoch: '93s',
      uptime_all_epochs: '93s',
    });
  });

  it('lists log levels and changes them all, or one, on POST', async () => {
    assert.equal((await get('/logging')).body, 'active loggers:\n  admin: info\n  config: info\n  upstream: info\n');
    assert.equal((await post('/logging?level=debug')).body, 'active loggers:\n  admin: debug\n  config: debug\n  upstream: debug\n');
    assert.equal((await post('/logging?upstream=warn')).body, 'active loggers:\n  admin: debug\n  config: debug\n  upstream: warning\n');
    const unknown = await post('/logging?router=debug');
    assert.equal(unknown.status, 400);
    assert.match(unknown.body, /^error: unknown logger "router"\nusage: /);
    const badLevel = await post('/logging?level=loud');
    assert.equal(badLevel.status, 400);
    assert.match(badLevel.body, /^error: unknown level "loud"/);
  });

  it('drains listeners and quits on POST only', async () => {
    assert.deepEqual(await get('/drain_listeners'), { status: 405, type: 'text/plain; charset=UTF-8', body: 'Method GET not allowed, POST required.\n' });
    assert.equal((await post('/drain_listeners?inboundonly&graceful')).body, 'OK\n');
    assert.deepEqual(drains, [{ inboundOnly: true, graceful: true }]);
    assert.equal((await get('/quitquitquit')).status, 405);
    assert.equal(quits, 0);
    assert.equal((await post('/quitquitquit')).body, 'OK\n');
    const deadline = Date.now() + 2000;
    while (quits === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(quits, 1);
  });

  it('answers an unknown path with 404 and the list of commands', async () => {
    const missing = await get('/nope');
    assert.equal(missing.status, 404);
    assert.match(missing.body, /^invalid path\. admin commands are:\n {2}\/config_dump: /);
    assert.match(missing.body, /\/quitquitquit \(POST\): exit the server/);
  });
});

describe('the health and Prometheus ports', () => {
  let state: ServerState = 'PRE_INITIALIZING';
  const stats = new StatsStore();
  const health = new AdminServer({ logger: quiet, endpoints: healthEndpoints({ state: () => state }) });
  const prometheus = new AdminServer({ logger: quiet, endpoints: prometheusEndpoints({ stats }) });
  let healthUrl: string;
  let prometheusUrl: string;

  before(async () => {
    stats.counter('server.total_connections').inc(2);
    healthUrl = `http://127.0.0.1:${await health.listen('127.0.0.1:0')}`;
    prometheusUrl = `http://127.0.0.1:${await prometheus.listen('127.0.0.1:0')}`;
  });

  after(async () => {
    await health.close();
    await prometheus.close();
  });

  it('answers /healthz/ready with 200 once the proxy is LIVE', async () => {
    const before = await fetch(`${healthUrl}/healthz/ready`, { signal: AbortSignal.timeout(5000) });
    assert.equal(before.status, 503);
    assert.equal(await before.text(), 'not ready: PRE_INITIALIZING\n');
    state = 'LIVE';
    const now = await fetch(`${healthUrl}/healthz/ready`, { signal: AbortSignal.timeout(5000) });
    assert.equal(now.status, 200);
    assert.equal(await now.text(), '');
  });

  it('serves only /stats/prometheus on the Prometheus port', async () => {
    const metrics = await fetch(`${prometheusUrl}/stats/prometheus`, { signal: AbortSignal.timeout(5000) });
    assert.equal(await metrics.text(), '# TYPE envoy_server_total_connections counter\nenvoy_server_total_connections 2\n');
    assert.equal((await fetch(`${prometheusUrl}/stats`, { signal: AbortSignal.timeout(5000) })).status, 404);
  });
});
