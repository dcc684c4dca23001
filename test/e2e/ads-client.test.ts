import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { err, ok, type Result } from '../../src/core/index.ts';
import { MemoryConfigSource } from '../../src/control/sources/index.ts';
import type { TypeStatus } from '../../src/control/ads/index.ts';
import { startControlPlane, type RunningControlPlane } from '../../src/main/control-plane.ts';
import { consoleLogger } from '../../src/main/console-logger.ts';
import { TypeUrl, type ProtoJson } from '../../src/xds/index.ts';
import { ConfigDumpType, type ClustersConfigDump, type ListenersConfigDump } from '../../src/proxy/admin/config-dump.ts';
import { AdsClient } from '../../src/proxy/xds-client/ads-client.ts';
import type { AdsMode } from '../../src/proxy/xds-client/bootstrap.ts';
import type { ResourceHandler, ResourceUpdate } from '../../src/proxy/xds-client/resource-handler.ts';

/**
 * The proxy's ADS client against the real control plane, in-process: the initial fetch in
 * Envoy's warming order, a NACK that the control plane sees while the last good config keeps
 * serving, a pushed change, and a restart of the control plane that the client rides out.
 * State of the World and Delta alike.
 */
const SERVICE_ENTRY = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: test}
spec:
  hosts: [echo.test.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8080, name: http, protocol: HTTP}]
  endpoints:
  - {address: 127.0.0.1, labels: {app: echo, version: v1}}
  - {address: 127.0.0.2, labels: {app: echo, version: v2}}
`;

function destinationRule(subsets: readonly string[]): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: test}
spec:
  host: echo.test.svc.cluster.local
  subsets:
${subsets.map((s) => `  - {name: ${s}, labels: {version: ${s}}}`).join('\n')}
`;
}

const DEFAULT = 'outbound|8080||echo.test.svc.cluster.local';
const V1 = 'outbound|8080|v1|echo.test.svc.cluster.local';
const V2 = 'outbound|8080|v2|echo.test.svc.cluster.local';
const SHORT: Record<string, string> = { [TypeUrl.Cluster]: 'CDS', [TypeUrl.ClusterLoadAssignment]: 'EDS', [TypeUrl.Listener]: 'LDS', [TypeUrl.RouteConfiguration]: 'RDS' };

/** Keeps what it was given, like a real handler; refuses an update when `refuse` says why. */
class RecordingHandler implements ResourceHandler {
  readonly typeUrl: TypeUrl;
  readonly resources = new Map<string, ProtoJson>();
  readonly updates: ResourceUpdate[] = [];
  refuse: ((update: ResourceUpdate) => string | undefined) | undefined;
  readonly dependencies?: () => { readonly typeUrl: TypeUrl; readonly names: ReadonlySet<string> };
  readonly #log: string[];

  constructor(typeUrl: TypeUrl, log: string[], dependsOn?: (resources: ReadonlyMap<string, ProtoJson>) => { typeUrl: TypeUrl; names: Set<string> }) {
    this.typeUrl = typeUrl;
    this.#log = log;
    if (dependsOn !== undefined) this.dependencies = () => dependsOn(this.resources);
  }

  apply(update: ResourceUpdate): Result<void, string> {
    const refused = this.refuse?.(update);
    if (refused !== undefined) return err(refused);
    this.updates.push(update);
    this.#log.push(SHORT[this.typeUrl]!);
    for (const [name, resource] of update.resources) this.resources.set(name, resource);
    for (const name of update.removed) this.resources.delete(name);
    return ok(undefined);
  }
}

/** Every `rds.routeConfigName` in the listeners' filters. */
function routeNames(value: unknown, names = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const item of value) routeNames(item, names);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'rds' && typeof (inner as { routeConfigName?: unknown }).routeConfigName === 'string') names.add((inner as { routeConfigName: string }).routeConfigName);
      else routeNames(inner, names);
    }
  }
  return names;
}

function edsClusters(clusters: ReadonlyMap<string, ProtoJson>): Set<string> {
  const names = new Set<string>();
  for (const [name, cluster] of clusters) {
    if (cluster['type'] === 'EDS') names.add(((cluster['edsClusterConfig'] as { serviceName?: string } | undefined)?.serviceName) ?? name);
  }
  return names;
}

async function until(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const logger = consoleLogger({ level: 'error', write: (line) => process.stderr.write(line) });
const realTimers = { setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms), clearTimeout: (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>) };

function startPlane(config: MemoryConfigSource, port = 0): Promise<RunningControlPlane> {
  return startControlPlane({ config: { source: config }, xdsAddress: `127.0.0.1:${port}`, debugAddress: '127.0.0.1:0', logger, push: { debounceQuietMs: 10, debounceMaxMs: 50 } });
}

for (const mode of ['sotw', 'delta'] as const satisfies readonly AdsMode[]) {
  describe(`the ADS client (${mode === 'sotw' ? 'State of the World' : 'Delta'}) against the control plane`, () => {
    const config = new MemoryConfigSource({ analyzers: [] });
    let plane: RunningControlPlane;
    let client: AdsClient;
    const log: string[] = [];
    const clusters = new RecordingHandler(TypeUrl.Cluster, log, (resources) => ({ typeUrl: TypeUrl.ClusterLoadAssignment, names: edsClusters(resources) }));
    const endpoints = new RecordingHandler(TypeUrl.ClusterLoadAssignment, log);
    const listeners = new RecordingHandler(TypeUrl.Listener, log, (resources) => ({ typeUrl: TypeUrl.RouteConfiguration, names: routeNames([...resources.values()]) }));
    const routes = new RecordingHandler(TypeUrl.RouteConfiguration, log);
    let readyAfter: string[] | undefined;

    const typeStatus = (type: string): TypeStatus | undefined => plane.ads.status()[0]?.types.find((t) => t.type === type);
    const synced = (): boolean => ['CDS', 'EDS', 'LDS', 'RDS'].every((type) => typeStatus(type)?.state === 'SYNCED');

    before(async () => {
      assert.ok(config.apply([{ name: 'echo.yaml', text: SERVICE_ENTRY }]).ok);
      plane = await startPlane(config);
      client = new AdsClient({
        ads: { address: `127.0.0.1:${plane.xdsPort}`, mode, initialFetchTimeoutMs: 15_000 },
        node: { id: `sidecar~127.0.0.5~client-${mode}.test~test.svc.cluster.local`, metadata: { NAMESPACE: 'test', LABELS: { app: 'client' } } },
        handlers: [clusters, endpoints, listeners, routes],
        clock: { now: () => Date.now() },
        timers: realTimers,
        random: () => 0.5,
        logger,
        backoff: { baseMs: 50, maxMs: 400 },
      });
      client.start();
      await client.ready().then(() => (readyAfter = [...log]));
    });

    after(async () => {
      await client?.close();
      await plane?.close();
    });

    it('fetches clusters, their endpoints, listeners and their routes, in that order, before it is ready', async () => {
      assert.deepEqual(readyAfter, ['CDS', 'EDS', 'LDS', 'RDS']);
      assert.ok(clusters.resources.has(DEFAULT));
      assert.deepEqual([...endpoints.resources.keys()], [DEFAULT]);
      assert.ok(listeners.resources.has('0.0.0.0_8080'), [...listeners.resources.keys()].join(', '));
      assert.ok(routes.resources.has('8080'), [...routes.resources.keys()].join(', '));
      await until('the control plane sees every type ACKed', synced);
      assert.equal(plane.ads.status()[0]?.mode, mode);
    });

    it('dumps what it accepted as Envoy\'s config dump sections', () => {
      const sections = client.configDumpSources().map((source) => source.dump());
      assert.deepEqual(sections.map((s) => s['@type']), [ConfigDumpType.Clusters, ConfigDumpType.Endpoints, ConfigDumpType.Listeners, ConfigDumpType.Routes]);
      const clustersDump = sections[0] as ClustersConfigDump;
      const reviews = clustersDump.dynamicActiveClusters?.find((c) => c.cluster['name'] === DEFAULT);
      assert.equal(reviews?.cluster['@type'], TypeUrl.Cluster);
      // State of the World versions the response; Delta versions each resource (the control plane's hash of it).
      const sent = plane.ads.resources(`client-${mode}.test`, TypeUrl.Cluster)?.find((r) => r.name === DEFAULT);
      assert.equal(reviews?.versionInfo, mode === 'sotw' ? clustersDump.versionInfo : sent?.version);
      const listenersDump = sections[2] as ListenersConfigDump;
      assert.ok(listenersDump.dynamicListeners?.some((l) => l.name === '0.0.0.0_8080' && l.activeState?.listener['@type'] === TypeUrl.Listener));
    });

    it('applies a pushed change and subscribes to the endpoints it needs', async () => {
      assert.ok(config.apply([{ name: 'dr.yaml', text: destinationRule(['v1']) }]).ok);
      await until('the v1 subset arrives with its endpoints', () => clusters.resources.has(V1) && endpoints.resources.has(V1));
      assert.equal(clusters.resources.has(V2), false);
      const v1 = endpoints.resources.get(V1) as { endpoints?: { lbEndpoints?: { endpoint?: { address?: { socketAddress?: { address?: string } } } }[] }[] };
      assert.deepEqual(v1.endpoints?.flatMap((e) => e.lbEndpoints ?? []).map((e) => e.endpoint?.address?.socketAddress?.address), ['127.0.0.1']);
      await until('the control plane sees the change ACKed', () => synced() && (typeStatus('EDS')?.subscribed ?? []).includes(V1));
      assert.equal(client.status().types.find((t) => t.type === 'CDS')?.lastError, undefined);
    });

    it('NACKs an update a handler refuses, which the control plane shows as ERROR, and keeps the last good config', async () => {
      const acked = typeStatus('CDS')?.ackedVersion;
      clusters.refuse = (update) => (update.resources.has(V2) ? `Cluster "${V2}": connectTimeout: refused by the test` : undefined);
      assert.ok(config.apply([{ name: 'dr.yaml', text: destinationRule(['v1', 'v2']) }]).ok);
      await until('the control plane records the NACK', () => typeStatus('CDS')?.state === 'ERROR');
      const status = typeStatus('CDS')!;
      assert.match(status.lastNack?.message ?? '', /outbound\|8080\|v2\|echo\.test\.svc\.cluster\.local": connectTimeout: refused by the test/);
      assert.equal(status.ackedVersion, acked);
      assert.equal(clusters.resources.has(V2), false);
      assert.ok(clusters.resources.has(V1));
      assert.match(client.status().types.find((t) => t.type === 'CDS')?.lastError ?? '', /refused by the test/);
      clusters.refuse = undefined;
    });

    it('keeps serving while the control plane restarts, reconnects, and asks again for what it has and what it lacks', async () => {
      const port = plane.xdsPort;
      const removalsBefore = [clusters, endpoints, listeners, routes].map((h) => h.updates.filter((u) => u.removed.length > 0).length);
      const had = [...clusters.resources.keys()].sort();
      const updatesBefore = clusters.updates.length;
      await plane.close();
      await until('the client notices', () => !client.status().connected);
      assert.deepEqual([...clusters.resources.keys()].sort(), had, 'nothing is dropped while the control plane is away');
      assert.ok(client.isReady());

      // The handler takes the v2 subset now; the new stream brings it, as the proxy lacks it.
      plane = await startPlane(config, port);
      await until('the client reconnects and every type is ACKed again', () => client.status().connected && synced() && clusters.resources.has(V2), 15_000);
      assert.deepEqual(typeStatus('EDS')?.subscribed, [DEFAULT, V1, V2].sort());
      assert.ok(typeStatus('RDS')?.subscribed.includes('8080'));
      assert.deepEqual([...clusters.resources.keys()].sort(), [...had, V2].sort());
      const resent = new Set(clusters.updates.slice(updatesBefore).flatMap((u) => [...u.resources.keys()]));
      // Delta tells the new stream the version of each resource the proxy has: only what it lacks comes again.
      if (mode === 'delta') assert.deepEqual([...resent], [V2]);
      else assert.ok(resent.has(DEFAULT) && resent.has(V2));
      assert.deepEqual(
        [clusters, endpoints, listeners, routes].map((h) => h.updates.filter((u) => u.removed.length > 0).length),
        removalsBefore,
        'reconnecting removes nothing',
      );
    });
  });
}
