import type { Gauge, StatsScope, Counter } from '../telemetry/stats.ts';
import type { CircuitBreakers } from './cluster.ts';

export type CircuitBreakerResource = 'connections' | 'pendingRequests' | 'requests' | 'retries';

/** Envoy's defaults for a cluster's DEFAULT priority thresholds. */
export const DEFAULT_LIMITS: CircuitBreakerLimits = { connections: 1024, pendingRequests: 1024, requests: 1024, retries: 3 };

export interface CircuitBreakerLimits {
  readonly connections: number;
  readonly pendingRequests: number;
  readonly requests: number;
  readonly retries: number;
  /**
   * When set, concurrent retries are limited to budgetPercent of the active and pending requests
   * (at least minRetryConcurrency) instead of `retries`, as Envoy's retry budget does.
   */
  readonly retryBudget?: { readonly budgetPercent: number; readonly minRetryConcurrency: number };
  /** Publish `remaining_*` gauges (Envoy's trackRemaining). */
  readonly trackRemaining?: boolean;
}

/** Envoy's stat names: the overflow counter and the `circuit_breakers.default.*` gauges of each resource. */
const STAT_NAMES: Readonly<Record<CircuitBreakerResource, { overflow: string; open: string; remaining: string }>> = {
  connections: { overflow: 'upstream_cx_overflow', open: 'cx_open', remaining: 'remaining_cx' },
  pendingRequests: { overflow: 'upstream_rq_pending_overflow', open: 'rq_pending_open', remaining: 'remaining_pending' },
  // Envoy counts request overflow with pending overflow.
  requests: { overflow: 'upstream_rq_pending_overflow', open: 'rq_open', remaining: 'remaining_rq' },
  retries: { overflow: 'upstream_rq_retry_overflow', open: 'rq_retry_open', remaining: 'remaining_retries' },
};

interface Slot {
  count: number;
  readonly overflow: Counter;
  readonly open: Gauge;
  readonly remaining: Gauge | undefined;
}

/**
 * A cluster's circuit breakers: counts of connections, pending requests, requests and retries in
 * use, each refused past its limit (503 UO) with the overflow counted. Stats go to the cluster's
 * scope (`cluster.<name>.`).
 */
export class SlotCircuitBreakers implements CircuitBreakers {
  readonly limits: CircuitBreakerLimits;
  readonly #slots: Readonly<Record<CircuitBreakerResource, Slot>>;

  constructor(limits: CircuitBreakerLimits, stats: StatsScope) {
    this.limits = limits;
    const breakers = stats.scope('circuit_breakers').scope('default');
    const slot = (resource: CircuitBreakerResource): Slot => {
      const names = STAT_NAMES[resource];
      return {
        count: 0,
        overflow: stats.counter(names.overflow),
        open: breakers.gauge(names.open),
        remaining: limits.trackRemaining === true ? breakers.gauge(names.remaining) : undefined,
      };
    };
    this.#slots = { connections: slot('connections'), pendingRequests: slot('pendingRequests'), requests: slot('requests'), retries: slot('retries') };
    for (const resource of Object.keys(this.#slots) as CircuitBreakerResource[]) this.#publish(resource);
  }

  /** Slots in use, for the admin pages. */
  inUse(resource: CircuitBreakerResource): number {
    return this.#slots[resource].count;
  }

  tryAcquire(resource: CircuitBreakerResource): (() => void) | undefined {
    const slot = this.#slots[resource];
    if (slot.count >= this.#limit(resource)) {
      slot.overflow.inc();
      return undefined;
    }
    slot.count++;
    this.#publish(resource);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      slot.count--;
      this.#publish(resource);
    };
  }

  #limit(resource: CircuitBreakerResource): number {
    const budget = this.limits.retryBudget;
    if (resource !== 'retries' || budget === undefined) return this.limits[resource];
    const active = this.#slots.requests.count + this.#slots.pendingRequests.count;
    return Math.max(budget.minRetryConcurrency, Math.floor((budget.budgetPercent * active) / 100));
  }

  #publish(resource: CircuitBreakerResource): void {
    const slot = this.#slots[resource];
    const limit = this.#limit(resource);
    slot.open.set(slot.count >= limit ? 1 : 0);
    slot.remaining?.set(Math.max(0, limit - slot.count));
  }
}
