import type { RouteEntry, RouteRequest, RouteTable } from './route-entry.ts';
import { RequestView } from './route-match.ts';

export interface CompiledRoute {
  readonly matches: (view: RequestView, random: number) => boolean;
  readonly entry: RouteEntry;
}

export interface CompiledVirtualHost {
  readonly name: string;
  readonly requireTls: 'NONE' | 'EXTERNAL_ONLY' | 'ALL';
  readonly routes: readonly CompiledRoute[];
  /** What a plain-text request gets when TLS is required: a 301 to the same URL over https. */
  readonly tlsRedirect: RouteEntry;
}

/** Virtual hosts by domain, in Envoy's lookup order; wildcards grouped by length, longest first. */
export interface DomainIndex {
  readonly exact: ReadonlyMap<string, CompiledVirtualHost>;
  /** `*.foo.com` kept as `.foo.com`. */
  readonly suffixes: readonly (readonly [length: number, bySuffix: ReadonlyMap<string, CompiledVirtualHost>])[];
  /** `foo.*` kept as `foo.`. */
  readonly prefixes: readonly (readonly [length: number, byPrefix: ReadonlyMap<string, CompiledVirtualHost>])[];
  readonly any: CompiledVirtualHost | undefined;
}

/**
 * Builds the index, refusing what Envoy refuses: a domain (compared in lower case) in two
 * virtual hosts, or `*` in more than one. `add` answers the problem, if any.
 */
export class DomainIndexBuilder {
  readonly #exact = new Map<string, CompiledVirtualHost>();
  readonly #suffixes = new Map<number, Map<string, CompiledVirtualHost>>();
  readonly #prefixes = new Map<number, Map<string, CompiledVirtualHost>>();
  #any: CompiledVirtualHost | undefined;

  add(raw: string, host: CompiledVirtualHost): string | undefined {
    const domain = raw.toLowerCase();
    if (domain === '*') {
      if (this.#any !== undefined) return `"*" is already the domain of virtual host "${this.#any.name}"; only one virtual host may take every domain`;
      this.#any = host;
      return undefined;
    }
    let map: Map<string, CompiledVirtualHost>;
    let key: string;
    if (domain.startsWith('*')) {
      key = domain.slice(1);
      map = groupOf(this.#suffixes, key.length);
    } else if (domain.endsWith('*')) {
      key = domain.slice(0, -1);
      map = groupOf(this.#prefixes, key.length);
    } else {
      key = domain;
      map = this.#exact;
    }
    const other = map.get(key);
    if (other !== undefined) return `"${raw}" is already a domain of virtual host "${other.name}"; a domain may belong to one virtual host only`;
    map.set(key, host);
    return undefined;
  }

  build(): DomainIndex {
    const longestFirst = (groups: Map<number, Map<string, CompiledVirtualHost>>): [number, Map<string, CompiledVirtualHost>][] => [...groups].sort(([a], [b]) => b - a);
    return { exact: this.#exact, suffixes: longestFirst(this.#suffixes), prefixes: longestFirst(this.#prefixes), any: this.#any };
  }
}

function groupOf(groups: Map<number, Map<string, CompiledVirtualHost>>, length: number): Map<string, CompiledVirtualHost> {
  let group = groups.get(length);
  if (group === undefined) groups.set(length, (group = new Map()));
  return group;
}

/**
 * A compiled RouteConfiguration. The virtual host is chosen by the Host (lower-cased, and without
 * its port when `ignorePortInHostMatching`): an exact domain, then the longest suffix wildcard
 * (`*.foo.com`, `*-bar.foo.com`), then the longest prefix wildcard (`foo.*`), then `*`; a wildcard
 * never matches an empty part. Then the first route that matches wins.
 */
export class CompiledRouteTable implements RouteTable {
  readonly name: string;
  readonly #index: DomainIndex;
  readonly #ignorePort: boolean;
  readonly #onlyAny: boolean;

  constructor(name: string, index: DomainIndex, ignorePortInHostMatching: boolean) {
    this.name = name;
    this.#index = index;
    this.#ignorePort = ignorePortInHostMatching;
    this.#onlyAny = index.exact.size === 0 && index.suffixes.length === 0 && index.prefixes.length === 0;
  }

  match(request: RouteRequest, random: number): RouteEntry | undefined {
    const host = this.virtualHost(request.authority);
    if (host === undefined) return undefined;
    if (host.requireTls !== 'NONE' && request.scheme !== 'https' && (host.requireTls === 'ALL' || !isInternal(request))) return host.tlsRedirect;
    const view = new RequestView(request);
    for (const route of host.routes) if (route.matches(view, random)) return route.entry;
    return undefined;
  }

  /** The virtual host that takes a Host value. */
  virtualHost(authority: string): CompiledVirtualHost | undefined {
    const index = this.#index;
    if (this.#onlyAny) return index.any;
    const host = (this.#ignorePort ? withoutPort(authority) : authority).toLowerCase();
    const exact = index.exact.get(host);
    if (exact !== undefined) return exact;
    for (const [length, bySuffix] of index.suffixes) {
      if (length >= host.length) continue;
      const found = bySuffix.get(host.slice(host.length - length));
      if (found !== undefined) return found;
    }
    for (const [length, byPrefix] of index.prefixes) {
      if (length >= host.length) continue;
      const found = byPrefix.get(host.slice(0, length));
      if (found !== undefined) return found;
    }
    return index.any;
  }
}

/** Envoy counts a request as internal when it carries `x-envoy-internal: true`. */
function isInternal(request: RouteRequest): boolean {
  return request.headers['x-envoy-internal'] === 'true';
}

/** The Host without `:port` (an IPv6 literal keeps its brackets). */
function withoutPort(authority: string): string {
  const colon = authority.lastIndexOf(':');
  if (colon < 0) return authority;
  const bracket = authority.lastIndexOf(']');
  return bracket < 0 || bracket < colon ? authority.slice(0, colon) : authority;
}
