import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { ofKind, type AnyResource, type Resource } from '../config/index.ts';
import { portEnvName } from '../config/kinds/weft/local-workload.ts';
import type { Clock, Timers } from '../core/index.ts';
import { ProcessSupervisor, type SupervisorEvent, type SupervisorStatus } from './process-supervisor.ts';
import { ReadinessProbe, type ProbeAction } from './readiness-probe.ts';
import type { ReplicaNetwork, ReplicaPlacement, ServicePortRef } from './replica-network.ts';
import { WorkloadTokenFiles, type WorkloadTokenIssuer } from './workload-token-files.ts';

/** How a replica's sidecar stands with the control plane, as proxy-status says it. */
export type SidecarSync = 'SYNCED' | 'STALE' | 'NOT CONNECTED' | 'ERROR';

export interface LocalMeshOptions {
  readonly stateDir: string;
  /** The control plane's configuration: the LocalWorkloads in it are what runs. */
  readonly config: {
    current(): { readonly resources: readonly AnyResource[] };
    subscribe(listener: () => void): () => void;
  };
  /** The control plane's ADS address (`127.0.0.1:port`): its TLS port, which also serves the CA. */
  readonly xdsAddress: string;
  /** The mesh root (PEM file) the proxies check the control plane's certificate against (`weft proxy --xds-root-cert`). */
  readonly xdsRootCertFile: string;
  /** The sync state of the sidecar with this proxy id (`<pod>.<namespace>`). */
  readonly sidecarSync: (proxyId: string) => SidecarSync;
  /** How to run `weft proxy`: the program and the arguments before `proxy`'s own flags. */
  readonly proxyCommand: { readonly command: string; readonly args: readonly string[] };
  /** The Node.js that runs `node` in a LocalWorkload's command (the one running weft). */
  readonly nodePath: string;
  /** The environment processes start from (weft's own: PATH, HOME, ...). */
  readonly baseEnv: Readonly<Record<string, string>>;
  /** The ingress gateway's host ports for Gateway ports 80 and 443; no gateway when undefined. */
  readonly gateway: { readonly httpPort: number; readonly httpsPort: number } | undefined;
  /** The service ports a replica of `namespace` may call (those exported to it), as of now. */
  readonly services: (namespace: string) => readonly ServicePortRef[];
  /** Where replicas live and how their traffic reaches their sidecars (explicit or transparent mode). */
  readonly network: ReplicaNetwork;
  readonly clock: Clock;
  readonly timers: Timers;
  /** Progress and problems, one line each, for the user. */
  readonly report: (line: string) => void;
  /** Issues the token a sidecar (or the gateway) presents to the control plane's CA for its certificate. */
  readonly issueWorkloadToken: WorkloadTokenIssuer;
  /** The trust domain of the workloads' SPIFFE ids (`cluster.local`). */
  readonly trustDomain: string;
}

export interface ReplicaStatus {
  /** `<workload>-<i>`. */
  readonly name: string;
  readonly address: string;
  readonly app: SupervisorStatus;
  readonly sidecar: SupervisorStatus;
  readonly ready: boolean;
  readonly readiness: string;
  readonly sync: SidecarSync;
  /** The declared port → the loopback port the app was given. */
  readonly appPorts: Readonly<Record<string, number>>;
  /** The declared port → where the mesh reaches it (`<address>:<port>`, through the sidecar). */
  readonly endpoints: Readonly<Record<string, string>>;
}

export interface WorkloadStatus {
  readonly name: string;
  readonly namespace: string;
  readonly version: string;
  readonly desired: number;
  readonly replicas: readonly ReplicaStatus[];
}

export interface GatewayStatus {
  readonly address: string;
  readonly url: string;
  readonly sidecar: SupervisorStatus;
  readonly sync: SidecarSync;
}

/** The ingress gateway's identity, as Istio's default install names it. */
export const GATEWAY = { name: 'istio-ingressgateway', namespace: 'istio-system', labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' } } as const;

/**
 * The gateway's Service as Istio's install makes it: port 80 to the pod's 8080 and 443 to 8443,
 * so that a Gateway server on 80 listens on 8080 (beside one on 8080, as bookinfo's says). In local
 * mode the pod's 8080 and 8443 are the host ports given to `weft up`.
 */
export const GATEWAY_SERVICE = {
  name: '<weft up: the ingress gateway Service>',
  text: `apiVersion: v1
kind: Service
metadata:
  name: ${GATEWAY.name}
  namespace: ${GATEWAY.namespace}
  labels: {app: ${GATEWAY.labels.app}, istio: ${GATEWAY.labels.istio}}
spec:
  selector: {istio: ${GATEWAY.labels.istio}}
  ports:
  - {name: status-port, port: 15021, targetPort: 15021}
  - {name: http2, port: 80, targetPort: 8080}
  - {name: https, port: 443, targetPort: 8443}
`,
} as const;

interface Replica {
  readonly key: string;
  readonly workload: Resource<'LocalWorkload'>;
  readonly index: number;
  readonly name: string;
  readonly placement: ReplicaPlacement;
  readonly app: ProcessSupervisor;
  readonly sidecar: ProcessSupervisor;
  readonly probe: ReadinessProbe | undefined;
}

/**
 * Local mode's workloads: keeps one app process and one sidecar per replica of every
 * LocalWorkload in the configuration running (started, restarted on crash, stopped when the
 * workload goes), and an ingress gateway. Each replica gets an address of its own from the
 * network (a loopback address in explicit mode, a network namespace in transparent mode), as a
 * pod gets an IP; the app listens where the network says (PORT, PORT_<NAME>). A replica takes
 * traffic (is a healthy endpoint) once its probe passes.
 */
export class LocalMesh {
  readonly #options: LocalMeshOptions;
  readonly #replicas = new Map<string, Replica>();
  readonly #readinessListeners = new Set<() => void>();
  readonly #tokens: WorkloadTokenFiles;
  #gateway: { readonly sidecar: ProcessSupervisor; readonly address: string } | undefined;
  #queue: Promise<void> = Promise.resolve();
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  constructor(options: LocalMeshOptions) {
    this.#options = options;
    this.#tokens = new WorkloadTokenFiles(join(options.stateDir, 'tokens'), options.issueWorkloadToken);
  }

  /** Starts the gateway and the workloads of the configuration, then follows its changes. */
  async start(): Promise<void> {
    this.#tokens.reset();
    if (this.#options.gateway !== undefined) await this.#startGateway(this.#options.gateway);
    await this.reconcile();
    this.#unsubscribe = this.#options.config.subscribe(() => void this.reconcile());
  }

  /** Brings the running replicas in line with the configuration; changes are applied one at a time. */
  reconcile(): Promise<void> {
    const next = this.#queue.then(() => this.#reconcile());
    this.#queue = next.catch((error: unknown) => this.#options.report(`weft: ${(error as Error).message}`));
    return this.#queue;
  }

  /** The readiness gate of the control plane's registry: a replica's sidecar workload is ready when its probe is. */
  isReady(uid: string): boolean {
    for (const replica of this.#replicas.values()) {
      if (`proxy/${replica.workload.namespace}/${replica.name}` === uid) return replica.probe === undefined || replica.probe.ready;
    }
    return false;
  }

  subscribeReadiness(listener: () => void): () => void {
    this.#readinessListeners.add(listener);
    return () => this.#readinessListeners.delete(listener);
  }

  workloads(): WorkloadStatus[] {
    const out: WorkloadStatus[] = [];
    for (const workload of ofKind(this.#options.config.current().resources, 'LocalWorkload')) {
      const replicas = [...this.#replicas.values()].filter((r) => r.workload.namespace === workload.namespace && r.workload.name === workload.name);
      out.push({
        name: workload.name,
        namespace: workload.namespace,
        version: workload.object.spec.labels['version'] ?? '',
        desired: workload.object.spec.replicas,
        replicas: replicas.sort((a, b) => a.index - b.index).map((r) => this.#replicaStatus(r)),
      });
    }
    return out;
  }

  gateway(): GatewayStatus | undefined {
    const gateway = this.#gateway;
    const ports = this.#options.gateway;
    if (gateway === undefined || ports === undefined) return undefined;
    return {
      address: gateway.address,
      url: `http://127.0.0.1:${ports.httpPort}`,
      sidecar: gateway.sidecar.status(),
      sync: this.#options.sidecarSync(`${GATEWAY.name}-0.${GATEWAY.namespace}`),
    };
  }

  /** Stops every process: apps first, so that their last requests still find their sidecars, then sidecars and the gateway. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe?.();
    await this.#queue;
    const replicas = [...this.#replicas.values()];
    replicas.forEach((r) => r.probe?.stop());
    await Promise.all(replicas.map((r) => r.app.stop()));
    await Promise.all([...replicas.map((r) => r.sidecar.stop()), this.#gateway?.sidecar.stop()]);
    this.#replicas.clear();
    await Promise.all(replicas.map((r) => r.placement.release().catch((error: unknown) => this.#options.report(`weft: ${(error as Error).message}`))));
    this.#tokens.removeAll();
    await this.#options.network.close();
  }

  /** Kills every process at once: for an exit that cannot wait. */
  killNow(): void {
    for (const replica of this.#replicas.values()) {
      replica.app.killNow();
      replica.sidecar.killNow();
    }
    this.#gateway?.sidecar.killNow();
  }

  async #reconcile(): Promise<void> {
    if (this.#closed) return;
    const desired = new Map<string, { workload: Resource<'LocalWorkload'>; index: number }>();
    for (const workload of ofKind(this.#options.config.current().resources, 'LocalWorkload')) {
      for (let i = 0; i < workload.object.spec.replicas; i++) desired.set(replicaKey(workload, i), { workload, index: i });
    }
    const stopping: Replica[] = [];
    for (const [key, replica] of this.#replicas) {
      const wanted = desired.get(key);
      if (wanted === undefined || !sameWorkload(wanted.workload, replica.workload)) stopping.push(replica);
    }
    for (const replica of stopping) {
      this.#replicas.delete(replica.key);
      replica.probe?.stop();
      this.#notifyReadiness();
    }
    await Promise.all(stopping.map(async (replica) => {
      await replica.app.stop();
      await replica.sidecar.stop();
      await replica.placement.release();
      this.#tokens.remove(replica.workload.namespace, replica.name);
      this.#options.report(`stopped ${replica.workload.namespace}/${replica.name}`);
    }));
    await this.#options.network.servicesChanged();
    for (const [key, { workload, index }] of desired) {
      if (this.#replicas.has(key) || this.#closed) continue;
      await this.#startReplica(key, workload, index);
    }
  }

  async #startReplica(key: string, workload: Resource<'LocalWorkload'>, index: number): Promise<void> {
    const spec = workload.object.spec;
    const name = `${workload.name}-${index}`;
    const placement = await this.#options.network.place(`${workload.namespace}.${name}`, name, spec.ports.map((p) => p.containerPort), this.#options.services(workload.namespace));
    const { address, appPorts } = placement;
    const logs = (suffix: string) => join(this.#options.stateDir, 'logs', `${workload.namespace}.${name}${suffix}.log`);
    const bootstrapFile = join(this.#options.stateDir, 'proxies', `${workload.namespace}.${name}.yaml`);
    writeBootstrap(bootstrapFile, {
      node: {
        id: `sidecar~${address}~${name}.${workload.namespace}~${workload.namespace}.svc.cluster.local`,
        metadata: {
          NAMESPACE: workload.namespace,
          LABELS: spec.labels,
          SERVICE_ACCOUNT: spec.serviceAccount,
          WORKLOAD_NAME: workload.name,
          INSTANCE_IPS: address,
          POD_PORTS: JSON.stringify(spec.ports.map((p) => ({
            containerPort: p.containerPort,
            protocol: p.protocol,
            ...(p.name !== undefined ? { name: p.name } : {}),
            ...(placement.hostPorts.has(p.containerPort) ? { hostPort: placement.hostPorts.get(p.containerPort) } : {}),
          }))),
          ...placement.proxyMetadata,
        },
      },
      ads: { address: this.#options.xdsAddress },
      admin: { address: placement.proxy.admin },
      health: { address: placement.proxy.health },
      stats: { address: placement.proxy.stats },
    });
    const tokenFile = this.#tokens.write(workload.namespace, name, spec.serviceAccount);
    const proxy = placement.command(this.#options.proxyCommand.command, [
      ...this.#options.proxyCommand.args, '--bootstrap', bootstrapFile, ...this.#caArgs(tokenFile), ...placement.proxyArgs,
    ], 'proxy');
    const sidecar = this.#supervisor(`${name}.proxy`, proxy.command, proxy.args, this.#options.stateDir, this.#proxyEnv(), logs('.proxy'));

    const firstPort = spec.ports[0];
    const env: Record<string, string> = {
      ...this.#options.baseEnv,
      ...Object.fromEntries(spec.env.map((e) => [e.name, e.value])),
      WEFT_WORKLOAD: workload.name,
      WEFT_NAMESPACE: workload.namespace,
      POD_NAME: name,
      ...placement.appEnv,
      ...(firstPort !== undefined ? { PORT: String(appPorts.get(firstPort.containerPort)) } : {}),
      ...Object.fromEntries(spec.ports.filter((p) => p.name !== undefined).map((p) => [portEnvName(p.name!), String(appPorts.get(p.containerPort))])),
    };
    for (const lower of ['http_proxy', 'no_proxy', 'https_proxy', 'HTTPS_PROXY']) delete env[lower];
    const [program, ...args] = spec.command as [string, ...string[]];
    const workingDir = isAbsolute(spec.workingDir) ? spec.workingDir : resolve(dirname(workload.origin.file), spec.workingDir);
    const appCommand = placement.command(program === 'node' ? this.#options.nodePath : program, args, 'app');
    const app = this.#supervisor(name, appCommand.command, appCommand.args, workingDir, env, logs(''));

    const action = probeAction(workload, appPorts, placement.probeHost);
    const probeSpec = spec.readinessProbe;
    const probe = action === undefined ? undefined : new ReadinessProbe({
      action,
      timing: {
        initialDelayMs: (probeSpec?.initialDelaySeconds ?? 0) * 1000,
        periodMs: (probeSpec?.periodSeconds ?? 1) * 1000,
        timeoutMs: (probeSpec?.timeoutSeconds ?? 1) * 1000,
        successThreshold: probeSpec?.successThreshold ?? 1,
        failureThreshold: probeSpec?.failureThreshold ?? 3,
      },
      clock: this.#options.clock,
      timers: this.#options.timers,
      onChange: (ready, detail) => {
        this.#options.report(`${workload.namespace}/${name} ${ready ? 'is ready' : `is not ready: ${detail}`}`);
        this.#notifyReadiness();
      },
    });
    const replica: Replica = { key, workload, index, name, placement, app, sidecar, probe };
    this.#replicas.set(key, replica);

    this.#options.report(`starting ${workload.namespace}/${name} at ${address}${this.#options.network.mode === 'explicit' ? ` (app on ${[...appPorts.values()].map((p) => `127.0.0.1:${p}`).join(', ') || 'no port'})` : ''}`);
    // A process that cannot start says why through its supervisor's 'failed' event.
    await sidecar.start();
    await app.start();
    probe?.start();
    if (probe === undefined) this.#notifyReadiness();
  }

  async #startGateway(ports: { readonly httpPort: number; readonly httpsPort: number }): Promise<void> {
    const own = await this.#options.network.gateway();
    const address = own.address;
    const pod = `${GATEWAY.name}-0`;
    const serviceAccount = `${GATEWAY.name}-service-account`;
    const bootstrapFile = join(this.#options.stateDir, 'proxies', `${GATEWAY.namespace}.${pod}.yaml`);
    writeBootstrap(bootstrapFile, {
      node: {
        id: `router~${address}~${pod}.${GATEWAY.namespace}~${GATEWAY.namespace}.svc.cluster.local`,
        metadata: { NAMESPACE: GATEWAY.namespace, LABELS: GATEWAY.labels, SERVICE_ACCOUNT: serviceAccount, WORKLOAD_NAME: GATEWAY.name, INSTANCE_IPS: address },
      },
      ads: { address: this.#options.xdsAddress },
      admin: { address: own.admin },
      health: { address: own.health },
      stats: { address: own.stats },
    });
    const sidecar = this.#supervisor(GATEWAY.name, this.#options.proxyCommand.command, [
      ...this.#options.proxyCommand.args, '--bootstrap', bootstrapFile,
      ...this.#caArgs(this.#tokens.write(GATEWAY.namespace, pod, serviceAccount)),
      // The pod's 8080 and 8443 (GATEWAY_SERVICE) are the host ports given; no root is needed.
      '--bind-address', '127.0.0.1', '--port-map', `8080=${ports.httpPort}`, '--port-map', `8443=${ports.httpsPort}`,
    ], this.#options.stateDir, this.#proxyEnv(), join(this.#options.stateDir, 'logs', `${GATEWAY.namespace}.${pod}.proxy.log`));
    this.#gateway = { sidecar, address };
    this.#options.report(`starting the ingress gateway on http://127.0.0.1:${ports.httpPort}`);
    const started = await sidecar.start();
    if (!started.ok) throw new Error(`the ingress gateway did not start: ${started.error}`);
  }

  /**
   * The flags that have a proxy talk to the control plane over TLS, checked against the mesh root,
   * and ask its CA (on the xDS address) for its certificate with the token in `tokenFile`.
   */
  #caArgs(tokenFile: string): string[] {
    return ['--xds-root-cert', this.#options.xdsRootCertFile, '--ca-token-file', tokenFile, '--trust-domain', this.#options.trustDomain];
  }

  /**
   * The proxies share Node's compile cache in the state directory: every sidecar loads the same
   * modules, and compiling them was most of a proxy's start (bench/RESULTS.md).
   */
  #proxyEnv(): Readonly<Record<string, string>> {
    return { ...this.#options.baseEnv, NODE_COMPILE_CACHE: join(this.#options.stateDir, 'compile-cache') };
  }

  #supervisor(name: string, command: string, args: readonly string[], cwd: string, env: Readonly<Record<string, string>>, logFile: string): ProcessSupervisor {
    return new ProcessSupervisor({
      name, command, args, cwd, env, logFile,
      clock: this.#options.clock,
      timers: this.#options.timers,
      onEvent: (event) => this.#onEvent(name, event),
    });
  }

  #onEvent(name: string, event: SupervisorEvent): void {
    if (event.type === 'exited' && event.restartInMs !== undefined) {
      const how = event.signal !== null ? `by signal ${event.signal}` : `with code ${event.code}`;
      this.#options.report(`${name} exited ${how}; restarting in ${Math.round(event.restartInMs / 100) / 10}s (weft logs ${name})`);
    } else if (event.type === 'failed') {
      this.#options.report(`${name}: ${event.message}`);
    }
  }

  #replicaStatus(replica: Replica): ReplicaStatus {
    return {
      name: replica.name,
      address: replica.placement.address,
      app: replica.app.status(),
      sidecar: replica.sidecar.status(),
      ready: replica.probe === undefined || replica.probe.ready,
      readiness: replica.probe?.detail ?? 'no port to probe',
      sync: this.#options.sidecarSync(`${replica.name}.${replica.workload.namespace}`),
      appPorts: Object.fromEntries([...replica.placement.appPorts].map(([k, v]) => [String(k), v])),
      endpoints: Object.fromEntries([...replica.placement.appPorts.keys()].map((port) => [String(port), `${replica.placement.address}:${replica.placement.hostPorts.get(port) ?? port}`])),
    };
  }

  #notifyReadiness(): void {
    for (const listener of this.#readinessListeners) listener();
  }
}

function replicaKey(workload: Resource<'LocalWorkload'>, index: number): string {
  return `${workload.namespace}/${workload.name}/${index}`;
}

/** A replica keeps running while its workload's spec and the file it came from are unchanged. */
function sameWorkload(a: Resource<'LocalWorkload'>, b: Resource<'LocalWorkload'>): boolean {
  return a.origin.file === b.origin.file && isDeepStrictEqual({ ...a.object.spec, replicas: 0 }, { ...b.object.spec, replicas: 0 });
}

/** The probe of the workload, or by default a TCP connect to its first port; none when it declares no port. */
function probeAction(workload: Resource<'LocalWorkload'>, appPorts: ReadonlyMap<number, number>, host: string): ProbeAction | undefined {
  const spec = workload.object.spec;
  const resolvePort = (port: number | string): number | undefined => {
    const declared = typeof port === 'number' ? port : spec.ports.find((p) => p.name === port)?.containerPort;
    return declared === undefined ? undefined : appPorts.get(declared);
  };
  const probe = spec.readinessProbe;
  if (probe?.httpGet !== undefined) {
    const port = resolvePort(probe.httpGet.port);
    if (port === undefined) return undefined;
    return { kind: 'http', host, port, path: probe.httpGet.path, headers: Object.fromEntries((probe.httpGet.httpHeaders ?? []).map((h) => [h.name, h.value])) };
  }
  if (probe?.tcpSocket !== undefined) {
    const port = resolvePort(probe.tcpSocket.port);
    return port === undefined ? undefined : { kind: 'tcp', host, port };
  }
  const first = spec.ports[0];
  return first === undefined ? undefined : { kind: 'tcp', host, port: appPorts.get(first.containerPort)! };
}

function writeBootstrap(path: string, bootstrap: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, toYaml(bootstrap));
}
