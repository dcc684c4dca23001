import type { Resource } from '../../config/index.ts';
import { labelsMatch, type Labels } from '../model/index.ts';
import { labelsKey } from './labels-key.ts';

/** How a sidecar accepts inbound connections: mTLS only, mTLS or plaintext, plaintext only. */
export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

/** The PeerAuthentication in force for one workload, inheritance resolved. */
export interface EffectivePeerAuthentication {
  /** For every port that `portLevel` does not name. */
  readonly mode: MtlsMode;
  /** By workload (container) port, not service port. */
  readonly portLevel: ReadonlyMap<number, MtlsMode>;
}

export interface PeerAuthenticationIndex {
  effective(namespace: string, labels: Labels): EffectivePeerAuthentication;
}

type PeerAuthentication = Resource<'PeerAuthentication'>;

/** Istio's default when no policy says anything: accept both. */
const MESH_DEFAULT: EffectivePeerAuthentication = { mode: 'PERMISSIVE', portLevel: new Map() };

/**
 * PeerAuthentications composed as Istio's ComposePeerAuthentication does. One policy is chosen per
 * level: mesh (root namespace, no selector), namespace (the workload's, no selector), workload
 * (the workload's namespace, a selector matching its labels); a selector in the root namespace
 * makes a policy apply nowhere. Between several at one level the oldest `creationTimestamp` wins
 * (none counts as oldest), then name: the chosen one shadows the others even when its mode is
 * UNSET. The mode is then resolved mesh → namespace → workload, UNSET keeping the level above's
 * (PERMISSIVE at the top). Only the workload policy sets port modes; UNSET at a port takes the
 * workload's resolved mode.
 */
export function buildPeerAuthenticationIndex(resources: readonly PeerAuthentication[], rootNamespace: string): PeerAuthenticationIndex {
  const byNamespace = new Map<string, PeerAuthentication[]>();
  for (const policy of [...resources].sort(compareAge)) {
    const list = byNamespace.get(policy.namespace);
    if (list === undefined) byNamespace.set(policy.namespace, [policy]);
    else list.push(policy);
  }
  const meshPolicy = (byNamespace.get(rootNamespace) ?? []).find((p) => !hasSelector(p));
  const cache = new Map<string, EffectivePeerAuthentication>();

  const compose = (namespace: string, labels: Labels): EffectivePeerAuthentication => {
    const local = namespace === rootNamespace ? [] : byNamespace.get(namespace) ?? [];
    const namespacePolicy = local.find((p) => !hasSelector(p));
    const workloadPolicy = local.find((p) => hasSelector(p) && labelsMatch(p.object.spec.selector?.matchLabels, labels));
    let mode: MtlsMode = MESH_DEFAULT.mode;
    for (const policy of [meshPolicy, namespacePolicy, workloadPolicy]) mode = declaredMode(policy?.object.spec.mtls?.mode) ?? mode;
    const ports = Object.entries(workloadPolicy?.object.spec.portLevelMtls ?? {});
    if (mode === MESH_DEFAULT.mode && ports.length === 0) return MESH_DEFAULT;
    return { mode, portLevel: new Map(ports.map(([port, mtls]) => [Number(port), declaredMode(mtls.mode) ?? mode])) };
  };

  return {
    effective(namespace, labels) {
      const key = `${namespace}\n${labelsKey(labels)}`;
      let found = cache.get(key);
      if (found === undefined) {
        found = compose(namespace, labels);
        cache.set(key, found);
      }
      return found;
    },
  };
}

/** undefined for UNSET (or no mode), which inherits. */
function declaredMode(mode: string | undefined): MtlsMode | undefined {
  return mode === 'STRICT' || mode === 'PERMISSIVE' || mode === 'DISABLE' ? mode : undefined;
}

/** An empty selector (or none) makes a namespace-wide policy, as in Istio. */
function hasSelector(policy: PeerAuthentication): boolean {
  return Object.keys(policy.object.spec.selector?.matchLabels ?? {}).length > 0;
}

function compareAge(a: PeerAuthentication, b: PeerAuthentication): number {
  return creationTime(a) - creationTime(b) || compareText(a.name, b.name) || compareText(a.namespace, b.namespace);
}

/** Milliseconds since the epoch; 0 (the oldest, as Kubernetes' zero time) when absent or unreadable. */
function creationTime(policy: PeerAuthentication): number {
  const stamp = policy.object.metadata.creationTimestamp;
  const time = stamp instanceof Date ? stamp.getTime() : typeof stamp === 'string' ? Date.parse(stamp) : 0;
  return Number.isNaN(time) ? 0 : time;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
