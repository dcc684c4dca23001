import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TCP_PROXY_TYPE } from '../../../xds/envoy/index.ts';
import { DEFAULT_IDLE_TIMEOUT_MS, parseTcpProxy } from './tcp-proxy-config.ts';

function problems(config: Record<string, unknown>): string {
  const result = parseTcpProxy({ '@type': TCP_PROXY_TYPE, ...config });
  assert.equal(result.ok, false, 'expected a rejection');
  return result.ok ? '' : result.error;
}

describe('parseTcpProxy', () => {
  it('accepts one cluster with Envoy\'s defaults: idle timeout 1 h, one connect attempt, no duration limit', () => {
    const result = parseTcpProxy({ '@type': TCP_PROXY_TYPE, statPrefix: 'outbound|3306||db', cluster: 'outbound|3306||db' });
    assert.deepEqual(result, {
      ok: true,
      value: {
        statPrefix: 'outbound|3306||db',
        target: { kind: 'cluster', cluster: 'outbound|3306||db' },
        idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
        maxConnectAttempts: 1,
        maxDownstreamConnectionDurationMs: 0,
      },
    });
  });

  it('accepts weighted clusters, an idle timeout of 0 (none), connect attempts and a duration limit', () => {
    const result = parseTcpProxy({
      statPrefix: 's',
      weightedClusters: { clusters: [{ name: 'a', weight: 80 }, { name: 'b', weight: 20 }] },
      idleTimeout: '0s',
      maxConnectAttempts: 3,
      maxDownstreamConnectionDuration: '30s',
      accessLog: [],
    });
    assert.ok(result.ok);
    assert.deepEqual(result.value.target, { kind: 'weighted', clusters: [{ name: 'a', weight: 80 }, { name: 'b', weight: 20 }], totalWeight: 100 });
    assert.equal(result.value.idleTimeoutMs, 0);
    assert.equal(result.value.maxConnectAttempts, 3);
    assert.equal(result.value.maxDownstreamConnectionDurationMs, 30_000);
  });

  it('needs a stat prefix and exactly one of cluster and weightedClusters', () => {
    assert.equal(problems({ cluster: 'a' }), 'statPrefix: required (a non-empty string)');
    assert.equal(problems({ statPrefix: 's' }), 'cluster: required (or weightedClusters)');
    assert.equal(problems({ statPrefix: 's', cluster: 'a', weightedClusters: { clusters: [{ name: 'b', weight: 1 }] } }), 'cluster, weightedClusters: give one of them, not both');
  });

  it('rejects empty weighted clusters and weights below 1', () => {
    assert.equal(problems({ statPrefix: 's', weightedClusters: { clusters: [] } }), 'weightedClusters.clusters: expected at least one cluster');
    assert.equal(
      problems({ statPrefix: 's', weightedClusters: { clusters: [{ name: 'a', weight: 0 }, { weight: 1 }] } }),
      'weightedClusters.clusters[0].weight: 0 is not a whole number of at least 1; weightedClusters.clusters[1].name: expected a cluster name',
    );
  });

  it('rejects bad durations and connect attempts', () => {
    assert.match(problems({ statPrefix: 's', cluster: 'a', idleTimeout: 'soon' }), /^idleTimeout: "soon" is not a duration/);
    assert.equal(problems({ statPrefix: 's', cluster: 'a', maxConnectAttempts: 0 }), 'maxConnectAttempts: 0 is not a whole number of at least 1');
  });

  it('refuses fields it would otherwise ignore while they change where bytes go', () => {
    assert.equal(
      problems({ statPrefix: 's', cluster: 'a', tunnelingConfig: { hostname: 'x' }, metadataMatch: {} }),
      'tunnelingConfig: not supported by Weft\'s tcp_proxy; metadataMatch: not supported by Weft\'s tcp_proxy',
    );
  });
});
