/**
 * Compile, in one process: the snapshot of the generated mesh, then every xDS type for sidecars,
 * with the generators the control plane runs (`builtinGenerators()`), as a sidecar subscribes:
 * CDS and LDS (wildcard), EDS for every EDS cluster, RDS for every route configuration its
 * listeners name. Each type is timed twice: the generator alone (Envoy JSON objects), and
 * `generateResources` (generator, protobuf encoding and hashing), which is what the ADS server
 * runs for every response and push.
 */
import { builtinKinds, parseSources } from '../src/config/index.ts';
import { GenerationCache, generateResources, subscriptionKey, type GeneratedResources } from '../src/control/ads/generated-resources.ts';
import type { Generator } from '../src/control/generators/generator.ts';
import type { ProxyView } from '../src/control/model/index.ts';
import { buildMeshSnapshot, type MeshSnapshot } from '../src/control/snapshot/index.ts';
import { parseProxyNode, workloadsFromConfig } from '../src/control/sources/index.ts';
import { builtinGenerators } from '../src/main/control-plane.ts';
import { decodeMessage, TYPE_SHORT_NAME, typeNameOf, type ProtoJson } from '../src/xds/index.ts';
import { generateControlPlaneMesh, sidecarNode } from './control-plane-mesh.ts';
import { memory } from './control-plane-process.ts';

export interface TypeCompile {
  readonly type: string;
  readonly resources: number;
  readonly bytes: number;
  /** Median over the warm runs. */
  readonly generateMs: number;
  readonly generateEncodeMs: number;
}

export interface CompileResult {
  readonly services: number;
  readonly resources: number;
  readonly workloads: number;
  readonly parseMs: number;
  readonly snapshotColdMs: number;
  readonly snapshotWarmMs: number;
  readonly warmRuns: number;
  readonly firstProxyColdMs: number;
  /**
   * All four types through the ADS server's GenerationCache: a sidecar, then another of the same
   * service (equal sharing keys), which is served what the first one's generation produced.
   */
  readonly sharedFirstMs: number;
  readonly sharedSecondMs: number;
  readonly types: readonly TypeCompile[];
  readonly distinctProxies: number;
  /** Generator + encoding, all four types, per proxy, each proxy compiled once. */
  readonly perProxyMs: readonly number[];
  /** Memory (heap and buffers) kept per proxy when its encoded resources are held, as an ADS stream holds what it sent. */
  readonly heldPerProxyBytes: number;
}

/** Heap and ArrayBuffer bytes in use after a full GC: encoded resources live outside the heap. */
function heldMemory(): number {
  const heap = memory().heapUsed;
  return heap + process.memoryUsage().arrayBuffers;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function timed<T>(run: () => T): [T, number] {
  const start = performance.now();
  const value = run();
  return [value, performance.now() - start];
}

/** The names a client learns: EDS clusters from CDS, route configurations from LDS. */
function edsNames(clusters: readonly { readonly name: string; readonly resource: ProtoJson }[]): Set<string> {
  return new Set(clusters.filter((c) => (c.resource as { type?: string }).type === 'EDS').map((c) => c.name));
}

function routeNames(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const item of value) routeNames(item, into);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, field] of Object.entries(value)) {
      if (key === 'routeConfigName' && typeof field === 'string') into.add(field);
      else routeNames(field, into);
    }
  }
  return into;
}

interface OneCompile {
  readonly ms: number[];
  readonly resources: number[];
  readonly bytes: number[];
  readonly held: unknown[];
}

/** The four types in the order a sidecar asks for them, each with the names the previous answers gave. */
function compileProxy(proxy: ProxyView, snapshot: MeshSnapshot, generators: readonly Generator[], encode: boolean, cache?: GenerationCache): OneCompile {
  const [cds, eds, lds, rds] = generators as [Generator, Generator, Generator, Generator];
  const out: OneCompile = { ms: [], resources: [], bytes: [], held: [] };
  const run = (generator: Generator, names: ReadonlySet<string> | 'all'): { name: string; resource: ProtoJson }[] => {
    if (encode) {
      const [generated, ms] = timed((): GeneratedResources => (cache === undefined ? generateResources(generator, proxy, snapshot, names) : cache.generate(generator, proxy, snapshot, names, subscriptionKey(names))));
      out.ms.push(ms);
      out.resources.push(generated.resources.length);
      out.bytes.push(generated.resources.reduce((sum, r) => sum + r.bytes.byteLength, 0));
      out.held.push(generated);
      return generated.resources.map((r) => ({ name: r.name, resource: decodeMessage(typeNameOf(r.typeUrl), r.bytes) }));
    }
    const [generated, ms] = timed(() => generator.generate(proxy, snapshot, names));
    out.ms.push(ms);
    out.resources.push(generated.length);
    out.bytes.push(0);
    return generated;
  };
  const clusters = run(cds, 'all');
  run(eds, edsNames(clusters));
  const listeners = run(lds, 'all');
  run(rds, routeNames(listeners.map((l) => l.resource)));
  return out;
}

function sidecar(k: number, services: number): ProxyView {
  const parsed = parseProxyNode(sidecarNode(k, services));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

export function measureCompile(services: number, warmRuns: number, distinctProxies: number): CompileResult {
  const text = generateControlPlaneMesh(services);
  const [parsed, parseMs] = timed(() => parseSources([{ name: 'mesh.yaml', text }], { kinds: builtinKinds() }));
  const errors = parsed.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(`the generated mesh has errors, e.g. ${errors[0]!.message}`);
  const workloads = workloadsFromConfig(parsed.resources);
  const build = (version: number) => buildMeshSnapshot({ version, resources: parsed.resources, workloads });
  const [snapshot, snapshotColdMs] = timed(() => build(1));
  const snapshotWarm: number[] = [];
  for (let i = 0; i < warmRuns; i++) snapshotWarm.push(timed(() => build(i + 2))[1]);

  const generators = builtinGenerators();
  const proxy = sidecar(0, services);
  const first = compileProxy(proxy, snapshot, generators, true);
  const generateRuns: OneCompile[] = [];
  const encodeRuns: OneCompile[] = [];
  for (let i = 0; i < warmRuns; i++) {
    generateRuns.push(compileProxy(proxy, snapshot, generators, false));
    encodeRuns.push(compileProxy(proxy, snapshot, generators, true));
  }
  const types = generators.map((generator, t) => ({
    type: TYPE_SHORT_NAME[generator.typeUrl],
    resources: first.resources[t]!,
    bytes: first.bytes[t]!,
    generateMs: median(generateRuns.map((r) => r.ms[t]!)),
    generateEncodeMs: median(encodeRuns.map((r) => r.ms[t]!)),
  }));

  // Sidecar 0's service has sidecars `services` apart: the second shares everything with the first.
  const cache = new GenerationCache();
  const sharedFirstMs = compileProxy(sidecar(0, services), snapshot, generators, true, cache).ms.reduce((a, b) => a + b, 0);
  const sharedSecondMs = compileProxy(sidecar(services, services), snapshot, generators, true, cache).ms.reduce((a, b) => a + b, 0);

  // Distinct sidecars (a different service, and so namespace, each), each compiled once, holding
  // what an ADS stream would hold for it.
  const before = heldMemory();
  const held: unknown[] = [];
  const perProxyMs: number[] = [];
  for (let k = 1; k <= distinctProxies; k++) {
    const compiled = compileProxy(sidecar(k, services), snapshot, generators, true);
    perProxyMs.push(compiled.ms.reduce((a, b) => a + b, 0));
    held.push(compiled.held);
  }
  const heldPerProxyBytes = (heldMemory() - before) / Math.max(1, distinctProxies);
  held.length = 0;

  return {
    services, resources: parsed.resources.length, workloads: workloads.length, parseMs,
    snapshotColdMs, snapshotWarmMs: median(snapshotWarm), warmRuns,
    firstProxyColdMs: first.ms.reduce((a, b) => a + b, 0), sharedFirstMs, sharedSecondMs,
    types, distinctProxies, perProxyMs, heldPerProxyBytes,
  };
}
