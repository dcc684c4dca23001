import type { Diagnostic } from '../../diagnostic.ts';
import type { ClientTLSSettings, TrafficPolicy } from '../../kinds/networking/traffic-policy.ts';
import { Messages } from '../../messages.ts';
import type { Resource } from '../../resource.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import { finding, type Analyzer } from '../analyzer.ts';
import { ROOT_NAMESPACE, serviceHostNamespace } from '../host-name.ts';
import { selectorMatches } from '../label-selector.ts';

/** Client TLS modes a STRICT server refuses: plaintext, and TLS without the mesh's client certificate. */
const REFUSED = new Map<string, string>([
  ['DISABLE', 'plaintext'],
  ['SIMPLE', 'TLS without an Istio client certificate'],
]);

interface TlsSetting {
  readonly mode: string;
  readonly port: number | undefined;
  readonly at: readonly PropertyKey[];
}

/**
 * A DestinationRule that sends plaintext (`DISABLE`) or plain TLS (`SIMPLE`) to a cluster Service
 * whose workloads require mutual TLS (a STRICT PeerAuthentication for the workloads, their
 * namespace, or the whole mesh in istio-system) makes every request fail: the server resets the
 * connection and the client sees 503.
 */
export const mtlsPolicyConflict: Analyzer = {
  name: 'MtlsPolicyConflict',
  messages: [Messages.MtlsPolicyConflict],
  analyze(context: AnalysisContext): Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const { resource: dr, host } of context.destinationRules) {
      const namespace = serviceHostNamespace(host);
      if (namespace === undefined) continue;
      const strict = strictPolicy(context, namespace, serviceSelector(context, host));
      if (strict === undefined) continue;
      for (const { mode, port, at } of tlsSettings(dr)) {
        const refused = REFUSED.get(mode);
        if (refused === undefined) continue;
        out.push(finding(
          Messages.MtlsPolicyConflict,
          dr,
          `A DestinationRule and PeerAuthentication are in conflict with regards to mTLS for host ${host}${port !== undefined ? ` port ${port}` : ''}. The DestinationRule "${dr.namespace}/${dr.name}" sets tls mode ${mode} (${refused}) but the PeerAuthentication "${strict.namespace}/${strict.name}" requires STRICT mTLS, so the connections are refused. Use mode ISTIO_MUTUAL, or leave tls out.`,
          at,
        ));
      }
    }
    return out;
  },
};

/** The pod selector of the Service behind `host`, when the input has that Service. */
function serviceSelector(context: AnalysisContext, host: string): Readonly<Record<string, string>> | undefined {
  for (const service of context.servicesForHost(host)) {
    if (service.resource.kind === 'Service') return service.resource.object.spec?.selector;
  }
  return undefined;
}

/**
 * The PeerAuthentication that makes the Service's workloads STRICT, if any: the narrowest policy
 * with a mode wins (a workload policy selecting the Service's pods, then the namespace's, then
 * the mesh's); UNSET inherits from the next.
 */
function strictPolicy(context: AnalysisContext, namespace: string, podSelector: Readonly<Record<string, string>> | undefined): Resource<'PeerAuthentication'> | undefined {
  const policies = context.ofKind('PeerAuthentication');
  const hasMode = (pa: Resource<'PeerAuthentication'>): boolean => pa.object.spec.mtls?.mode !== undefined && pa.object.spec.mtls.mode !== 'UNSET';
  const isWide = (pa: Resource<'PeerAuthentication'>): boolean => Object.keys(pa.object.spec.selector?.matchLabels ?? {}).length === 0;
  const workload = podSelector === undefined || Object.keys(podSelector).length === 0
    ? undefined
    : policies.find((pa) => pa.namespace === namespace && !isWide(pa) && hasMode(pa) && selectorMatches(pa.object.spec.selector?.matchLabels ?? {}, podSelector));
  const chosen = workload
    ?? policies.find((pa) => pa.namespace === namespace && isWide(pa) && hasMode(pa))
    ?? policies.find((pa) => pa.namespace === ROOT_NAMESPACE && isWide(pa) && hasMode(pa));
  return chosen?.object.spec.mtls?.mode === 'STRICT' ? chosen : undefined;
}

/** Every tls mode the rule sets: top level, per port, and per subset. */
function tlsSettings(dr: Resource<'DestinationRule'>): TlsSetting[] {
  const spec = dr.object.spec;
  const settings: TlsSetting[] = [];
  const collect = (policy: TrafficPolicy | undefined, at: readonly PropertyKey[]): void => {
    if (policy === undefined) return;
    add(policy.tls, undefined, [...at, 'tls', 'mode']);
    policy.portLevelSettings?.forEach((p, i) => add(p.tls, p.port.number, [...at, 'portLevelSettings', i, 'tls', 'mode']));
  };
  const add = (tls: ClientTLSSettings | undefined, port: number | undefined, at: readonly PropertyKey[]): void => {
    if (tls?.mode !== undefined) settings.push({ mode: tls.mode, port, at });
  };
  collect(spec.trafficPolicy, ['spec', 'trafficPolicy']);
  spec.subsets?.forEach((subset, i) => collect(subset.trafficPolicy, ['spec', 'subsets', i, 'trafficPolicy']));
  return settings;
}
