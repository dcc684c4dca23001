import { lookup } from 'node:dns/promises';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import type { Timers, TimerHandle } from '../../core/index.ts';
import type { DnsLookupFamily } from '../../xds/envoy/index.ts';
import type { EndpointSpec } from './load-assignment.ts';

/** Resolves a name to its addresses. */
export type Resolve = (hostname: string) => Promise<string[]>;

/** The system resolver (getaddrinfo), every address. */
export const systemResolve: Resolve = async (hostname) => (await lookup(hostname, { all: true })).map((a) => a.address);

export interface DnsDiscoveryOptions {
  /** The endpoints of the cluster, whose addresses are names (or IPs, used as they are). */
  readonly endpoints: readonly EndpointSpec[];
  /** LOGICAL_DNS: each name stands for one host, its first address. STRICT_DNS: one host per address. */
  readonly logical: boolean;
  readonly family: DnsLookupFamily;
  readonly refreshMs: number;
  readonly resolve: Resolve;
  readonly timers: Timers;
  /** Receives the resolved endpoints after each round (addresses in place of names, the name as `hostname`). */
  readonly onResolved: (endpoints: readonly EndpointSpec[]) => void;
  readonly onError?: (hostname: string, error: unknown) => void;
}

/**
 * Resolves the names of a STRICT_DNS or LOGICAL_DNS cluster now and every refresh interval. A name
 * that fails to resolve keeps the addresses it last had (none before its first success), as Envoy
 * keeps serving the last good hosts.
 */
export class DnsDiscovery {
  readonly #options: DnsDiscoveryOptions;
  /** The last good addresses of each endpoint, by index. */
  readonly #addresses: (readonly string[])[];
  #timer: TimerHandle | undefined;
  #closed = false;

  constructor(options: DnsDiscoveryOptions) {
    this.#options = options;
    this.#addresses = options.endpoints.map((e) => (isIP(e.address) !== 0 ? [e.address] : []));
  }

  start(): void {
    void this.#round();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#options.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #round(): Promise<void> {
    const { endpoints, resolve, family, logical } = this.#options;
    await Promise.all(endpoints.map(async (endpoint, i) => {
      if (isIP(endpoint.address) !== 0) return;
      try {
        const found = byFamily(await resolve(endpoint.address), family);
        if (found.length > 0) this.#addresses[i] = logical ? found.slice(0, 1) : found;
      } catch (error) {
        this.#options.onError?.(endpoint.address, error);
      }
    }));
    if (this.#closed) return;
    this.#options.onResolved(endpoints.flatMap((endpoint, i) => this.#addresses[i]!.map((address): EndpointSpec => (
      address === endpoint.address ? endpoint : { ...endpoint, address, hostname: endpoint.address }
    ))));
    this.#timer = this.#options.timers.setTimeout(() => {
      this.#timer = undefined;
      void this.#round();
    }, this.#options.refreshMs);
  }
}

/** Envoy's lookup families: AUTO prefers IPv6 and falls back to IPv4, V4_PREFERRED the reverse, ALL keeps both. */
function byFamily(addresses: readonly string[], family: DnsLookupFamily): string[] {
  const v4 = addresses.filter((a) => isIPv4(a));
  const v6 = addresses.filter((a) => isIPv6(a));
  switch (family) {
    case 'V4_ONLY':
      return v4;
    case 'V6_ONLY':
      return v6;
    case 'AUTO':
      return v6.length > 0 ? v6 : v4;
    case 'V4_PREFERRED':
      return v4.length > 0 ? v4 : v6;
    case 'ALL':
      return [...v4, ...v6];
  }
}
