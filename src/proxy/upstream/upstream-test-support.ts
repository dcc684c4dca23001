/** Helpers for the upstream tests; only tests import this module. */
import type { Clock, Timers, TimerHandle } from '../../core/index.ts';
import type { HealthStatus } from '../../xds/envoy/index.ts';
import type { Counter, Gauge, Histogram, StatsScope } from '../telemetry/stats.ts';
import { EndpointHost } from './endpoint-host.ts';
import { localityKey, type HostSet } from './load-balancers/load-balancer.ts';

export interface TestHostInit {
  readonly weight?: number;
  readonly healthy?: boolean;
  readonly healthStatus?: HealthStatus;
  readonly priority?: number;
  readonly locality?: string;
  readonly port?: number;
}

/** A host at 10.0.0.<n>:80, healthy, weight 1, priority 0, no locality, unless `init` says otherwise. */
export function testHost(n: number, init: TestHostInit = {}): EndpointHost {
  return new EndpointHost({
    address: `10.0.0.${n}`,
    port: init.port ?? 80,
    weight: init.weight ?? 1,
    locality: init.locality ?? '',
    priority: init.priority ?? 0,
    healthStatus: init.healthStatus ?? (init.healthy === false ? 'UNHEALTHY' : 'HEALTHY'),
    metadata: {},
  });
}

/** A host set; locality weights as `[priority, locality, weight]`. */
export function hostSet(hosts: readonly EndpointHost[], localityWeights: readonly (readonly [number, string, number])[] = []): HostSet {
  return { hosts, localityWeights: new Map(localityWeights.map(([p, l, w]) => [localityKey(p, l), w])) };
}

/** A deterministic uniform source in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random source that returns the given values in turn, forever. */
export function cycle(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

/** Timers the test moves by hand, and the clock they keep. */
export class FakeTimers implements Timers, Clock {
  #now = 0;
  #nextId = 1;
  readonly #pending = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    this.#pending.set(id, { at: this.#now + ms, callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#pending.delete(handle as number);
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Moves time on, firing due timers in order (including those they set that fall due). */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      const due = [...this.#pending].filter(([, t]) => t.at <= until).sort(([, a], [, b]) => a.at - b.at)[0];
      if (due === undefined) break;
      this.#pending.delete(due[0]);
      this.#now = due[1].at;
      due[1].callback();
    }
    this.#now = until;
  }
}

/** A stats scope that remembers every value by full name. */
export class RecordingStats implements StatsScope {
  readonly values: Map<string, number>;
  readonly #prefix: string;

  constructor(prefix = '', values = new Map<string, number>()) {
    this.#prefix = prefix;
    this.values = values;
  }

  counter(name: string): Counter {
    const key = this.#prefix + name;
    return { inc: (by = 1) => this.values.set(key, (this.values.get(key) ?? 0) + by) };
  }

  gauge(name: string): Gauge {
    const key = this.#prefix + name;
    return {
      set: (value) => this.values.set(key, value),
      inc: (by = 1) => this.values.set(key, (this.values.get(key) ?? 0) + by),
      dec: (by = 1) => this.values.set(key, (this.values.get(key) ?? 0) - by),
    };
  }

  histogram(name: string): Histogram {
    const key = this.#prefix + name;
    return { record: (value) => this.values.set(key, value) };
  }

  scope(prefix: string): StatsScope {
    return new RecordingStats(`${this.#prefix}${prefix}.`, this.values);
  }

  get(name: string): number | undefined {
    return this.values.get(name);
  }
}
