import type { Logger } from '../core/index.ts';
import { systemTimers } from './system.ts';
import { builtinKinds } from '../config/index.ts';
import { builtinAnalyzers } from '../config/analysis/index.ts';
import type { CertificateAuthority } from '../ca/index.ts';
import { AdsServer, type PushSettings } from '../control/ads/index.ts';
import { CertificateSigningService, ControlPlaneCertificate, WorkloadTokens } from '../control/ca-server/index.ts';
import { DebugServer } from '../control/debug/index.ts';
import { ClusterGenerator } from '../control/generators/cluster-generator.ts';
import { EndpointGenerator } from '../control/generators/endpoint-generator.ts';
import { ListenerGenerator } from '../control/generators/listener-generator.ts';
import { RouteGenerator } from '../control/generators/route-generator.ts';
import { SecretGenerator } from '../control/generators/secret-generator.ts';
import type { Generator } from '../control/generators/generator.ts';
import { DEFAULT_MESH_CONFIG, type MeshConfig } from '../control/model/index.ts';
import { JwksResolver } from '../control/jwks/index.ts';
import { SnapshotPublisher } from '../control/snapshot/index.ts';
import { FileConfigSource, parseProxyNode, ProxyWorkloadRegistry, type ConfigSource, type ReadinessGate } from '../control/sources/index.ts';

export interface ControlPlaneOptions {
  /** Where configuration comes from: a directory of YAML (local mode), or a source given by the caller. */
  readonly config: { readonly directory: string } | { readonly source: ConfigSource };
  /** xDS (ADS over plaintext gRPC), Istio's 15010. */
  readonly xdsAddress: string;
  /**
   * xDS and the CA over TLS, Istio's 15012, with a certificate the CA issues for istiod's names
   * (CONTROL_PLANE_DNS_NAMES, 127.0.0.1), re-issued at half its lifetime; needs `certificateAuthority`.
   * With this port the CA is served here only, as istiod's: the plaintext port refuses CreateCertificate.
   */
  readonly xdsTlsAddress?: string;
  /** The lifetime of the TLS port's certificate (default 24 h). */
  readonly serverCertificateLifetimeSeconds?: number;
  /** The debug API (JSON over HTTP). */
  readonly debugAddress: string;
  readonly logger: Logger;
  readonly push?: Partial<PushSettings>;
  readonly mesh?: MeshConfig;
  readonly controlPlaneId?: string;
  /** When connected sidecars' workloads take traffic (local mode: their probes); at once when left out. */
  readonly readiness?: ReadinessGate;
  /** Signs workload certificates (IstioCertificateService) on the TLS port, or on the plaintext one without it; no CA service when left out. */
  readonly certificateAuthority?: CertificateAuthority;
}

export interface RunningControlPlane {
  readonly xdsPort: number;
  /** The TLS port (xDS and the CA), when `xdsTlsAddress` was given. */
  readonly xdsTlsPort: number | undefined;
  /** The certificate that port serves. */
  readonly serverCertificate: ControlPlaneCertificate | undefined;
  readonly debugPort: number;
  readonly config: ConfigSource;
  readonly publisher: SnapshotPublisher;
  readonly ads: AdsServer;
  /** Local mode's workload tokens: issue one per sidecar, which presents it to the CA service. */
  readonly workloadTokens: WorkloadTokens;
  close(): Promise<void>;
}

/** The generators, one per xDS type, in the order clients apply them. */
export function builtinGenerators(): Generator[] {
  return [new ClusterGenerator(), new EndpointGenerator(), new ListenerGenerator(), new RouteGenerator(), new SecretGenerator()];
}

/** Builds and starts the control plane: sources -> snapshot -> generators -> ADS, and the debug API. */
export async function startControlPlane(options: ControlPlaneOptions): Promise<RunningControlPlane> {
  const { logger } = options;
  const mesh = options.mesh ?? DEFAULT_MESH_CONFIG;
  if (options.xdsTlsAddress !== undefined && options.certificateAuthority === undefined) {
    throw new Error('the TLS xDS port needs the certificate authority, which issues its certificate');
  }
  let config: ConfigSource;
  if ('directory' in options.config) {
    const files = new FileConfigSource({
      directory: options.config.directory,
      kinds: builtinKinds(),
      analyzers: builtinAnalyzers(),
      log: (level, message) => (level === 'Error' ? logger.error(message) : level === 'Warning' ? logger.warn(message) : logger.info(message)),
    });
    const started = files.start();
    if (!started.ok) throw new Error(started.error);
    logger.info(`config: ${started.value.resources.length} resources from ${options.config.directory}`);
    config = files;
  } else {
    config = options.config.source;
  }
  const proxies = new ProxyWorkloadRegistry(options.readiness === undefined ? {} : { readiness: options.readiness });
  // Istio's default: the control plane fetches each jwksUri and sends the keys inline, so proxies need no route to the issuer.
  let publisher: SnapshotPublisher | undefined;
  const jwks = new JwksResolver({ onChange: () => publisher?.refresh(), logger });
  publisher = new SnapshotPublisher({ config, workloads: [proxies], mesh, jwks: (uri) => jwks.get(uri) });
  const ads = new AdsServer({
    generators: builtinGenerators(),
    snapshots: publisher,
    parseNode: parseProxyNode,
    onProxyConnected: (proxy, connectionId) => {
      proxies.register(proxy, connectionId);
      logger.info('ads: proxy connected', { proxy: proxy.id, kind: proxy.kind });
    },
    onProxyDisconnected: (connectionId) => {
      proxies.unregister(connectionId);
      logger.info('ads: proxy disconnected', { connection: connectionId });
    },
    clock: { now: () => Date.now() },
    timers: systemTimers,
    logger,
    ...(options.push !== undefined ? { push: options.push } : {}),
  });
  const workloadTokens = new WorkloadTokens();
  if (options.certificateAuthority !== undefined) {
    // Served beside xDS, as istiod does: on the TLS port only when there is one, so tokens never travel in clear.
    new CertificateSigningService({ ca: options.certificateAuthority, authenticator: workloadTokens, logger }).register(ads, { tlsOnly: options.xdsTlsAddress !== undefined });
  }
  const serverCertificate = options.xdsTlsAddress === undefined || options.certificateAuthority === undefined ? undefined : new ControlPlaneCertificate({
    ca: options.certificateAuthority,
    ...(options.serverCertificateLifetimeSeconds === undefined ? {} : { lifetimeSeconds: options.serverCertificateLifetimeSeconds }),
    clock: { now: () => Date.now() },
    timers: systemTimers,
    logger,
  });
  // A reloaded CA (new plugged-in files) signs from now on: the TLS port takes a certificate of the new CA at once.
  const stopWatchingCa = serverCertificate === undefined ? undefined : options.certificateAuthority?.onChange?.(() => {
    logger.info('certificate authority changed; issuing a new control plane certificate');
    void serverCertificate.renew();
  });
  const debug = new DebugServer({
    proxies: () => ads.status(),
    resources: (proxyId, typeUrl) => ads.resources(proxyId, typeUrl),
    snapshot: () => publisher.current(),
    config: () => config.current(),
    controlPlaneId: options.controlPlaneId ?? 'weft-control-plane',
    clusterId: 'Kubernetes',
  });
  let xdsPort: number;
  let xdsTlsPort: number | undefined;
  let debugPort: number;
  try {
    xdsPort = await ads.listen(options.xdsAddress);
    if (serverCertificate !== undefined && options.xdsTlsAddress !== undefined) {
      const issued = await serverCertificate.start();
      if (!issued.ok) throw new Error(issued.error);
      xdsTlsPort = await ads.listen(options.xdsTlsAddress, { kind: 'tls', credentials: serverCertificate.credentials });
    }
    debugPort = await debug.listen(options.debugAddress);
  } catch (e) {
    stopWatchingCa?.();
    serverCertificate?.close();
    await ads.close();
    await debug.close();
    publisher.close();
    jwks.close();
    await config.close();
    throw e;
  }
  logger.info('control plane ready', {
    xds: `${hostOf(options.xdsAddress)}:${xdsPort}`,
    debug: `${hostOf(options.debugAddress)}:${debugPort}`,
    ...(xdsTlsPort === undefined || options.xdsTlsAddress === undefined ? {} : { xdsTls: `${hostOf(options.xdsTlsAddress)}:${xdsTlsPort}` }),
  });
  return {
    xdsPort,
    xdsTlsPort,
    serverCertificate,
    debugPort,
    config,
    publisher,
    ads,
    workloadTokens,
    async close() {
      stopWatchingCa?.();
      serverCertificate?.close();
      await ads.close();
      await debug.close();
      publisher.close();
      jwks.close();
      await config.close();
    },
  };
}

function hostOf(address: string): string {
  return address.slice(0, address.lastIndexOf(':'));
}
