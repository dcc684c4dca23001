import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Cluster, ClusterLoadAssignment, OutlierDetection } from '../../xds/envoy/index.ts';
import type { UpstreamCluster, UpstreamHost, UpstreamOutcome } from './cluster.ts';
import { XdsClusterManager } from './cluster-manager.ts';
import { outlierDetectionSettings } from './outlier-detector.ts';
import { FakeTimers, RecordingStats } from './upstream-test-support.ts';

const ADDRESSES = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];

function cluster(outlierDetection: OutlierDetection | undefined, extra: Partial<Cluster> = {}, addresses = ADDRESSES): Cluster {
  return {
    name: 'reviews',
    type: 'STATIC',
    lbPolicy: 'ROUND_ROBIN',
    loadAssignment: {
      clusterName: 'reviews',
      endpoints: [{ lbEndpoints: addresses.map((address) => ({ endpoint: { address: { socketAddress: { address, portValue: 9080 } } } })) }],
    } satisfies ClusterLoadAssignment,
    ...(outlierDetection !== undefined && { outlierDetection }),
    ...extra,
  };
}

interface Setup {
  readonly manager: XdsClusterManager;
  readonly timers: FakeTimers;
  readonly stats: RecordingStats;
  apply(config: Cluster): void;
  cluster(): UpstreamCluster;
  host(address: string): UpstreamHost;
  report(address: string, outcome: UpstreamOutcome, times?: number): void;
  /** The hosts chosen by `n` picks, as addresses (undefined: none). */
  picked(n?: number): Set<string | undefined>;
  stat(name: string): number | undefined;
}

/** A cluster manager on fake time; `random` decides enforcement (below the percentage: enforced). */
function setup(config: Cluster, random = (): number => 0): Setup {
  const timers = new FakeTimers();
  const stats = new RecordingStats();
  const manager = new XdsClusterManager({ stats, timers, clock: timers, random });
  const s: Setup = {
    manager, timers, stats,
    apply(next) {
      const result = manager.cds.apply({ resources: new Map([[next.name, next]]), removed: [], version: '1' });
      assert.ok(!(result instanceof Promise) && result.ok, JSON.stringify(result));
    },
    cluster: () => manager.get('reviews')!,
    host(address) {
      // The picker hands out the cluster's own host objects (an ejected one too, in panic or not at all).
      for (let i = 0; i < 100; i++) {
        const host = s.cluster().picker().pick({});
        if (host?.address === address) return host;
      }
      assert.fail(`${address} is never picked`);
    },
    report(address, outcome, times = 1) {
      const host = s.host(address);
      for (let i = 0; i < times; i++) s.cluster().outlierDetector!.report(host, outcome);
    },
    picked(n = 30) {
      return new Set(Array.from({ length: n }, () => s.cluster().picker().pick({})?.address));
    },
    stat: (name) => stats.values.get(`cluster.reviews.${name}`),
  };
  s.apply(config);
  return s;
}

const FIVE_XX: UpstreamOutcome = { kind: 'response', status: 500 };
const OK: UpstreamOutcome = { kind: 'response', status: 200 };
const flags = (s: Setup, address: string): string => s.manager.dump().statuses[0]!.hosts.find((h) => h.id.startsWith(`${address}:`))!.healthFlags;

describe('OutlierDetector: consecutive 5xx', () => {
  it('ejects a host after 5 consecutive 5xx (the default) and balances over the others', () => {
    const s = setup(cluster({ interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: 100 }));
    s.report('10.0.0.1', FIVE_XX, 4);
    assert.ok(s.picked().has('10.0.0.1'), 'four are not enough');
    s.report('10.0.0.1', FIVE_XX);
    assert.deepEqual(s.picked(), new Set(['10.0.0.2', '10.0.0.3']));
    assert.equal(flags(s, '10.0.0.1'), '/failed_outlier_check');
    assert.equal(s.stat('outlier_detection.ejections_active'), 1);
    assert.equal(s.stat('outlier_detection.ejections_enforced_consecutive_5xx'), 1);
    assert.equal(s.stat('outlier_detection.ejections_detected_consecutive_5xx'), 1);
    assert.equal(s.stat('membership_healthy'), 2);
  });

  it('starts the count again after a response that is not a 5xx', () => {
    const s = setup(cluster({ consecutive5xx: 3 }));
    s.report('10.0.0.1', FIVE_XX, 2);
    s.report('10.0.0.1', OK);
    s.report('10.0.0.1', FIVE_XX, 2);
    assert.ok(s.picked().has('10.0.0.1'));
    s.report('10.0.0.1', FIVE_XX);
    assert.ok(!s.picked().has('10.0.0.1'));
  });

  it('returns the host at the first sweep after the base ejection time, then doubles the time on a second ejection', () => {
    const s = setup(cluster({ consecutive5xx: 1, interval: '1s', baseEjectionTime: '3s' }));
    s.report('10.0.0.1', FIVE_XX);
    s.timers.advance(2_999);
    assert.ok(!s.picked().has('10.0.0.1'));
    s.timers.advance(1);
    assert.ok(s.picked().has('10.0.0.1'), 'back after 3 s');
    assert.equal(s.stat('outlier_detection.ejections_active'), 0);
    assert.equal(flags(s, '10.0.0.1'), 'healthy');
    s.report('10.0.0.1', FIVE_XX);
    s.timers.advance(5_000);
    assert.ok(!s.picked().has('10.0.0.1'), 'the second ejection lasts 2 x 3 s');
    s.timers.advance(1_000);
    assert.ok(s.picked().has('10.0.0.1'));
  });

  it('lowers the multiplier while the host stays healthy, and never ejects for longer than maxEjectionTime', () => {
    const s = setup(cluster({ consecutive5xx: 1, interval: '1s', baseEjectionTime: '2s', maxEjectionTime: '4s' }));
    for (let i = 0; i < 4; i++) {
      s.report('10.0.0.1', FIVE_XX);
      s.timers.advance(4_000);
      assert.ok(s.picked().has('10.0.0.1'), `ejection ${i + 1} ends within 4 s`);
    }
    // Healthy for long enough: back to one base ejection time.
    s.timers.advance(10_000);
    s.report('10.0.0.1', FIVE_XX);
    s.timers.advance(2_000);
    assert.ok(s.picked().has('10.0.0.1'));
  });

  it('counts connect failures and timeouts as 5xx when local-origin errors are not split', () => {
    const s = setup(cluster({ consecutive5xx: 3 }));
    s.report('10.0.0.1', { kind: 'connect-failed' }, 2);
    s.report('10.0.0.1', { kind: 'timeout' });
    assert.ok(!s.picked().has('10.0.0.1'));
  });

  it('counts nothing for a connection made when a response is still to come', () => {
    const s = setup(cluster({ consecutive5xx: 2 }));
    s.report('10.0.0.1', FIVE_XX);
    s.report('10.0.0.1', { kind: 'connected', final: false });
    s.report('10.0.0.1', FIVE_XX);
    assert.ok(!s.picked().has('10.0.0.1'));
  });

  it('detects without ejecting when enforcement is 0%', () => {
    const s = setup(cluster({ consecutive5xx: 2, enforcingConsecutive5xx: 0 }));
    s.report('10.0.0.1', FIVE_XX, 2);
    assert.ok(s.picked().has('10.0.0.1'));
    assert.equal(s.stat('outlier_detection.ejections_detected_consecutive_5xx'), 1);
    assert.equal(s.stat('outlier_detection.ejections_enforced_total') ?? 0, 0);
  });
});

describe('OutlierDetector: gateway failures and local-origin errors', () => {
  it('ejects on consecutive 502/503/504 when enforced; a 500 breaks the run', () => {
    const s = setup(cluster({ consecutive5xx: 0, consecutiveGatewayFailure: 3, enforcingConsecutiveGatewayFailure: 100 }));
    s.report('10.0.0.1', { kind: 'response', status: 502 }, 2);
    s.report('10.0.0.1', FIVE_XX);
    s.report('10.0.0.1', { kind: 'response', status: 503 }, 2);
    assert.ok(s.picked().has('10.0.0.1'));
    s.report('10.0.0.1', { kind: 'response', status: 504 });
    assert.ok(!s.picked().has('10.0.0.1'));
    assert.equal(s.stat('outlier_detection.ejections_enforced_consecutive_gateway_failure'), 1);
  });

  it('leaves gateway failures unenforced by default (Envoy)', () => {
    const s = setup(cluster({ consecutive5xx: 0 }));
    s.report('10.0.0.1', { kind: 'response', status: 503 }, 10);
    assert.ok(s.picked().has('10.0.0.1'));
  });

  it('with split errors, counts connect failures apart from 5xx, and a connection made or a response resets them', () => {
    const s = setup(cluster({ consecutive5xx: 3, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailure: 2, enforcingConsecutiveLocalOriginFailure: 100 }));
    s.report('10.0.0.1', { kind: 'connect-failed' });
    s.report('10.0.0.1', { kind: 'connected', final: false });
    s.report('10.0.0.1', { kind: 'connect-failed' });
    s.report('10.0.0.1', FIVE_XX, 2);
    assert.ok(s.picked().has('10.0.0.1'), 'neither run reached its threshold');
    s.report('10.0.0.1', { kind: 'timeout' }, 2);
    assert.ok(!s.picked().has('10.0.0.1'));
    assert.equal(s.stat('outlier_detection.ejections_enforced_consecutive_local_origin_failure'), 1);
  });
});

describe('OutlierDetector: how much may be ejected', () => {
  it('ejects at least one host, then no more than maxEjectionPercent', () => {
    const s = setup(cluster({ consecutive5xx: 1, maxEjectionPercent: 10 }));
    s.report('10.0.0.1', FIVE_XX);
    s.report('10.0.0.2', FIVE_XX);
    assert.deepEqual(s.picked(), new Set(['10.0.0.2', '10.0.0.3']));
    assert.equal(s.stat('outlier_detection.ejections_overflow'), 1);
  });

  it('with every host ejected and no panic threshold, there is no host to pick (503)', () => {
    const s = setup(cluster({ consecutive5xx: 1, maxEjectionPercent: 100 }, { commonLbConfig: { healthyPanicThreshold: { value: 0 } } }));
    for (const address of ADDRESSES) s.report(address, FIVE_XX);
    assert.deepEqual(s.picked(), new Set([undefined]));
  });

  it('below the panic threshold (Istio minHealthPercent), balances over every host, ejected or not', () => {
    const s = setup(cluster({ consecutive5xx: 1, maxEjectionPercent: 100 }, { commonLbConfig: { healthyPanicThreshold: { value: 50 } } }));
    s.report('10.0.0.1', FIVE_XX);
    assert.deepEqual(s.picked(), new Set(['10.0.0.2', '10.0.0.3']), '2 of 3 healthy is above 50%');
    s.report('10.0.0.2', FIVE_XX);
    assert.deepEqual(s.picked(), new Set(ADDRESSES), '1 of 3 is below 50%: panic');
    assert.ok((s.stat('lb_healthy_panic') ?? 0) > 0);
  });
});

describe('OutlierDetector: cluster updates', () => {
  it('keeps an ejection when the cluster is replaced with outlier detection, and ends it when replaced without', () => {
    const s = setup(cluster({ consecutive5xx: 1, interval: '1s', baseEjectionTime: '30s' }));
    s.report('10.0.0.1', FIVE_XX);
    s.apply(cluster({ consecutive5xx: 1, interval: '1s', baseEjectionTime: '30s' }, { connectTimeout: '2s' }));
    assert.ok(!s.picked().has('10.0.0.1'));
    s.apply(cluster(undefined, { connectTimeout: '3s' }));
    assert.ok(s.picked().has('10.0.0.1'));
    assert.equal(s.cluster().outlierDetector, undefined);
    assert.equal(s.timers.pending, 0, 'the old detector stopped its sweep');
  });
});

describe('outlierDetectionSettings', () => {
  it("applies Envoy's defaults", () => {
    const parsed = outlierDetectionSettings({});
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, {
      consecutive5xx: 5, enforcingConsecutive5xx: 100, consecutiveGatewayFailure: 5, enforcingConsecutiveGatewayFailure: 0,
      splitExternalLocalOriginErrors: false, consecutiveLocalOriginFailure: 5, enforcingConsecutiveLocalOriginFailure: 100,
      intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionTimeMs: 300_000, maxEjectionTimeJitterMs: 0, maxEjectionPercent: 10,
    });
  });

  it('refuses what it cannot do or cannot mean, naming the field', () => {
    const parsed = outlierDetectionSettings({ interval: '0s', maxEjectionPercent: 120, enforcingSuccessRate: 100, consecutive5xx: -1 });
    assert.ok(!parsed.ok);
    assert.deepEqual([...parsed.error].sort(), [
      'outlierDetection.consecutive5xx: must be a whole number of at least 0 (got -1)',
      'outlierDetection.enforcingSuccessRate: success-rate and failure-percentage ejection are not supported; set it to 0 (got 100)',
      'outlierDetection.interval: must be longer than 0 (got "0s")',
      'outlierDetection.maxEjectionPercent: must be a percentage from 0 to 100 (got 120)',
    ].sort());
  });
});
