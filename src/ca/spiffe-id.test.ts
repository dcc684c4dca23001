import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpiffeId, spiffeId } from './spiffe-id.ts';

describe('SPIFFE ids', () => {
  it('round-trips an Istio workload id', () => {
    const id = spiffeId('cluster.local', 'shop', 'checkout-v2');
    assert.equal(id, 'spiffe://cluster.local/ns/shop/sa/checkout-v2');
    assert.deepEqual(parseSpiffeId(id), { ok: true, value: { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'checkout-v2' } });
  });

  it('refuses ids that are not spiffe://<td>/ns/<ns>/sa/<sa>', () => {
    for (const bad of [
      'https://cluster.local/ns/a/sa/b',
      'spiffe://cluster.local',
      'spiffe://cluster.local/ns/a',
      'spiffe://cluster.local/ns/a/sa/b/extra',
      'spiffe://cluster.local/sa/b/ns/a',
      'spiffe://Cluster.Local/ns/a/sa/b',
      'spiffe://cluster.local:8080/ns/a/sa/b',
      'spiffe://user@cluster.local/ns/a/sa/b',
      'spiffe:///ns/a/sa/b',
      'spiffe://cluster.local/ns//sa/b',
      'spiffe://cluster.local/ns/../sa/b',
      'spiffe://cluster.local/ns/a/sa/b?x=1',
      'spiffe://cluster.local/ns/a/sa/b#frag',
      `spiffe://cluster.local/ns/${'a'.repeat(2100)}/sa/b`,
    ]) {
      const parsed = parseSpiffeId(bad);
      assert.equal(parsed.ok, false, bad);
    }
  });
});
