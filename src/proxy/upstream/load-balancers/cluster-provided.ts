import { isIP } from 'node:net';
import type { Timers, TimerHandle } from '../../../core/index.ts';
import type { LoadBalancerContext, Picker, UpstreamHost } from '../cluster.ts';
import { EndpointHost } from '../endpoint-host.ts';
import type { LoadBalancer } from './load-balancer.ts';

export const DEFAULT_CLEANUP_INTERVAL_MS = 5000;

export interface ClusterProvidedBalancerOptions {
  readonly timers: Timers;
  /** How often hosts unused since the previous sweep are dropped (`cleanupInterval`). */
  readonly cleanupIntervalMs?: number;
}

interface Entry {
  readonly host: EndpointHost;
  used: boolean;
}

/**
 * CLUSTER_PROVIDED for ORIGINAL_DST clusters: the host is the address the client dialled
 * (`context.originalDestination`, `address:port`), made on first use and shared by the requests to
 * it. Every cleanup interval, hosts neither used since the previous sweep nor busy are dropped.
 * Host set updates do not apply: the cluster has no endpoints of its own.
 */
export class ClusterProvidedBalancer implements LoadBalancer {
  readonly #timers: Timers;
  readonly #intervalMs: number;
  readonly #entries = new Map<string, Entry>();
  #timer: TimerHandle | undefined;
  readonly #picker: Picker = { pick: (context) => this.#pick(context) };

  constructor(options: ClusterProvidedBalancerOptions) {
    this.#timers = options.timers;
    this.#intervalMs = options.cleanupIntervalMs ?? DEFAULT_CLEANUP_INTERVAL_MS;
  }

  update(): void {}

  picker(): Picker {
    return this.#picker;
  }

  /** The hosts made so far, for the admin pages. */
  hosts(): readonly UpstreamHost[] {
    return [...this.#entries.values()].map((e) => e.host);
  }

  close(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#entries.clear();
  }

  #pick(context: LoadBalancerContext): UpstreamHost | undefined {
    const destination = context.originalDestination;
    if (destination === undefined) return undefined;
    let entry = this.#entries.get(destination);
    if (entry === undefined) {
      const parsed = parseDestination(destination);
      if (parsed === undefined) return undefined;
      entry = {
        host: new EndpointHost({ ...parsed, weight: 1, locality: '', priority: 0, healthStatus: 'HEALTHY', metadata: {} }),
        used: true,
      };
      this.#entries.set(destination, entry);
      this.#schedule();
    }
    entry.used = true;
    return entry.host;
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.#sweep();
    }, this.#intervalMs);
  }

  #sweep(): void {
    for (const [key, entry] of this.#entries) {
      if (entry.used || entry.host.activeRequests > 0) entry.used = false;
      else this.#entries.delete(key);
    }
    if (this.#entries.size > 0) this.#schedule();
  }
}

/** `10.0.0.1:8080` or `[::1]:8080`; undefined when it is not an IP address and port. */
function parseDestination(text: string): { address: string; port: number } | undefined {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const host = text.slice(0, colon);
  const address = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const port = Number(text.slice(colon + 1));
  if (isIP(address) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { address, port };
}
