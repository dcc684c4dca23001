import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinKinds, formatDiagnostic, type SourceFile } from '../config/index.ts';
import { builtinAnalyzers } from '../config/analysis/index.ts';
import type { ProxyStatus } from '../control/ads/index.ts';
import { MemoryConfigSource } from '../control/sources/index.ts';
import { ConfigJournal } from '../local/config-journal.ts';
import { JournaledConfigStore } from '../local/journaled-config-store.ts';
import { LocalApi } from '../local/local-api.ts';
import { GATEWAY_SERVICE, LocalMesh, type SidecarSync } from '../local/local-mesh.ts';
import { LoopbackNetwork } from '../local/loopback-network.ts';
import { SharedLoopbackNetwork } from '../local/shared-loopback-network.ts';
import type { ReplicaNetwork } from '../local/replica-network.ts';
import { PodNetwork } from '../local/transparent/pod-network.ts';
import { TransparentNetwork } from '../local/transparent/transparent-network.ts';
import type { MeshSnapshot } from '../control/snapshot/index.ts';
import { openCertificateAuthority } from './certificate-authority.ts';
import { startControlPlane, type RunningControlPlane } from './control-plane.ts';
import { consoleLogger } from './console-logger.ts';
import { systemClock, systemTimers } from './system.ts';

/** What `weft up` writes for the other commands to find the running mesh. */
export interface MeshFile {
  readonly pid: number;
  readonly api: string;
  /** The control plane's plaintext xDS port (no CA there). */
  readonly xds: string;
  /** Its TLS port, xDS and the CA, which the proxies use; its certificate chains to `<state>/ca/root-cert.pem`. */
  readonly xdsTls: string;
  readonly debug: string;
  readonly gateway?: string;
  /** The loopback range of the proxies' addresses (`127.10`); none when they share 127.0.0.1. */
  readonly addressPrefix?: string;
  readonly mode: 'explicit' | 'transparent';
}

export interface LocalModeOptions {
  /** explicit: HTTP_PROXY, no root; transparent: network namespaces and iptables capture (Linux, root). */
  readonly mode: 'explicit' | 'transparent';
  /** Explicit mode with every proxy on 127.0.0.1 (what macOS allows); chosen by itself when the system has no other loopback address. */
  readonly sharedLoopback?: boolean;
  readonly stateDir: string;
  /** Files or directories (their top-level YAML) applied at start, after what the state directory holds. */
  readonly paths: readonly string[];
  readonly gateway: { readonly httpPort: number; readonly httpsPort: number } | undefined;
  readonly report: (line: string) => void;
  /** Called when `weft down` asks the mesh to stop. */
  readonly onShutdownRequest: () => void;
}

export interface RunningLocalMode {
  readonly mesh: LocalMesh;
  readonly controlPlane: RunningControlPlane;
  readonly file: MeshFile;
  /** Waits until every replica is ready and every sidecar synced, the time is up, or the mesh closes; returns what is not ready. */
  waitUntilReady(timeoutMs: number): Promise<string[]>;
  close(): Promise<void>;
  killNow(): void;
}

/** The trust domain of local workloads' identities, Kubernetes' default as in Istio. */
const TRUST_DOMAIN = 'cluster.local';

/** The `weft` entry point, which local mode runs as `weft proxy` for every sidecar. */
const CLI_PATH = fileURLToPath(new URL('./cli.ts', import.meta.url));

/**
 * `weft up`: the control plane (in this process), the local API, and the local mesh (the gateway
 * and every LocalWorkload's replicas with their sidecars), configured from the state directory's
 * journal and then the paths given.
 */
export async function startLocalMode(options: LocalModeOptions): Promise<RunningLocalMode> {
  const stateDir = resolve(options.stateDir);
  mkdirSync(join(stateDir, 'logs'), { recursive: true, mode: 0o700 });
  const meshPath = join(stateDir, 'mesh.json');
  const running = readMeshFile(stateDir);
  if (running !== undefined && isAlive(running.pid)) {
    throw new Error(`a mesh is already running from ${stateDir} (pid ${running.pid}); stop it with "weft down" or use another --state-dir`);
  }
  const sources = readPaths(options.paths);
  if (options.gateway !== undefined) {
    await assertPortFree(options.gateway.httpPort, 'the gateway port (--port)');
    await assertPortFree(options.gateway.httpsPort, 'the gateway HTTPS port (--https-port)');
  }
  const addressPrefix = options.sharedLoopback === true ? undefined : await chooseAddressPrefix();
  if (addressPrefix === undefined && options.mode === 'transparent') throw new Error('transparent mode needs the loopback addresses 127.10.0.0/16 (Linux has them)');
  if (addressPrefix === undefined && options.sharedLoopback !== true) {
    options.report('this system has no loopback address but 127.0.0.1 (macOS): every proxy listens on 127.0.0.1, on ports of its own');
  }
  const pods = options.mode === 'transparent' && addressPrefix !== undefined ? await createPodNetwork(addressPrefix) : undefined;

  const kinds = builtinKinds();
  const analyzers = builtinAnalyzers();
  const config = new MemoryConfigSource({ kinds, analyzers });
  const store = new JournaledConfigStore({ config, journal: new ConfigJournal(join(stateDir, 'config.jsonl')), kinds, analyzers });
  if (options.gateway !== undefined) {
    // Part of the install, as Istio's is, rather than of what the user applied (not journaled).
    const installed = config.apply([GATEWAY_SERVICE]);
    if (!installed.ok) throw new Error(`the built-in gateway Service is invalid: ${installed.error.map(formatDiagnostic).join('; ')}`);
  }
  for (const problem of store.replay()) options.report(`weft: ${problem}`);
  if (sources.length > 0) {
    const applied = store.apply(sources);
    if (!applied.ok) throw new Error(`the configuration was refused:\n  ${applied.error.map((d) => formatDiagnostic(d)).join('\n  ')}`);
    const changed = applied.value.changes.filter((c) => c.action !== 'unchanged').length;
    const count = applied.value.changes.length;
    options.report(`applied ${count} resource${count === 1 ? '' : 's'} (${changed} new or changed) from ${options.paths.join(', ')}`);
    for (const warning of applied.value.warnings) options.report(`warning: ${formatDiagnostic(warning)}`);
  }

  const logStream = createWriteStream(join(stateDir, 'logs', 'control-plane.log'), { flags: 'a' });
  const logger = consoleLogger({ level: 'info', write: (line) => logStream.write(line) });
  // The root is kept in the state directory, so that it outlives `weft down` as the journal does.
  const ca = await openCertificateAuthority({ trustDomain: TRUST_DOMAIN, clock: systemClock, stateDir: join(stateDir, 'ca') }, logger);
  if (!ca.ok) {
    await new Promise<void>((done) => logStream.end(done));
    throw new Error(`the certificate authority did not start: ${ca.error}`);
  }
  // What proxies check the control plane's certificate against: the mesh root, as Istio's istio-ca-root-cert.
  const rootCertFile = join(stateDir, 'ca', 'root-cert.pem');
  writeFileSync(rootCertFile, ca.value.trustBundle().join(''));
  let mesh: LocalMesh | undefined;
  const readinessListeners = new Set<() => void>();
  const controlPlane = await startControlPlane({
    config: { source: config },
    // Sidecars in network namespaces reach the host only at its address on their bridge.
    xdsAddress: `${pods?.hostAddress ?? '127.0.0.1'}:0`,
    // Proxies use this one, so tokens and certificates never travel in clear.
    xdsTlsAddress: `${pods?.hostAddress ?? '127.0.0.1'}:0`,
    debugAddress: '127.0.0.1:0',
    logger,
    push: { debounceQuietMs: 20, debounceMaxMs: 200 },
    certificateAuthority: ca.value,
    readiness: {
      isReady: (uid) => mesh?.isReady(uid) ?? false,
      subscribe: (listener) => {
        readinessListeners.add(listener);
        return () => readinessListeners.delete(listener);
      },
    },
  });
  const xds = `${pods?.hostAddress ?? '127.0.0.1'}:${controlPlane.xdsPort}`;
  const xdsTls = `${pods?.hostAddress ?? '127.0.0.1'}:${controlPlane.xdsTlsPort}`;
  // The gateway binds its ports only once configured: the apps' free ports must not be those.
  const gatewayPorts = options.gateway === undefined ? [] : [options.gateway.httpPort, options.gateway.httpsPort];
  const network: ReplicaNetwork = addressPrefix === undefined ? new SharedLoopbackNetwork(gatewayPorts)
    : pods === undefined ? new LoopbackNetwork(addressPrefix, gatewayPorts)
    : new TransparentNetwork({ network: pods, hosts: (namespace) => serviceHosts(controlPlane.publisher.current(), namespace), gatewayAddress: `${addressPrefix}.0.1` });
  if (pods !== undefined) controlPlane.publisher.subscribe(() => void network.servicesChanged().catch((error: unknown) => options.report(`weft: ${(error as Error).message}`)));
  options.report(`control plane ready: xDS ${xdsTls} (TLS; plaintext ${xds}), debug API http://127.0.0.1:${controlPlane.debugPort}`);

  mesh = new LocalMesh({
    stateDir,
    config,
    xdsAddress: xdsTls,
    xdsRootCertFile: rootCertFile,
    sidecarSync: (proxyId) => sidecarSync(controlPlane.ads.status(), proxyId),
    proxyCommand: { command: process.execPath, args: [CLI_PATH, 'proxy', '--log-level', 'warning'] },
    nodePath: process.execPath,
    baseEnv: inheritedEnv(),
    gateway: options.gateway,
    network,
    services: (namespace) => controlPlane.publisher.current().servicesVisibleTo(namespace).flatMap((service) => service.ports
      .filter((p) => p.protocol !== 'UDP')
      .map((p) => ({ name: service.name, namespace: service.namespace, hostname: service.hostname, port: p.port }))),
    clock: systemClock,
    timers: systemTimers,
    report: options.report,
    issueWorkloadToken: (namespace, serviceAccount) => controlPlane.workloadTokens.issue(namespace, serviceAccount),
    trustDomain: TRUST_DOMAIN,
  });
  mesh.subscribeReadiness(() => readinessListeners.forEach((l) => l()));

  const token = randomBytes(32).toString('hex');
  const api = new LocalApi({
    token,
    store,
    status: () => ({ workloads: mesh!.workloads(), gateway: mesh!.gateway(), controlPlane: { xds, debug: `http://127.0.0.1:${controlPlane.debugPort}`, stateDir } }),
    shutdown: options.onShutdownRequest,
  });
  const apiPort = await api.listen('127.0.0.1', 0);
  writeFileSync(join(stateDir, 'token'), token, { mode: 0o600 });
  const file: MeshFile = {
    pid: process.pid,
    api: `http://127.0.0.1:${apiPort}`,
    xds,
    xdsTls,
    debug: `http://127.0.0.1:${controlPlane.debugPort}`,
    ...(options.gateway !== undefined ? { gateway: `http://127.0.0.1:${options.gateway.httpPort}` } : {}),
    ...(addressPrefix !== undefined ? { addressPrefix } : {}),
    mode: options.mode,
  };
  writeFileSync(meshPath, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });

  let closed = false;
  const close = async () => {
    closed = true;
    await mesh!.close();
    await api.close();
    await controlPlane.close();
    ca.value.close();
    rmSync(meshPath, { force: true });
    rmSync(join(stateDir, 'token'), { force: true });
    await new Promise<void>((done) => logStream.end(done));
  };
  try {
    await mesh.start();
  } catch (error) {
    await close();
    throw error;
  }

  return {
    mesh,
    controlPlane,
    file,
    async waitUntilReady(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const pending = notReady(mesh!);
        if (pending.length === 0 || closed || Date.now() >= deadline) return pending;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close,
    killNow: () => mesh!.killNow(),
  };
}

/**
 * The bridge and namespaces of transparent mode, named after the loopback range (`weft10` for
 * 127.10) so that what a crashed run left behind is removed first; subnet 10.213.0.0/16 for 127.10,
 * 10.214.0.0/16 for 127.11, and so on.
 */
async function createPodNetwork(addressPrefix: string): Promise<PodNetwork> {
  if (process.platform !== 'linux') throw new Error('transparent mode needs Linux (network namespaces and iptables); use the default explicit mode');
  if (process.getuid?.() !== 0) throw new Error('transparent mode needs root (it creates network namespaces and iptables rules); run weft up as root, or use the default explicit mode');
  const n = Number(addressPrefix.split('.')[1]);
  const prefix = `weft${n}`;
  const cleaned = await PodNetwork.cleanup(prefix);
  if (!cleaned.ok) throw new Error(`cannot remove what an earlier run left: ${cleaned.error}`);
  const created = await PodNetwork.create({ prefix, subnet: `10.${213 + n - 10}.0.0/16` });
  if (!created.ok) throw new Error(created.error);
  return created.value;
}

/**
 * A pod's hosts file: every service with a virtual IP under the names Kubernetes DNS answers from
 * the pod's namespace (`reviews` there; `reviews.default`, `reviews.default.svc` and the FQDN
 * everywhere).
 */
function serviceHosts(snapshot: MeshSnapshot, namespace: string): { address: string; names: string[] }[] {
  const out: { address: string; names: string[] }[] = [];
  for (const service of snapshot.services) {
    if (service.address === undefined || service.address.includes('/') || service.address.includes(':')) continue;
    const names = [service.hostname];
    if (service.origin.kind === 'Service') {
      names.push(`${service.name}.${service.namespace}`, `${service.name}.${service.namespace}.svc`);
      if (service.namespace === namespace) names.push(service.name);
    }
    out.push({ address: service.address, names: [...new Set(names)] });
  }
  return out;
}

/** What keeps the mesh from being ready, one line per replica or gateway. */
function notReady(mesh: LocalMesh): string[] {
  const out: string[] = [];
  const gateway = mesh.gateway();
  if (gateway !== undefined && gateway.sync !== 'SYNCED') out.push(`the ingress gateway: ${gateway.sidecar.state}, ${gateway.sync.toLowerCase()}`);
  for (const workload of mesh.workloads()) {
    for (const replica of workload.replicas) {
      if (replica.app.state === 'failed') out.push(`${workload.namespace}/${replica.name}: ${replica.app.message ?? 'the app failed to start'}`);
      else if (!replica.ready) out.push(`${workload.namespace}/${replica.name}: app ${replica.app.state}, not ready (${replica.readiness})`);
      else if (replica.sync !== 'SYNCED') out.push(`${workload.namespace}/${replica.name}: sidecar ${replica.sidecar.state}, ${replica.sync.toLowerCase()}`);
    }
  }
  return out;
}

/** A sidecar is SYNCED when its newest stream has acknowledged every type it was sent. */
export function sidecarSync(statuses: readonly ProxyStatus[], proxyId: string): SidecarSync {
  const streams = statuses.filter((s) => s.proxyId === proxyId);
  const newest = streams[streams.length - 1];
  if (newest === undefined) return 'NOT CONNECTED';
  if (newest.types.some((t) => t.state === 'ERROR')) return 'ERROR';
  if (newest.types.some((t) => t.state === 'STALE')) return 'STALE';
  return newest.types.some((t) => t.state === 'SYNCED') ? 'SYNCED' : 'STALE';
}

export function readMeshFile(stateDir: string): MeshFile | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir, 'mesh.json'), 'utf8')) as MeshFile;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A directory gives its top-level .yaml, .yml and .json files (subdirectories such as networking/ are applied by hand); a file gives itself. */
function readPaths(paths: readonly string[]): SourceFile[] {
  const files: SourceFile[] = [];
  for (const path of paths) {
    const absolute = resolve(path);
    if (!existsSync(absolute)) throw new Error(`${path}: no such file or directory`);
    const names = statSync(absolute).isDirectory()
      ? readdirSync(absolute).filter((n) => /\.(ya?ml|json)$/.test(n)).sort().map((n) => join(absolute, n))
      : [absolute];
    if (names.length === 0) throw new Error(`${path}: no .yaml, .yml or .json files at its top level`);
    for (const name of names) files.push({ name, text: readFileSync(name, 'utf8') });
  }
  return files;
}

function assertPortFree(port: number, what: string): Promise<void> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      fail(new Error(error.code === 'EADDRINUSE' ? `${what}: 127.0.0.1:${port} is in use by another program; choose another port` : `${what}: cannot listen on 127.0.0.1:${port}: ${error.message}`));
    });
    server.listen(port, '127.0.0.1', () => server.close(() => done()));
  });
}

/**
 * The loopback range the mesh gives its proxies: `127.<n>` for the first n from 10 whose admin
 * port on `127.<n>.0.1` is free, so that two meshes on one machine do not collide. Undefined when
 * the system has no loopback address but 127.0.0.1 (macOS, unless lo0 has aliases).
 */
async function chooseAddressPrefix(): Promise<string | undefined> {
  for (let n = 10; n < 40; n++) {
    const prefix = `127.${n}`;
    const outcome = await new Promise<'free' | 'busy' | 'unavailable'>((done) => {
      const server = createServer();
      server.once('error', (error: NodeJS.ErrnoException) => done(error.code === 'EADDRINUSE' ? 'busy' : 'unavailable'));
      server.listen(15000, `${prefix}.0.1`, () => server.close(() => done('free')));
    });
    if (outcome === 'free') return prefix;
    if (outcome === 'unavailable') return undefined;
  }
  throw new Error('no free loopback range 127.10-127.39 for the mesh\'s proxies (another mesh on each?)');
}

/** The environment of weft itself, as the base of every process it starts (PATH, HOME, locale). */
function inheritedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  return env;
}
