/** Helpers for tests that need a snapshot (the snapshot's and the generators'); only tests import this module. */
import { builtinKinds, formatDiagnostic, parseSources } from '../../config/index.ts';
import { DEFAULT_MESH_CONFIG, type MeshConfig, type Workload } from '../model/index.ts';
import { buildMeshSnapshot } from './build-mesh-snapshot.ts';
import type { MeshSnapshot } from './mesh-snapshot.ts';

/**
 * A workload with defaults for what is left out: a sidecar proxy (`tlsMode` istio, healthy, weight
 * 1) in `default`, named `workload-<i>`, at `10.0.0.<i+1>`, service account `default`, no labels
 * or ports. `uid` follows the name, namespace and origin.
 */
export function testWorkload(partial: Partial<Workload> = {}, index = 0): Workload {
  const name = partial.name ?? `workload-${index}`;
  const namespace = partial.namespace ?? 'default';
  const origin = partial.origin ?? 'proxy';
  return {
    uid: `${origin}/${namespace}/${name}`,
    name,
    namespace,
    labels: {},
    serviceAccount: 'default',
    address: `10.0.${Math.floor((index + 1) / 256)}.${(index + 1) % 256}`,
    ports: [],
    locality: '',
    network: '',
    weight: 1,
    healthy: true,
    tlsMode: 'istio',
    origin,
    ...partial,
  };
}

export interface SnapshotFromYamlOptions {
  readonly version?: number;
  /** Merged over DEFAULT_MESH_CONFIG. */
  readonly mesh?: Partial<MeshConfig>;
}

/**
 * Builds a snapshot from YAML (as the file `test.yaml`) and workloads given partly (see
 * `testWorkload`; the i-th gets address 10.0.0.<i+1> unless it says otherwise). Throws when the
 * YAML has an error, so a typo in a test's fixture fails loudly instead of silently dropping a resource.
 *
 *   snapshotFromYaml(yaml, [{ name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, ports: [{ port: 9080 }] }])
 */
export function snapshotFromYaml(yaml: string, workloads: readonly Partial<Workload>[] = [], options: SnapshotFromYamlOptions = {}): MeshSnapshot {
  const parsed = parseSources([{ name: 'test.yaml', text: yaml }], { kinds: builtinKinds() });
  const errors = parsed.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(`the test YAML has errors:\n${errors.map(formatDiagnostic).join('\n')}`);
  return buildMeshSnapshot({
    version: options.version ?? 1,
    resources: parsed.resources,
    workloads: workloads.map((w, i) => testWorkload(w, i)),
    mesh: { ...DEFAULT_MESH_CONFIG, ...options.mesh },
  });
}
