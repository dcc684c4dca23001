import { hostCoveredBy, isWildcardHost } from '../../config/analysis/index.ts';

/**
 * Values keyed by (resolved) host, looked up as Istio's `MostSpecificHostMatch` does: the exact
 * host first, else the longest wildcard that covers it. A lookup probes the wildcards a host could
 * fall under (`*.b.c`, `*b.c`, `*.c`, ... `*`) one map access each, longest first.
 */
export class HostIndex<T> {
  readonly #exact = new Map<string, T>();
  readonly #wildcard = new Map<string, T>();

  get(host: string): T | undefined {
    return (isWildcardHost(host) ? this.#wildcard : this.#exact).get(host);
  }

  set(host: string, value: T): void {
    (isWildcardHost(host) ? this.#wildcard : this.#exact).set(host, value);
  }

  /** The value of the most specific host that covers `hostname`, with that host. */
  mostSpecific(hostname: string): { host: string; value: T } | undefined {
    const host = hostname.toLowerCase();
    if (!isWildcardHost(host)) {
      const exact = this.#exact.get(host);
      if (exact !== undefined) return { host, value: exact };
    }
    if (this.#wildcard.size === 0) return undefined;
    const base = isWildcardHost(host) ? host.slice(1) : host;
    for (let i = 0; i <= base.length; i++) {
      const pattern = `*${base.slice(i)}`;
      const value = this.#wildcard.get(pattern);
      if (value !== undefined && hostCoveredBy(host, pattern)) return { host: pattern, value };
    }
    return undefined;
  }
}
