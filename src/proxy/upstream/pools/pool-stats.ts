import type { Counter, Gauge, StatsScope } from '../../telemetry/stats.ts';

/** Envoy's connection-pool stats of one cluster (`cluster.<name>.upstream_cx_total`, ...), looked up once. */
export interface PoolStats {
  readonly cxTotal: Counter;
  readonly cxActive: Gauge;
  readonly cxConnectFail: Counter;
  readonly cxConnectTimeout: Counter;
  /** A connection was wanted but the `connections` circuit breaker was full. */
  readonly cxOverflow: Counter;
  readonly rqTotal: Counter;
  readonly rqActive: Gauge;
  readonly rqPendingTotal: Counter;
  readonly rqPendingActive: Gauge;
  /** The `requests` or `pendingRequests` circuit breaker refused a request (503 UO). */
  readonly rqPendingOverflow: Counter;
}

/** `scope` is the cluster's scope (`cluster.<name>`). */
export function poolStats(scope: StatsScope): PoolStats {
  return {
    cxTotal: scope.counter('upstream_cx_total'),
    cxActive: scope.gauge('upstream_cx_active'),
    cxConnectFail: scope.counter('upstream_cx_connect_fail'),
    cxConnectTimeout: scope.counter('upstream_cx_connect_timeout'),
    cxOverflow: scope.counter('upstream_cx_overflow'),
    rqTotal: scope.counter('upstream_rq_total'),
    rqActive: scope.gauge('upstream_rq_active'),
    rqPendingTotal: scope.counter('upstream_rq_pending_total'),
    rqPendingActive: scope.gauge('upstream_rq_pending_active'),
    rqPendingOverflow: scope.counter('upstream_rq_pending_overflow'),
  };
}
