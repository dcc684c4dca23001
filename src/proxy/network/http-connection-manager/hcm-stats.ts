import type { Counter, Gauge, Histogram, StatsScope } from '../../telemetry/stats.ts';

/** Envoy's `http.<stat_prefix>.*` stats, looked up once per connection manager, not per request. */
export class HcmStats {
  readonly cxTotal: Counter;
  readonly cxActive: Gauge;
  readonly cxHttp1Total: Counter;
  readonly cxHttp2Total: Counter;
  readonly cxIdleTimeout: Counter;
  readonly cxProtocolError: Counter;
  readonly rqTotal: Counter;
  readonly rqActive: Gauge;
  readonly rqHttp1Total: Counter;
  readonly rqHttp2Total: Counter;
  readonly rqCompleted: Counter;
  /** downstream_rq_1xx .. downstream_rq_5xx, by the status's first digit. */
  readonly rqByClass: readonly Counter[];
  readonly rqTime: Histogram;
  readonly rqRxReset: Counter;
  readonly rqTxReset: Counter;
  readonly rqIdleTimeout: Counter;
  readonly rqTimeout: Counter;
  readonly rqTooLarge: Counter;
  readonly rqFailedPathNormalization: Counter;
  readonly rqRedirectedWithNormalizedPath: Counter;
  readonly rqWsOnNonWsRoute: Counter;
  readonly noRoute: Counter;
  readonly directResponse: Counter;
  readonly redirect: Counter;

  constructor(root: StatsScope, statPrefix: string) {
    const scope = root.scope(`http.${statPrefix}`);
    this.cxTotal = scope.counter('downstream_cx_total');
    this.cxActive = scope.gauge('downstream_cx_active');
    this.cxHttp1Total = scope.counter('downstream_cx_http1_total');
    this.cxHttp2Total = scope.counter('downstream_cx_http2_total');
    this.cxIdleTimeout = scope.counter('downstream_cx_idle_timeout');
    this.cxProtocolError = scope.counter('downstream_cx_protocol_error');
    this.rqTotal = scope.counter('downstream_rq_total');
    this.rqActive = scope.gauge('downstream_rq_active');
    this.rqHttp1Total = scope.counter('downstream_rq_http1_total');
    this.rqHttp2Total = scope.counter('downstream_rq_http2_total');
    this.rqCompleted = scope.counter('downstream_rq_completed');
    this.rqByClass = ['1xx', '2xx', '3xx', '4xx', '5xx'].map((c) => scope.counter(`downstream_rq_${c}`));
    this.rqTime = scope.histogram('downstream_rq_time');
    this.rqRxReset = scope.counter('downstream_rq_rx_reset');
    this.rqTxReset = scope.counter('downstream_rq_tx_reset');
    this.rqIdleTimeout = scope.counter('downstream_rq_idle_timeout');
    this.rqTimeout = scope.counter('downstream_rq_timeout');
    this.rqTooLarge = scope.counter('downstream_rq_too_large');
    this.rqFailedPathNormalization = scope.counter('downstream_rq_failed_path_normalization');
    this.rqRedirectedWithNormalizedPath = scope.counter('downstream_rq_redirected_with_normalized_path');
    this.rqWsOnNonWsRoute = scope.counter('downstream_rq_ws_on_non_ws_route');
    this.noRoute = scope.counter('no_route');
    this.directResponse = scope.counter('rq_direct_response');
    this.redirect = scope.counter('rq_redirect');
  }

  statusClass(status: number): Counter | undefined {
    return this.rqByClass[Math.floor(status / 100) - 1];
  }
}
