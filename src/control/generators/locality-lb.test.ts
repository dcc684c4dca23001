import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { localityLbEndpoints, localityMatches, localityPolicy, parseLocality, weighsLocalities, type PlacedEndpoint } from './locality-lb.ts';

function at(locality: string, address: string, weight = 1): PlacedEndpoint {
  return { lbEndpoint: { endpoint: { address: { socketAddress: { address, portValue: 80 } } }, loadBalancingWeight: weight }, locality, labels: {} };
}

const ENDPOINTS = [at('us-west/zone1', '10.0.0.1'), at('us-central/zone1', '10.0.0.2'), at('eu-west/zone1', '10.0.0.3'), at('us-west/zone1/rack2', '10.0.0.4')];

function priorities(policy: Parameters<typeof localityPolicy>[0]): Record<string, number> {
  const groups = localityLbEndpoints(ENDPOINTS, localityPolicy(policy, 'us-west/zone1', {}));
  return Object.fromEntries(groups.map((g) => [[g.locality?.region, g.locality?.zone, g.locality?.subZone].filter((p) => p !== undefined).join('/'), g.priority ?? 0]));
}

describe('locality balancing', () => {
  it('parses region/zone/subzone, leaving out empty parts', () => {
    assert.deepEqual(parseLocality('us-west/zone1/rack2'), { region: 'us-west', zone: 'zone1', subZone: 'rack2' });
    assert.deepEqual(parseLocality('us-west'), { region: 'us-west' });
    assert.deepEqual(parseLocality(''), {});
  });

  it('matches localities as Istio does: a missing or * part matches anything', () => {
    assert.ok(localityMatches('us-west/zone1/rack2', 'us-west'));
    assert.ok(localityMatches('us-west/zone1/rack2', 'us-west/*'));
    assert.ok(localityMatches('us-west/zone1', '*'));
    assert.ok(!localityMatches('us-west/zone1', 'us-west/zone2'));
    assert.ok(!localityMatches('us-east/zone1', 'us-west/*'));
  });

  it('numbers failover priorities without gaps: own zone, own sub-zone differing, other regions', () => {
    assert.deepEqual(priorities({ outlierDetection: {} }), { 'eu-west/zone1': 2, 'us-central/zone1': 2, 'us-west/zone1': 0, 'us-west/zone1/rack2': 1 });
  });

  it('puts the failover target region before the other regions', () => {
    const policy = { outlierDetection: {}, loadBalancer: { localityLbSetting: { failover: [{ from: 'us-west', to: 'eu-west' }] } } };
    assert.deepEqual(priorities(policy), { 'eu-west/zone1': 2, 'us-central/zone1': 3, 'us-west/zone1': 0, 'us-west/zone1/rack2': 1 });
    assert.ok(weighsLocalities(localityPolicy(policy, 'us-west/zone1', {})));
  });

  it('needs outlier detection to fail over, and is off when disabled', () => {
    assert.deepEqual(Object.values(priorities({})), [0, 0, 0, 0]);
    assert.equal(localityPolicy({ loadBalancer: { localityLbSetting: { enabled: false } } }, 'us-west/zone1', {}), undefined);
    assert.ok(!weighsLocalities(localityPolicy({ loadBalancer: { localityLbSetting: { failover: [{ from: 'us-west', to: 'eu-west' }] } } }, 'us-west/zone1', {})));
  });

  it('shares a wildcard destination\'s weight among the localities it names, by their own weights', () => {
    const endpoints = [at('us-west/zone1', '10.0.0.1', 3), at('us-west/zone2', '10.0.0.2'), at('eu-west/zone1', '10.0.0.3')];
    const policy = { loadBalancer: { localityLbSetting: { distribute: [{ from: 'us-west/*', to: { 'us-west/*': 100 } }] } } };
    const groups = localityLbEndpoints(endpoints, localityPolicy(policy, 'us-west/zone1', {}));
    assert.deepEqual(groups.map((g) => [g.locality?.zone, g.loadBalancingWeight]), [['zone1', 75], ['zone2', 25]]);
  });
});
