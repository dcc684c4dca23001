import { createHash } from 'node:crypto';
import type { AnyResource, Resource } from '../../config/index.ts';
import type { MeshConfig, ResourceKind, Workload } from '../model/index.ts';
import { DEFAULT_MESH_CONFIG } from '../model/index.ts';
import { workloadsFromConfig, type ConfigSource, type WorkloadSource } from '../sources/index.ts';
import { buildMeshSnapshot, jwksUris } from './build-mesh-snapshot.ts';
import type { MeshSnapshot } from './mesh-snapshot.ts';

export type SnapshotListener = (next: MeshSnapshot, changedKinds: ReadonlySet<ResourceKind>) => void;

/**
 * Keeps the current MeshSnapshot: rebuilds it when the configuration or the running workloads
 * change, and tells listeners which kinds changed so pushes can skip the generators that do not
 * read them. Workloads are the sources' (connected proxies) plus those written as config (Pods,
 * WorkloadEntries).
 */
export class SnapshotPublisher {
  readonly #config: ConfigSource;
  readonly #workloadSources: readonly WorkloadSource[];
  readonly #mesh: MeshConfig;
  readonly #jwks: ((uri: string) => string | undefined) | undefined;
  readonly #listeners = new Set<SnapshotListener>();
  readonly #unsubscribe: (() => void)[] = [];
  #snapshot: MeshSnapshot;
  #fingerprints: ReadonlyMap<string, string>;

  constructor(options: { config: ConfigSource; workloads?: readonly WorkloadSource[]; mesh?: MeshConfig; jwks?: (uri: string) => string | undefined }) {
    this.#config = options.config;
    this.#jwks = options.jwks;
    this.#workloadSources = options.workloads ?? [];
    this.#mesh = options.mesh ?? DEFAULT_MESH_CONFIG;
    const { snapshot, fingerprints } = this.#build(1);
    this.#snapshot = snapshot;
    this.#fingerprints = fingerprints;
    this.#unsubscribe.push(this.#config.subscribe(() => this.#rebuild()));
    for (const source of this.#workloadSources) this.#unsubscribe.push(source.subscribe(() => this.#rebuild()));
  }

  current(): MeshSnapshot {
    return this.#snapshot;
  }

  subscribe(listener: SnapshotListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Builds again, for a change the sources do not announce (a JWKS fetched); pushes only if something changed. */
  refresh(): void {
    this.#rebuild();
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#listeners.clear();
  }

  #build(version: number): { snapshot: MeshSnapshot; fingerprints: ReadonlyMap<string, string> } {
    const resources = this.#config.current().resources;
    const workloads = dedupeWorkloads([...this.#workloadSources.flatMap((s) => s.workloads()), ...workloadsFromConfig(resources)]);
    const snapshot = buildMeshSnapshot({ version, resources, workloads, mesh: this.#mesh, ...(this.#jwks !== undefined && { jwks: this.#jwks }) });
    return { snapshot, fingerprints: fingerprint(resources, workloads, snapshot) };
  }

  #rebuild(): void {
    const { snapshot, fingerprints } = this.#build(this.#snapshot.version + 1);
    const changed = changedKinds(this.#fingerprints, fingerprints);
    if (changed.size === 0) return;
    this.#snapshot = snapshot;
    this.#fingerprints = fingerprints;
    for (const listener of [...this.#listeners]) listener(snapshot, changed);
  }
}

/**
 * A connected proxy and the Pod (or WorkloadEntry) it runs in are one workload: the live proxy is
 * kept. They are the same when namespace, address and labels agree; workloads from config never
 * merge with each other, since several may share an address (hosts, local mode on 127.0.0.1).
 */
function dedupeWorkloads(workloads: readonly Workload[]): Workload[] {
  const proxies = new Set(workloads.filter((w) => w.origin === 'proxy' && w.address !== '').map(identity));
  return workloads.filter((w) => w.origin === 'proxy' || !proxies.has(identity(w)));
}

function identity(workload: Workload): string {
  const labels = Object.entries(workload.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([workload.namespace, workload.address, labels]);
}

/** A content hash per resource (`Kind/ns/name`), per workload (`Workload/uid`) and per fetched key set (as a RequestAuthentication). */
function fingerprint(resources: readonly AnyResource[], workloads: readonly Workload[], snapshot: MeshSnapshot): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  const hash = (value: unknown) => createHash('sha1').update(JSON.stringify(value)).digest('base64');
  for (const r of resources) out.set(`${r.kind}/${r.namespace}/${r.name}`, hash(r.object));
  for (const w of workloads) out.set(`Workload/${w.uid}`, hash(w));
  for (const uri of jwksUris(resources.filter((r): r is Resource<'RequestAuthentication'> => r.kind === 'RequestAuthentication'))) {
    out.set(`RequestAuthentication/jwks/${uri}`, hash(snapshot.jwks(uri) ?? null));
  }
  return out;
}

function changedKinds(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): Set<ResourceKind> {
  const changed = new Set<ResourceKind>();
  const kindOf = (key: string) => key.slice(0, key.indexOf('/')) as ResourceKind;
  for (const [key, value] of after) if (before.get(key) !== value) changed.add(kindOf(key));
  for (const key of before.keys()) if (!after.has(key)) changed.add(kindOf(key));
  return changed;
}
