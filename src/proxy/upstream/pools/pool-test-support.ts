import type { TimerHandle, Timers } from '../../../core/index.ts';
import type { StatsScope } from '../../telemetry/stats.ts';
import type { CircuitBreakers, UpstreamCluster, UpstreamHost } from '../cluster.ts';

/** Fakes for the tests of pools and of what uses them (the router); only tests import this module. */

export const nullStats: StatsScope = {
  counter: () => ({ inc() {} }),
  gauge: () => ({ set() {}, inc() {}, dec() {} }),
  histogram: () => ({ record() {} }),
  scope: () => nullStats,
};

export const realTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Timers a test fires by hand, by their delay. */
export class ManualTimers implements Timers {
  readonly pending = new Map<number, { callback: () => void; ms: number }>();
  #next = 0;
  setTimeout(callback: () => void, ms: number): TimerHandle {
    this.#next++;
    this.pending.set(this.#next, { callback, ms });
    return this.#next;
  }
  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle as number);
  }
  fire(ms: number): void {
    for (const [id, timer] of [...this.pending]) {
      if (timer.ms !== ms) continue;
      this.pending.delete(id);
      timer.callback();
    }
  }
}

export type Resource = 'connections' | 'pendingRequests' | 'requests' | 'retries';

/** Circuit breakers with limits per resource (unlimited unless given), counting slots in use. */
export class Limits implements CircuitBreakers {
  readonly used: Record<Resource, number> = { connections: 0, pendingRequests: 0, requests: 0, retries: 0 };
  readonly #max: Record<Resource, number>;
  constructor(max: Partial<Record<Resource, number>> = {}) {
    this.#max = { connections: Infinity, pendingRequests: Infinity, requests: Infinity, retries: Infinity, ...max };
  }
  tryAcquire(resource: Resource): (() => void) | undefined {
    if (this.used[resource] >= this.#max[resource]) return undefined;
    this.used[resource]++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used[resource]--;
    };
  }
}

export function hostAt(port: number, address = '127.0.0.1'): UpstreamHost {
  return { address, port, id: `${address}:${port}`, weight: 1, locality: '', priority: 0, healthy: true, metadata: {}, activeRequests: 0 };
}

export function clusterWith(limits: Limits, overrides: Partial<UpstreamCluster> = {}): UpstreamCluster {
  return { name: 'c', config: { name: 'c' }, picker: () => ({ pick: () => undefined }), circuitBreakers: limits, connectTimeoutMs: 1000, upstreamProtocol: 'http1', ...overrides };
}

/** Polls a condition every 5 ms, failing after about two seconds. */
export async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; !condition(); i++) {
    if (i > 400) throw new Error('condition not met within 2 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
