/**
 * Host names as Istio resolves and compares them. Pure functions: the analyzers and their tests
 * rely on these exact rules.
 */

export const CLUSTER_DOMAIN = 'cluster.local';

/** The root namespace, where mesh-wide policy lives (Istio's meshConfig.rootNamespace default). */
export const ROOT_NAMESPACE = 'istio-system';

const SERVICE_SUFFIX = `.svc.${CLUSTER_DOMAIN}`;

/** The FQDN of a Kubernetes Service: `reviews.default.svc.cluster.local`. */
export function serviceHost(name: string, namespace: string): string {
  return `${name}.${namespace}${SERVICE_SUFFIX}`.toLowerCase();
}

/**
 * The host a resource of `namespace` means by `host`: a short name (no dot) is the Service of that
 * name in the resource's namespace; a name with a dot, or `*`, is taken as written (so
 * `reviews.default` is not expanded, as in Istio). Host names compare case-insensitively.
 */
export function resolveHost(host: string, namespace: string): string {
  const lower = host.toLowerCase();
  if (lower === '*' || lower.includes('.')) return lower;
  return serviceHost(lower, namespace);
}

export function isWildcardHost(host: string): boolean {
  return host.startsWith('*');
}

/**
 * The namespace of a cluster-local Service host (`reviews.default.svc.cluster.local` is in
 * `default`), or undefined for any other host, wildcards included.
 */
export function serviceHostNamespace(host: string): string | undefined {
  const lower = host.toLowerCase();
  if (isWildcardHost(lower) || !lower.endsWith(SERVICE_SUFFIX)) return undefined;
  const labels = lower.slice(0, -SERVICE_SUFFIX.length).split('.');
  return labels.length === 2 && labels[0] !== '' && labels[1] !== '' ? labels[1] : undefined;
}

/**
 * Whether two hosts can name the same destination (Istio's `host.Name.Matches`): equal names, or a
 * wildcard whose suffix the other ends with (`*.example.com` and `api.example.com`), or two
 * wildcards one of which is more specific. `*` matches everything. Both must already be resolved.
 */
export function hostsOverlap(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const xWild = isWildcardHost(x);
  const yWild = isWildcardHost(y);
  if (xWild && yWild) return x.length < y.length ? y.slice(1).endsWith(x.slice(1)) : x.slice(1).endsWith(y.slice(1));
  if (xWild) return y.endsWith(x.slice(1));
  if (yWild) return x.endsWith(y.slice(1));
  return x === y;
}

/**
 * Whether every name `host` stands for is also named by `pattern` (Istio's `SubsetOf`):
 * `api.example.com` is covered by `*.example.com` and by itself; `*.example.com` is covered by `*`
 * and `*.com` but not by `api.example.com`.
 */
export function hostCoveredBy(host: string, pattern: string): boolean {
  const h = host.toLowerCase();
  const p = pattern.toLowerCase();
  if (isWildcardHost(h)) return isWildcardHost(p) && h.slice(1).endsWith(p.slice(1));
  if (isWildcardHost(p)) return h.endsWith(p.slice(1));
  return h === p;
}
