import { err, ok, parseDuration, type Clock, type Result, type TimerHandle, type Timers } from '../../core/index.ts';
import type { OutlierDetection } from '../../xds/envoy/index.ts';
import type { Counter, Gauge, StatsScope } from '../telemetry/stats.ts';
import type { HostOutlierRecord, UpstreamHost, UpstreamOutcome } from './cluster.ts';

/** Envoy's outlier detection settings, defaults applied; only consecutive-error ejection runs. */
export interface OutlierDetectionSettings {
  readonly consecutive5xx: number;
  readonly enforcingConsecutive5xx: number;
  readonly consecutiveGatewayFailure: number;
  readonly enforcingConsecutiveGatewayFailure: number;
  readonly splitExternalLocalOriginErrors: boolean;
  readonly consecutiveLocalOriginFailure: number;
  readonly enforcingConsecutiveLocalOriginFailure: number;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionTimeMs: number;
  readonly maxEjectionTimeJitterMs: number;
  readonly maxEjectionPercent: number;
}

type Problem = (field: string, message: string) => void;

/**
 * Checks `outlierDetection`, with Envoy's defaults (5 consecutive 5xx enforced, gateway failures
 * counted but not enforced, a 10 s sweep, 30 s base ejection, at most 300 s, 10% of the hosts).
 * Success-rate and failure-percentage ejection are not run: a config that enforces them is
 * refused rather than silently weakened; left unset, they count as off.
 */
export function parseOutlierDetection(config: OutlierDetection, problem: Problem): OutlierDetectionSettings {
  const at = (field: string): string => `outlierDetection.${field}`;
  const count = (field: keyof OutlierDetection, fallback: number): number => {
    const value = config[field];
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) problem(at(field), `must be a whole number of at least 0 (got ${String(value)})`);
    return typeof value === 'number' ? value : fallback;
  };
  const percent = (field: keyof OutlierDetection, fallback: number): number => {
    const value = count(field, fallback);
    if (value > 100) problem(at(field), `must be a percentage from 0 to 100 (got ${value})`);
    return value;
  };
  const duration = (field: keyof OutlierDetection, fallback: number, positive: boolean): number => {
    const text = config[field];
    if (text === undefined) return fallback;
    const parsed = parseDuration(String(text));
    if (!parsed.ok) {
      problem(at(field), parsed.error);
      return fallback;
    }
    if (positive && parsed.value <= 0) problem(at(field), `must be longer than 0 (got "${String(text)}")`);
    return parsed.value;
  };
  for (const field of ['enforcingSuccessRate', 'enforcingLocalOriginSuccessRate', 'enforcingFailurePercentage', 'enforcingFailurePercentageLocalOrigin'] as const) {
    const value = config[field];
    if (value !== undefined && value !== 0) problem(at(field), `success-rate and failure-percentage ejection are not supported; set it to 0 (got ${value})`);
  }
  return {
    consecutive5xx: count('consecutive5xx', 5),
    enforcingConsecutive5xx: percent('enforcingConsecutive5xx', 100),
    consecutiveGatewayFailure: count('consecutiveGatewayFailure', 5),
    enforcingConsecutiveGatewayFailure: percent('enforcingConsecutiveGatewayFailure', 0),
    splitExternalLocalOriginErrors: config.splitExternalLocalOriginErrors === true,
    consecutiveLocalOriginFailure: count('consecutiveLocalOriginFailure', 5),
    enforcingConsecutiveLocalOriginFailure: percent('enforcingConsecutiveLocalOriginFailure', 100),
    intervalMs: duration('interval', 10_000, true),
    baseEjectionTimeMs: duration('baseEjectionTime', 30_000, true),
    maxEjectionTimeMs: duration('maxEjectionTime', 300_000, true),
    maxEjectionTimeJitterMs: duration('maxEjectionTimeJitter', 0, false),
    maxEjectionPercent: percent('maxEjectionPercent', 10),
  };
}

/** Parses a cluster's outlier detection on its own (for tests and tools). */
export function outlierDetectionSettings(config: OutlierDetection): Result<OutlierDetectionSettings, string[]> {
  const problems: string[] = [];
  const settings = parseOutlierDetection(config, (field, message) => problems.push(`${field}: ${message}`));
  return problems.length > 0 ? err(problems) : ok(settings);
}

/** A fresh record: no errors counted, never ejected. */
export function newOutlierRecord(): HostOutlierRecord {
  return { ejected: false, consecutive5xx: 0, consecutiveGatewayFailure: 0, consecutiveLocalOriginFailure: 0, ejectedAt: 0, unejectedAt: undefined, ejectionBackoff: 0, jitterMs: 0 };
}

type EjectionType = 'consecutive_5xx' | 'consecutive_gateway_failure' | 'consecutive_local_origin_failure';

export interface OutlierDetectorDeps {
  /** The cluster's scope; the detector writes under `outlier_detection.`. */
  readonly stats: StatsScope;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: () => number;
  /** Every host of the cluster now (the denominator of maxEjectionPercent, the hosts a sweep looks at). */
  readonly hosts: () => readonly UpstreamHost[];
  /** A host was ejected or returned: the cluster publishes a new picker. */
  readonly onHealthChange: () => void;
}

/**
 * Envoy's passive health checking by consecutive errors. Each outcome a router or TCP proxy
 * reports moves the host's counters; reaching a threshold ejects the host at once (if the
 * enforcement percentage says so and ejecting keeps within maxEjectionPercent; the first ejection
 * is always allowed). An ejected host is unhealthy to the balancers, so the cluster's panic
 * threshold (Istio's minHealthPercent) still applies. Every interval a sweep returns hosts whose
 * time is up: baseEjectionTime times the number of ejections in a row, at most
 * max(maxEjectionTime, baseEjectionTime); a host that stays healthy a base ejection time after
 * its return has that multiplier lowered by one per sweep.
 *
 * Without `splitExternalLocalOriginErrors`, connect failures and resets count as 503 and timeouts
 * as 504 (so toward 5xx and gateway failures); with it they count only toward
 * consecutiveLocalOriginFailure, which a successful connection resets.
 */
export class OutlierDetector {
  readonly settings: OutlierDetectionSettings;
  readonly #deps: OutlierDetectorDeps;
  readonly #stats: {
    readonly active: Gauge;
    readonly overflow: Counter;
    readonly enforcedTotal: Counter;
    readonly enforced: Readonly<Record<EjectionType, Counter>>;
    readonly detected: Readonly<Record<EjectionType, Counter>>;
  };
  #timer: TimerHandle | undefined;

  constructor(settings: OutlierDetectionSettings, deps: OutlierDetectorDeps) {
    this.settings = settings;
    this.#deps = deps;
    const scope = deps.stats.scope('outlier_detection');
    const types: readonly EjectionType[] = ['consecutive_5xx', 'consecutive_gateway_failure', 'consecutive_local_origin_failure'];
    const byType = (prefix: string): Record<EjectionType, Counter> =>
      Object.fromEntries(types.map((t) => [t, scope.counter(`${prefix}_${t}`)])) as Record<EjectionType, Counter>;
    this.#stats = {
      active: scope.gauge('ejections_active'),
      overflow: scope.counter('ejections_overflow'),
      enforcedTotal: scope.counter('ejections_enforced_total'),
      enforced: byType('ejections_enforced'),
      detected: byType('ejections_detected'),
    };
    this.#stats.active.set(this.#ejectedCount());
    this.#schedule();
  }

  /** Takes one outcome of a request or connection to `host`. */
  report(host: UpstreamHost, outcome: UpstreamOutcome): void {
    const record = host.outlier;
    if (record === undefined) return;
    if (outcome.kind === 'response') {
      if (this.settings.splitExternalLocalOriginErrors) record.consecutiveLocalOriginFailure = 0;
      this.#responseCode(record, outcome.status);
      return;
    }
    if (this.settings.splitExternalLocalOriginErrors) {
      if (outcome.kind === 'connected') record.consecutiveLocalOriginFailure = 0;
      else if (++record.consecutiveLocalOriginFailure === this.settings.consecutiveLocalOriginFailure) this.#detected(record, 'consecutive_local_origin_failure');
      return;
    }
    if (outcome.kind === 'connect-failed') this.#responseCode(record, 503);
    else if (outcome.kind === 'timeout') this.#responseCode(record, 504);
    else if (outcome.final) this.#responseCode(record, 200);
  }

  close(): void {
    if (this.#timer !== undefined) this.#deps.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #responseCode(record: HostOutlierRecord, status: number): void {
    if (status === 502 || status === 503 || status === 504) {
      if (++record.consecutiveGatewayFailure === this.settings.consecutiveGatewayFailure) this.#detected(record, 'consecutive_gateway_failure');
    } else {
      record.consecutiveGatewayFailure = 0;
    }
    if (status >= 500) {
      if (++record.consecutive5xx === this.settings.consecutive5xx) this.#detected(record, 'consecutive_5xx');
    } else {
      record.consecutive5xx = 0;
    }
  }

  #detected(record: HostOutlierRecord, type: EjectionType): void {
    if (record.ejected) return;
    this.#stats.detected[type].inc();
    this.#eject(record, type);
    // The counter starts again, so that a host that is not ejected needs a full run to be tried again.
    if (type === 'consecutive_5xx') record.consecutive5xx = 0;
    else if (type === 'consecutive_gateway_failure') record.consecutiveGatewayFailure = 0;
    else record.consecutiveLocalOriginFailure = 0;
  }

  #eject(record: HostOutlierRecord, type: EjectionType): void {
    const total = this.#deps.hosts().length;
    const active = this.#ejectedCount();
    if (active > 0 && (100 * (active + 1)) / total > this.settings.maxEjectionPercent) {
      this.#stats.overflow.inc();
      return;
    }
    if (this.#deps.random() * 100 >= this.#enforcing(type)) return;
    const { baseEjectionTimeMs, maxEjectionTimeMs, maxEjectionTimeJitterMs } = this.settings;
    record.ejected = true;
    record.ejectedAt = this.#deps.clock.now();
    record.jitterMs = Math.floor(this.#deps.random() * maxEjectionTimeJitterMs);
    if (record.ejectionBackoff * baseEjectionTimeMs < maxEjectionTimeMs + baseEjectionTimeMs) record.ejectionBackoff++;
    this.#stats.enforced[type].inc();
    this.#stats.enforcedTotal.inc();
    this.#stats.active.set(active + 1);
    this.#deps.onHealthChange();
  }

  #enforcing(type: EjectionType): number {
    if (type === 'consecutive_5xx') return this.settings.enforcingConsecutive5xx;
    if (type === 'consecutive_gateway_failure') return this.settings.enforcingConsecutiveGatewayFailure;
    return this.settings.enforcingConsecutiveLocalOriginFailure;
  }

  #schedule(): void {
    this.#timer = this.#deps.timers.setTimeout(() => {
      this.#sweep();
      this.#schedule();
    }, this.settings.intervalMs);
  }

  /** Returns the hosts whose ejection is over and lowers the multiplier of those that stayed healthy. */
  #sweep(): void {
    const now = this.#deps.clock.now();
    const { baseEjectionTimeMs, maxEjectionTimeMs } = this.settings;
    let changed = false;
    for (const host of this.#deps.hosts()) {
      const record = host.outlier;
      if (record === undefined) continue;
      if (!record.ejected) {
        if (record.unejectedAt !== undefined && record.ejectionBackoff > 0 && now - record.unejectedAt >= baseEjectionTimeMs) record.ejectionBackoff--;
        continue;
      }
      const ejectionMs = Math.min(baseEjectionTimeMs * record.ejectionBackoff, Math.max(maxEjectionTimeMs, baseEjectionTimeMs));
      if (now - record.ejectedAt < ejectionMs + record.jitterMs) continue;
      record.ejected = false;
      record.unejectedAt = now;
      record.consecutive5xx = 0;
      record.consecutiveGatewayFailure = 0;
      record.consecutiveLocalOriginFailure = 0;
      changed = true;
    }
    if (!changed) return;
    this.#stats.active.set(this.#ejectedCount());
    this.#deps.onHealthChange();
  }

  #ejectedCount(): number {
    let count = 0;
    for (const host of this.#deps.hosts()) if (host.outlier?.ejected === true) count++;
    return count;
  }
}
