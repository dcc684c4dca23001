import type { Diagnostic } from '../../diagnostic.ts';
import { Messages } from '../../messages.ts';
import type { Resource } from '../../resource.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import { finding, type Analyzer } from '../analyzer.ts';
import { formatGatewayName, MESH_GATEWAY, resolveGatewayReference } from '../gateway-reference.ts';
import { resolveHost } from '../host-name.ts';

interface HostClaim {
  readonly vs: Resource<'VirtualService'>;
  /** Index in spec.hosts. */
  readonly index: number;
  /** Namespaces that see the VirtualService; '*' for all. */
  readonly visibility: ReadonlySet<string> | '*';
}

/**
 * Two VirtualServices for the same host on the mesh gateway are not merged: which one a sidecar
 * uses is undefined, so this is an Error (Istio's IST0109). On a Gateway, Istio merges them, but in
 * the order the VirtualServices were created, which files do not fix, so the first matching rule
 * may differ from one cluster to the next: a Warning (WFT0200).
 */
export const conflictingVirtualServiceHosts: Analyzer = {
  name: 'ConflictingVirtualServiceHosts',
  messages: [Messages.ConflictingMeshGatewayVirtualServiceHosts, Messages.ConflictingGatewayVirtualServiceHosts],
  analyze(context: AnalysisContext): Diagnostic[] {
    const mesh = new Map<string, HostClaim[]>();
    const gateways = new Map<string, { gateway: string; host: string; claims: HostClaim[] }>();
    for (const vs of context.ofKind('VirtualService')) {
      const spec = vs.object.spec;
      const visibility = exportVisibility(spec.exportTo, vs.namespace);
      if (visibility !== '*' && visibility.size === 0) continue;
      const boundGateways = new Set<string>();
      let boundToMesh = spec.gateways === undefined || spec.gateways.length === 0;
      for (const reference of spec.gateways ?? []) {
        const gateway = resolveGatewayReference(reference, vs.namespace);
        if (gateway === MESH_GATEWAY) boundToMesh = true;
        else boundGateways.add(formatGatewayName(gateway));
      }
      const seen = new Set<string>();
      (spec.hosts ?? []).forEach((written, index) => {
        const host = resolveHost(written, vs.namespace);
        if (seen.has(host)) return;
        seen.add(host);
        const claim = { vs, index, visibility };
        if (boundToMesh) push(mesh, host, claim);
        for (const gateway of boundGateways) {
          const key = `${gateway} ${host}`;
          const entry = gateways.get(key);
          if (entry === undefined) gateways.set(key, { gateway, host, claims: [claim] });
          else entry.claims.push(claim);
        }
      });
    }

    const out: Diagnostic[] = [];
    for (const [host, claims] of mesh) {
      if (claims.length < 2) continue;
      for (const claim of claims) {
        const rivals = claims.filter((other) => other !== claim && overlaps(other.visibility, claim.visibility));
        if (rivals.length === 0) continue;
        out.push(finding(
          Messages.ConflictingMeshGatewayVirtualServiceHosts,
          claim.vs,
          `The VirtualServices ${names([claim, ...rivals])} associated with mesh gateway define the same host ${host} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`,
          ['spec', 'hosts', claim.index],
        ));
      }
    }
    for (const { gateway, host, claims } of gateways.values()) {
      if (claims.length < 2) continue;
      for (const claim of claims) {
        out.push(finding(
          Messages.ConflictingGatewayVirtualServiceHosts,
          claim.vs,
          `The VirtualServices ${names(claims)} bound to gateway ${gateway} define the same host ${host}; their rules are merged in the order the VirtualServices were created, which the files do not fix. Merge them into a single VirtualService to make the order of the rules explicit.`,
          ['spec', 'hosts', claim.index],
        ));
      }
    }
    return out;
  },
};

function push(map: Map<string, HostClaim[]>, key: string, claim: HostClaim): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [claim]);
  else list.push(claim);
}

/** Which namespaces see a resource with this `exportTo`: all by default, '.' being its own. */
function exportVisibility(exportTo: readonly string[] | undefined, namespace: string): ReadonlySet<string> | '*' {
  if (exportTo === undefined || exportTo.length === 0 || exportTo.includes('*')) return '*';
  return new Set(exportTo.filter((e) => e !== '~').map((e) => (e === '.' ? namespace : e)));
}

function overlaps(a: ReadonlySet<string> | '*', b: ReadonlySet<string> | '*'): boolean {
  if (a === '*' || b === '*') return true;
  return [...a].some((ns) => b.has(ns));
}

function names(claims: readonly HostClaim[]): string {
  return [...new Set(claims.map((c) => `${c.vs.namespace}/${c.vs.name}`))].sort().join(',');
}
