import type { MeshService } from '../snapshot/index.ts';

/**
 * The Host header values a sidecar accepts for a service port, as Istio lists them: the FQDN, the
 * shorter names Kubernetes DNS resolves from the proxy's namespace (`reviews`, `reviews.default`,
 * `reviews.default.svc` in the same namespace; only the namespace-qualified ones from another),
 * and the virtual IP; each with and without `:port`. Pods of a headless Service are reached by
 * `<pod>.<service>` names, so those get a `*.` form too.
 */
export function serviceDomains(service: MeshService, port: number, proxyNamespace: string, clusterDomain: string): string[] {
  const names = [service.hostname, ...kubernetesAltNames(service.hostname, proxyNamespace, clusterDomain)];
  if (service.resolution === 'Passthrough' && service.origin.kind === 'Service') names.push(...names.map((n) => `*.${n}`));
  if (service.address !== undefined && !service.address.includes('/')) names.push(bracketIPv6(service.address));
  return names.flatMap((name) => [name, `${name}:${port}`]);
}

function kubernetesAltNames(hostname: string, proxyNamespace: string, clusterDomain: string): string[] {
  const suffix = `.svc.${clusterDomain}`;
  if (!hostname.endsWith(suffix)) return [];
  const labels = hostname.slice(0, -suffix.length).split('.');
  if (labels.length !== 2) return [];
  const [name, namespace] = labels as [string, string];
  const qualified = `${name}.${namespace}`;
  return namespace === proxyNamespace ? [name, `${qualified}.svc`, qualified] : [qualified, `${qualified}.svc`];
}

function bracketIPv6(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/**
 * Keeps the domains not yet claimed by an earlier virtual host (Envoy refuses a route
 * configuration that lists one domain twice), and records them as claimed.
 */
export function claimDomains(domains: readonly string[], claimed: Set<string>): string[] {
  const out: string[] = [];
  for (const domain of domains) {
    const key = domain.toLowerCase();
    if (claimed.has(key)) continue;
    claimed.add(key);
    out.push(domain);
  }
  return out;
}
