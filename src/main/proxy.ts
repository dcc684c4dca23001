import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { err, ok, type Clock, type Logger, type Result, type Timers } from '../core/index.ts';
import { systemClock, systemTimers } from './system.ts';
import { controlPlaneChannel, type ControlPlaneChannel } from './control-plane-channel.ts';
import {
  AdminServer, adminEndpoints, type ClusterStatus as AdminClusterStatus, healthEndpoints, prometheusEndpoints, secretsDumpSource, type LogLevelControl, type ServerState,
} from '../proxy/admin/index.ts';
import type { HttpFilterFactory, HttpFilterRegistry } from '../proxy/http/filter-factory.ts';
import { CorsFilterFactory } from '../proxy/http-filters/cors/index.ts';
import { FaultFilterFactory } from '../proxy/http-filters/fault/index.ts';
import { ExtAuthzFilterFactory } from '../proxy/http-filters/ext-authz/index.ts';
import { ISTIO_AUTHN_FILTER, IstioAuthnFilterFactory } from '../proxy/http-filters/istio-authn/index.ts';
import { JwtAuthnFilterFactory } from '../proxy/http-filters/jwt-authn/index.ts';
import { LocalRateLimitFilterFactory } from '../proxy/http-filters/local-ratelimit/index.ts';
import { RbacFilterFactory } from '../proxy/http-filters/rbac/index.ts';
import { RouterFilterFactory } from '../proxy/http-filters/router/index.ts';
import { ListenerManager, loadOriginalDestination, type BindAddress } from '../proxy/listener/index.ts';
import { HttpConnectionManagerFactory } from '../proxy/network/http-connection-manager/index.ts';
import type { ConnectionFilterFactory, NetworkFilterFactory } from '../proxy/network/network-filter.ts';
import { RbacNetworkFilterFactory } from '../proxy/network/rbac/index.ts';
import { TcpProxyFactory } from '../proxy/network/tcp-proxy/index.ts';
import { RouteConfigStore, type PerFilterConfigParser } from '../proxy/route/index.ts';
import { sdsSecretNames, SecretStore, WorkloadCertificateClient } from '../proxy/security/index.ts';
import { createWorkloadKeyAndCsr } from '../ca/index.ts';
import { StatsStore, type AccessLogSink } from '../proxy/telemetry/index.ts';
import { XdsClusterManager, type ClusterStatus } from '../proxy/upstream/cluster-manager.ts';
import { InternalListeners } from '../proxy/upstream/internal-listeners.ts';
import { UpstreamPools } from '../proxy/upstream/pools/index.ts';
import { AdsClient, bootstrapDumpSource, xdsNode, type Bootstrap } from '../proxy/xds-client/index.ts';

/** Where listeners bind instead of their configured address (tests, local mode without iptables). */
export interface ListenerBinding {
  /** Bind every listener on this host (e.g. 127.0.0.1) instead of its configured address. */
  readonly host?: string;
  /** Configured port → port to bind (0: one the OS picks). */
  readonly ports?: ReadonlyMap<number, number>;
}

export interface ProxyOptions {
  readonly bootstrap: Bootstrap;
  /** A logger per part of the proxy, by name (`/logging` lists and changes them). */
  readonly loggers: ProxyLoggers;
  readonly version: string;
  readonly accessLog: AccessLogSink;
  readonly binding?: ListenerBinding;
  /** How long connections of a replaced or removed filter chain go on (Envoy's --drain-time-s). */
  readonly drainTimeMs?: number;
  /** How long a shutdown waits for open connections to finish before it closes them (Istio's terminationDrainDuration). */
  readonly terminationDrainMs: number;
  /** The workload certificate lifetime to ask the CA for (Istio's SECRET_TTL); the CA's default when not given. */
  readonly workloadCertificateTtlSeconds?: number;
  /** The options the proxy was started with, for /server_info. */
  readonly commandLineOptions: Readonly<Record<string, unknown>>;
  /** Asked to exit (/quitquitquit); the caller shuts the proxy down and ends the process. */
  readonly onQuit: () => void;
}

/** The proxy's named loggers, each with a level that /logging can change. */
export interface ProxyLoggers extends LogLevelControl {
  get(name: ProxyLoggerName): Logger;
}

export const PROXY_LOGGER_NAMES = ['main', 'admin', 'config', 'upstream', 'http', 'connection'] as const;
export type ProxyLoggerName = (typeof PROXY_LOGGER_NAMES)[number];

export interface RunningProxy {
  readonly adminPort: number;
  readonly healthPort: number;
  readonly statsPort: number;
  /** Gets and renews the workload certificate; there is none without a CA token file. */
  readonly workloadCertificate: WorkloadCertificateClient | undefined;
  state(): ServerState;
  /** Each listener and where it accepts connections. */
  listeners(): { readonly name: string; readonly address: { readonly address: string; readonly port: number } }[];
  /** Waits until the initial config is in (or its fetch timed out): the proxy is LIVE. */
  ready(): Promise<void>;
  /**
   * Graceful stop: stops accepting, lets open connections finish their requests (HTTP connections
   * close when their streams end) for at most `terminationDrainMs`, then closes everything.
   */
  shutdown(): Promise<void>;
  /** Closes everything at once. */
  close(): Promise<void>;
}

/** The HTTP filters the proxy runs, by config type URL; `perRoute` is keyed by filter name, as routes key their per-filter config. */
function httpFilters(pools: UpstreamPools, timers: Timers): { registry: HttpFilterRegistry; perRoute: ReadonlyMap<string, PerFilterConfigParser> } {
  const named: [name: string, factory: HttpFilterFactory][] = [
    ['envoy.filters.http.fault', new FaultFilterFactory({ timers }) as HttpFilterFactory],
    ['envoy.filters.http.cors', new CorsFilterFactory() as HttpFilterFactory],
    ['envoy.filters.http.local_ratelimit', new LocalRateLimitFilterFactory() as HttpFilterFactory],
    ['envoy.filters.http.ext_authz', new ExtAuthzFilterFactory({ pools, timers }) as HttpFilterFactory],
    ['envoy.filters.http.jwt_authn', new JwtAuthnFilterFactory({ fetch: globalThis.fetch, timers }) as HttpFilterFactory],
    [ISTIO_AUTHN_FILTER, new IstioAuthnFilterFactory() as HttpFilterFactory],
    ['envoy.filters.http.rbac', new RbacFilterFactory() as HttpFilterFactory],
    ['envoy.filters.http.router', new RouterFilterFactory({ pools, timers }) as HttpFilterFactory],
  ];
  const perRoute = new Map<string, PerFilterConfigParser>();
  for (const [name, factory] of named) {
    const parse = factory.parsePerRoute;
    if (parse !== undefined) perRoute.set(name, (config) => parse.call(factory, config));
  }
  return { registry: new Map(named.map(([, factory]) => [factory.typeUrl, factory])), perRoute };
}

function bindAddress(binding: ListenerBinding | undefined): ((listener: { readonly address: string; readonly port: number }) => BindAddress) | undefined {
  if (binding === undefined || (binding.host === undefined && binding.ports === undefined)) return undefined;
  return (listener) => ({ host: binding.host ?? listener.address, port: binding.ports?.get(listener.port) ?? listener.port });
}

/**
 * Builds and starts a proxy from its bootstrap: stats, the cluster manager (CDS, EDS), route
 * tables (RDS), the HTTP and network filters, the listener manager (LDS), the ADS client that
 * feeds them, and the admin, health and Prometheus ports.
 */
export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const { bootstrap, loggers } = options;
  const clock = systemClock;
  const timers = systemTimers;
  const random = Math.random;
  const stats = new StatsStore();
  const startTime = clock.now();

  // TLS to the control plane (xDS and the CA alike) when the bootstrap names its root; read before anything starts.
  const controlPlane = controlPlaneChannel(bootstrap.ads.tls);
  const certificates = workloadCertificateClient(options, { clock, timers, random }, controlPlane);
  // With a workload certificate, the proxy serves Istio's `default` and `ROOTCA` itself, as Istio's agent does for Envoy.
  const secrets = new SecretStore({ localNames: certificates === undefined ? [] : [SDS_WORKLOAD_CERTIFICATE, SDS_ROOT_CA], now: () => clock.now() });
  certificates?.onCertificate((certificate) => {
    secrets.setLocal(SDS_WORKLOAD_CERTIFICATE, { kind: 'tlsCertificate', certificateChainPem: certificate.certChainPem.join(''), privateKeyPem: certificate.privateKeyPem }, certificate.serial);
    secrets.setLocal(SDS_ROOT_CA, { kind: 'validationContext', trustedCaPem: certificate.trustBundlePem }, certificate.serial);
    // The mesh root may rotate away from --xds-root-cert's; reconnections to the control plane follow the bundle.
    controlPlane?.trustWorkloadBundle(certificate.trustBundle);
  });

  const clusters = new XdsClusterManager({ stats, timers, clock, random, logger: loggers.get('upstream') });
  const internalListeners = new InternalListeners();
  const pools = new UpstreamPools({ timers, stats, clusters, logger: loggers.get('upstream'), internalListeners, secrets });
  const filters = httpFilters(pools, timers);
  const routes = new RouteConfigStore({ clock, perFilterConfigParsers: filters.perRoute });
  const networkFilters: (NetworkFilterFactory | ConnectionFilterFactory)[] = [
    new RbacNetworkFilterFactory() as ConnectionFilterFactory,
    new HttpConnectionManagerFactory({ routes, httpFilters: filters.registry, timers, newRequestId: randomUUID }) as NetworkFilterFactory,
    new TcpProxyFactory({ timers, logger: loggers.get('upstream'), internalListeners, secrets }) as NetworkFilterFactory,
  ];
  const originalDestination = loadOriginalDestination();
  if (!originalDestination.ok) loggers.get('main').warn(`${originalDestination.error}; redirected connections are taken as addressed to the listener`);
  const binding = bindAddress(options.binding);
  const listeners = new ListenerManager({
    filters: new Map(networkFilters.map((f) => [f.typeUrl, f])),
    deps: { clusters, stats, accessLog: options.accessLog, clock, random, logger: loggers.get('connection') },
    timers,
    internalListeners,
    secrets,
    ...(originalDestination.ok ? { originalDestination: originalDestination.value } : {}),
    ...(binding === undefined ? {} : { bindAddress: binding }),
    ...(options.drainTimeMs === undefined ? {} : { drainTimeMs: options.drainTimeMs }),
  });

  const ads = new AdsClient({
    ads: bootstrap.ads,
    node: xdsNode(bootstrap, options.version),
    handlers: [clusters.cds, clusters.eds, listeners, routes, secrets.sds],
    clock,
    timers,
    random,
    logger: loggers.get('config'),
    stats,
    ...controlPlane,
  });
  secrets.addReferences(() => listeners.secretNames());
  secrets.addReferences(() => {
    const names = new Set<string>();
    for (const name of clusters.names()) {
      const config = clusters.get(name)?.config;
      if (config !== undefined) for (const secret of sdsSecretNames(config)) names.add(secret);
    }
    return names;
  });

  let state: ServerState = 'INITIALIZING';
  let closed = false;
  const admin = new AdminServer({
    logger: loggers.get('admin'),
    endpoints: adminEndpoints({
      stats,
      configDump: [bootstrapDumpSource(bootstrap, new Date(startTime).toISOString()), ...ads.configDumpSources(), secretsDumpSource(() => secrets.list())],
      clusters: () => clusters.dump().statuses.map(adminClusterStatus),
      listeners: () => listeners.bound(),
      state: () => state,
      serverInfo: { version: options.version, node: xdsNode(bootstrap, options.version), commandLineOptions: options.commandLineOptions, startTime },
      clock,
      certificates: () => {
        const current = certificates?.current();
        return current === undefined ? [] : [{ caCertPem: current.trustBundle, certChainPem: current.certChainPem }];
      },
      logLevels: loggers,
      drainListeners: ({ inboundOnly }) => {
        listeners.stopAccepting(inboundOnly ? (listener) => listener.trafficDirection === 'INBOUND' || listener.name === 'virtualInbound' : undefined);
        listeners.drainConnections();
        state = 'DRAINING';
      },
      quit: options.onQuit,
    }),
  });
  const health = new AdminServer({ logger: loggers.get('admin'), endpoints: healthEndpoints({ state: () => state }) });
  const prometheus = new AdminServer({ logger: loggers.get('admin'), endpoints: prometheusEndpoints({ stats }) });

  const closeAll = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    certificates?.close();
    await ads.close();
    listeners.close();
    pools.close();
    clusters.close();
    await Promise.all([admin.close(), health.close(), prometheus.close()]);
  };

  let ports: number[];
  try {
    ports = await Promise.all([admin.listen(bootstrap.admin.address), health.listen(bootstrap.health.address), prometheus.listen(bootstrap.stats.address)]);
  } catch (error) {
    await closeAll();
    throw error;
  }
  const [adminPort, healthPort, statsPort] = ports as [number, number, number];
  const main = loggers.get('main');
  main.info('admin listening', { address: `${hostOf(bootstrap.admin.address)}:${adminPort}` });
  main.info('health listening', { address: `${hostOf(bootstrap.health.address)}:${healthPort}` });
  main.info('prometheus listening', { address: `${hostOf(bootstrap.stats.address)}:${statsPort}` });

  ads.start();
  certificates?.start();
  const initialized = Promise.all([ads.ready(), firstCertificate(certificates, timers)]).then(() => {
    if (state === 'INITIALIZING') state = 'LIVE';
    main.info('proxy ready', { listeners: listeners.bound().map((l) => `${l.name}=${l.address.address}:${l.address.port}`).join(',') });
  });
  initialized.catch(() => undefined);

  let shuttingDown: Promise<void> | undefined;
  return {
    adminPort,
    healthPort,
    statsPort,
    workloadCertificate: certificates,
    state: () => state,
    listeners: () => listeners.bound(),
    ready: () => initialized,
    shutdown: () => {
      shuttingDown ??= (async () => {
        state = 'DRAINING';
        listeners.stopAccepting();
        listeners.drainConnections();
        const deadline = clock.now() + options.terminationDrainMs;
        while (listeners.openConnections() > 0 && clock.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        const left = listeners.openConnections();
        if (left > 0) main.warn('termination drain time is over, closing the connections still open', { connections: left });
        await closeAll();
      })();
      return shuttingDown;
    },
    close: closeAll,
  };
}

/** How long readiness waits for the workload certificate, as Envoy waits for a listener's SDS secrets (its initial fetch timeout). */
const CERTIFICATE_WAIT_MS = 15_000;

/** Resolves once the proxy has its first workload certificate (at most CERTIFICATE_WAIT_MS), at once without a CA. */
function firstCertificate(certificates: WorkloadCertificateClient | undefined, timers: Timers): Promise<void> {
  if (certificates === undefined || certificates.current() !== undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = timers.setTimeout(done, CERTIFICATE_WAIT_MS);
    const stop = certificates.onCertificate(done);
    function done(): void {
      timers.clearTimeout(timer);
      stop();
      resolve();
    }
  });
}

/** Istio's SDS names for the workload's certificate and the mesh root. */
const SDS_WORKLOAD_CERTIFICATE = 'default';
const SDS_ROOT_CA = 'ROOTCA';

/** The workload certificate client for the node's namespace and service account, when the bootstrap names a CA token file. */
function workloadCertificateClient(options: ProxyOptions, time: { clock: Clock; timers: Timers; random: () => number }, controlPlane: ControlPlaneChannel | undefined): WorkloadCertificateClient | undefined {
  const { ca, node } = options.bootstrap;
  const tokenFile = ca.tokenFile;
  if (tokenFile === undefined) return undefined;
  return new WorkloadCertificateClient({
    caAddress: ca.address,
    identity: { trustDomain: ca.trustDomain, namespace: String(node.metadata['NAMESPACE']), serviceAccount: String(node.metadata['SERVICE_ACCOUNT']) },
    readToken: () => readFile(tokenFile, 'utf8'),
    ...(options.workloadCertificateTtlSeconds !== undefined && { validitySeconds: options.workloadCertificateTtlSeconds }),
    createKeyAndCsr: createWorkloadKeyAndCsr,
    ...time,
    logger: options.loggers.get('main'),
    ...controlPlane,
  });
}

/** The cluster manager's view of a cluster, as the admin port's `/clusters` shows it. */
function adminClusterStatus(status: ClusterStatus): AdminClusterStatus {
  const limits = status.circuitBreakers;
  return {
    name: status.name,
    addedViaApi: true,
    circuitBreakers: [{ priority: 'default', maxConnections: limits.connections, maxPendingRequests: limits.pendingRequests, maxRequests: limits.requests, maxRetries: limits.retries }],
    hosts: status.hosts.map((host) => {
      const [region, zone, subZone] = host.locality.split('/');
      return {
        address: host.id,
        ...(host.hostname === undefined ? {} : { hostname: host.hostname }),
        counters: { cx_connect_fail: host.cxConnectFail, cx_total: host.cxTotal, rq_error: host.rqError, rq_success: host.rqTotal - host.rqError, rq_timeout: host.rqTimeout, rq_total: host.rqTotal },
        gauges: { cx_active: host.cxActive, rq_active: host.rqActive },
        healthFlags: host.healthFlags === 'healthy' ? [] : host.healthFlags.split('/').filter((flag) => flag !== ''),
        weight: host.weight,
        priority: host.priority,
        ...(host.locality === '' ? {} : { locality: { ...(region ? { region } : {}), ...(zone ? { zone } : {}), ...(subZone ? { subZone } : {}) } }),
      };
    }),
  };
}

function hostOf(address: string): string {
  return address.slice(0, address.lastIndexOf(':'));
}

/** Parses `--port-map 8080=0` entries. */
export function parsePortMap(entries: readonly string[]): Result<Map<number, number>, string> {
  const map = new Map<number, number>();
  for (const entry of entries) {
    const match = /^(\d{1,5})=(\d{1,5})$/.exec(entry);
    const from = Number(match?.[1]);
    const to = Number(match?.[2]);
    if (match === null || from < 1 || from > 65_535 || to > 65_535) {
      return err(`--port-map ${entry}: expected CONFIGURED=BOUND, two port numbers (BOUND 0 lets the system pick), e.g. 8080=18080`);
    }
    map.set(from, to);
  }
  return ok(map);
}
