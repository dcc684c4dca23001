import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatsStore } from './stats-store.ts';
import { formatPrometheus, formatStatsJson, formatStatsText } from './stats-format.ts';

const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';

describe('StatsStore', () => {
  it('hands out one stat object per name, so the hot path only adds to a field', () => {
    const store = new StatsStore();
    const counter = store.scope(`cluster.${REVIEWS}`).counter('upstream_rq_total');
    assert.equal(store.counter(`cluster.${REVIEWS}.upstream_rq_total`), counter);
    counter.inc();
    counter.inc(2);
    assert.equal(store.counter(`cluster.${REVIEWS}.upstream_rq_total`).value, 3);
  });

  it('refuses a name used for another kind of stat', () => {
    const store = new StatsStore();
    store.counter('server.live');
    assert.throws(() => store.gauge('server.live'), /stat server\.live is a CounterStat, not a GaugeStat/);
  });

  it('extracts Envoy\'s tags: the cluster name (dots and all), the stat prefix, the listener address, response codes', () => {
    const store = new StatsStore();
    const cluster = store.scope(`cluster.${REVIEWS}`);
    const identity = (s: { name: string; tagExtractedName: string; tags: readonly { name: string; value: string }[] }) => ({ name: s.name, extracted: s.tagExtractedName, tags: s.tags.map((t) => `${t.name}=${t.value}`) });
    assert.deepEqual(identity(cluster.counter('upstream_rq_200') as never), { name: `cluster.${REVIEWS}.upstream_rq_200`, extracted: 'cluster.upstream_rq', tags: [`envoy.cluster_name=${REVIEWS}`, 'envoy.response_code=200'] });
    assert.deepEqual(identity(cluster.counter('upstream_rq_5xx') as never), { name: `cluster.${REVIEWS}.upstream_rq_5xx`, extracted: 'cluster.upstream_rq_xx', tags: [`envoy.cluster_name=${REVIEWS}`, 'envoy.response_code_class=5'] });
    assert.deepEqual(identity(cluster.scope('outlier_detection').gauge('ejections_active') as never), { name: `cluster.${REVIEWS}.outlier_detection.ejections_active`, extracted: 'cluster.outlier_detection.ejections_active', tags: [`envoy.cluster_name=${REVIEWS}`] });
    assert.deepEqual(identity(store.scope('cluster').scope('xds-grpc').counter('upstream_cx_total') as never), { name: 'cluster.xds-grpc.upstream_cx_total', extracted: 'cluster.upstream_cx_total', tags: ['envoy.cluster_name=xds-grpc'] });
    assert.deepEqual(identity(store.counter('cluster.a.b.upstream_rq_total') as never), { name: 'cluster.a.b.upstream_rq_total', extracted: 'cluster.upstream_rq_total', tags: ['envoy.cluster_name=a.b'] });
    assert.deepEqual(identity(store.scope('http.outbound_0.0.0.0_9080').counter('downstream_rq_total') as never), { name: 'http.outbound_0.0.0.0_9080.downstream_rq_total', extracted: 'http.downstream_rq_total', tags: ['envoy.http_conn_manager_prefix=outbound_0.0.0.0_9080'] });
    assert.deepEqual(identity(store.scope('listener.0.0.0.0_15006').scope('http.inbound_0.0.0.0_8080').counter('downstream_rq_2xx') as never), {
      name: 'listener.0.0.0.0_15006.http.inbound_0.0.0.0_8080.downstream_rq_2xx',
      extracted: 'listener.http.downstream_rq_xx',
      tags: ['envoy.listener_address=0.0.0.0_15006', 'envoy.http_conn_manager_prefix=inbound_0.0.0.0_8080', 'envoy.response_code_class=2'],
    });
    assert.deepEqual(identity(store.counter('server.total_connections') as never), { name: 'server.total_connections', extracted: 'server.total_connections', tags: [] });
  });

  it('counts a histogram\'s values in Envoy\'s default buckets', () => {
    const histogram = new StatsStore().histogram('cluster.a.upstream_rq_time');
    for (const value of [0.2, 0.5, 3, 7000, 5_000_000]) histogram.record(value);
    assert.deepEqual([...histogram.counts], [2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
    assert.equal(histogram.count, 5);
    assert.equal(histogram.sum, 5_007_003.7);
  });
});

describe('the stats formats', () => {
  function sample(): StatsStore {
    const store = new StatsStore();
    const reviews = store.scope(`cluster.${REVIEWS}`);
    reviews.counter('upstream_rq_total').inc(3);
    reviews.counter('upstream_rq_200').inc(2);
    reviews.counter('upstream_rq_503').inc();
    reviews.gauge('upstream_cx_active').set(2);
    store.scope('cluster.xds-grpc').counter('upstream_rq_total').inc(7);
    store.scope('http.inbound_0.0.0.0_8080').counter('downstream_rq_total');
    const time = reviews.histogram('upstream_rq_time');
    for (const value of [1, 2, 4, 40]) time.record(value);
    store.histogram('listener.0.0.0.0_15006.downstream_cx_length_ms');
    return store;
  }

  it('writes /stats as sorted name: value lines, then histogram quantiles interpolated within their buckets', () => {
    // 1 in (0.5, 1], 2 and 4 in (1, 5], 40 in (25, 50]: the median is halfway through (1, 5].
    assert.equal(
      formatStatsText(sample()),
      [
        `cluster.${REVIEWS}.upstream_cx_active: 2`,
        `cluster.${REVIEWS}.upstream_rq_200: 2`,
        `cluster.${REVIEWS}.upstream_rq_503: 1`,
        `cluster.${REVIEWS}.upstream_rq_total: 3`,
        'cluster.xds-grpc.upstream_rq_total: 7',
        'http.inbound_0.0.0.0_8080.downstream_rq_total: 0',
        `cluster.${REVIEWS}.upstream_rq_time: P0(nan,1) P25(nan,1) P50(nan,3) P75(nan,5) P90(nan,34) P95(nan,37) P99(nan,39.4) P99.5(nan,39.7) P99.9(nan,39.94) P100(nan,40)`,
        'listener.0.0.0.0_15006.downstream_cx_length_ms: No recorded values',
        '',
      ].join('\n'),
    );
  });

  it('filters by a regular expression and by use', () => {
    assert.equal(formatStatsText(sample(), { filter: /xds-grpc/ }), 'cluster.xds-grpc.upstream_rq_total: 7\n');
    assert.doesNotMatch(formatStatsText(sample(), { usedOnly: true }), /downstream_rq_total|No recorded values/);
  });

  it('writes /stats/prometheus with envoy_ names, tags as labels, and histograms as buckets, sum and count', () => {
    const text = formatPrometheus(sample());
    const lines = text.split('\n');
    assert.deepEqual(lines.slice(0, 12), [
      '# TYPE envoy_cluster_upstream_rq counter',
      `envoy_cluster_upstream_rq{envoy_cluster_name="${REVIEWS}",envoy_response_code="200"} 2`,
      `envoy_cluster_upstream_rq{envoy_cluster_name="${REVIEWS}",envoy_response_code="503"} 1`,
      '# TYPE envoy_cluster_upstream_rq_total counter',
      `envoy_cluster_upstream_rq_total{envoy_cluster_name="${REVIEWS}"} 3`,
      'envoy_cluster_upstream_rq_total{envoy_cluster_name="xds-grpc"} 7',
      '# TYPE envoy_http_downstream_rq_total counter',
      'envoy_http_downstream_rq_total{envoy_http_conn_manager_prefix="inbound_0.0.0.0_8080"} 0',
      '# TYPE envoy_cluster_upstream_cx_active gauge',
      `envoy_cluster_upstream_cx_active{envoy_cluster_name="${REVIEWS}"} 2`,
      '# TYPE envoy_cluster_upstream_rq_time histogram',
      `envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="${REVIEWS}",le="0.5"} 0`,
    ]);
    assert.ok(lines.includes(`envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="${REVIEWS}",le="5"} 3`));
    assert.ok(lines.includes(`envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="${REVIEWS}",le="3600000"} 4`));
    assert.ok(lines.includes(`envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="${REVIEWS}",le="+Inf"} 4`));
    assert.ok(lines.includes(`envoy_cluster_upstream_rq_time_sum{envoy_cluster_name="${REVIEWS}"} 47`));
    assert.ok(lines.includes(`envoy_cluster_upstream_rq_time_count{envoy_cluster_name="${REVIEWS}"} 4`));
    assert.ok(lines.includes('envoy_listener_downstream_cx_length_ms_count{envoy_listener_address="0.0.0.0_15006"} 0'));
    assert.equal(lines.filter((l) => l === '# TYPE envoy_cluster_upstream_rq_time histogram').length, 1);
  });

  it('escapes label values', () => {
    const store = new StatsStore();
    store.scope('cluster.we"ird\\name').counter('upstream_rq_total').inc();
    assert.match(formatPrometheus(store), /envoy_cluster_upstream_rq_total\{envoy_cluster_name="we\\"ird\\\\name"\} 1/);
  });

  it('writes /stats?format=json as Envoy does', () => {
    const json = formatStatsJson(sample(), { filter: /xds-grpc|rq_time/ }) as { stats: unknown[] };
    assert.deepEqual(json.stats[0], { name: 'cluster.xds-grpc.upstream_rq_total', value: 7 });
    const histograms = (json.stats[1] as { histograms: { supported_quantiles: number[]; computed_quantiles: { name: string; values: { cumulative: number }[] }[] } }).histograms;
    assert.deepEqual(histograms.supported_quantiles, [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100]);
    assert.equal(histograms.computed_quantiles[0]?.name, `cluster.${REVIEWS}.upstream_rq_time`);
    assert.equal(histograms.computed_quantiles[0]?.values[9]?.cumulative, 40);
  });
});
