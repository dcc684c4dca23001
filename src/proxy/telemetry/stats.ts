/**
 * Envoy-style stats, written by every part of the proxy and read by the admin port
 * (`/stats`, `/stats/prometheus`). Names are Envoy's: `cluster.<name>.upstream_rq_total`,
 * `http.<stat_prefix>.downstream_rq_total`, `listener.<address>.downstream_cx_total`.
 */
export interface Counter {
  inc(by?: number): void;
}

export interface Gauge {
  set(value: number): void;
  inc(by?: number): void;
  dec(by?: number): void;
}

export interface Histogram {
  record(value: number): void;
}

export interface StatsScope {
  counter(name: string): Counter;
  gauge(name: string): Gauge;
  histogram(name: string): Histogram;
  /** A scope whose stat names start with `prefix.`. */
  scope(prefix: string): StatsScope;
}
