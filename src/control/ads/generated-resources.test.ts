import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, ProtoJsonError, TypeUrl } from '../../xds/index.ts';
import type { ProxyView } from '../model/index.ts';
import { GenerationCache, generateResources, subscriptionKey } from './generated-resources.ts';
import { cluster, fakeSnapshot, FakeGenerator, loadAssignment, parseTestNode, testNode } from './test-support.ts';

function proxyNamed(name: string, namespace = 'default'): ProxyView {
  const parsed = parseTestNode(testNode(name, namespace));
  assert.ok(parsed.ok);
  return parsed.value;
}

const proxy = proxyNamed('reviews-v1');

const generator = new FakeGenerator(TypeUrl.Cluster, ['DestinationRule']);

describe('generateResources', () => {
  it('encodes each resource, with a hash of its bytes as version', () => {
    const generated = generateResources(generator, proxy, fakeSnapshot(1, { [TypeUrl.Cluster]: [cluster('a'), cluster('b', '2s')] }), 'all');
    assert.deepEqual(generated.resources.map((r) => r.name), ['a', 'b']);
    assert.deepEqual(decodeMessage('envoy.config.cluster.v3.Cluster', generated.resources[1]!.bytes), cluster('b', '2s').resource);
    const again = generateResources(generator, proxy, fakeSnapshot(2, { [TypeUrl.Cluster]: [cluster('a'), cluster('b', '3s')] }), 'all');
    assert.equal(again.resources[0]?.version, generated.resources[0]?.version);
    assert.notEqual(again.resources[1]?.version, generated.resources[1]?.version);
    assert.notEqual(again.hash, generated.hash);
  });

  it('keeps only the names asked for, and lists those it did not find', () => {
    const generated = generateResources(generator, proxy, fakeSnapshot(1, { [TypeUrl.Cluster]: [cluster('a'), cluster('b')] }), new Set(['b', 'z']));
    assert.deepEqual(generated.resources.map((r) => r.name), ['b']);
    assert.deepEqual(generated.notFound, ['z']);
  });

  it('throws on two resources with one name, and on a resource Envoy would not accept', () => {
    assert.throws(() => generateResources(generator, proxy, fakeSnapshot(1, { [TypeUrl.Cluster]: [cluster('a'), cluster('a')] }), 'all'), /two resources named "a"/);
    assert.throws(() => generateResources(generator, proxy, fakeSnapshot(1, { [TypeUrl.Cluster]: [{ name: 'a', resource: { name: 'a', connectTimeot: '1s' } }] }), 'all'), ProtoJsonError);
  });
});

/** A generator whose output depends on the proxy's namespace only. */
class SharingGenerator extends FakeGenerator {
  sharingKey(p: ProxyView): string {
    return p.namespace;
  }
}

describe('GenerationCache', () => {
  const content = { [TypeUrl.Cluster]: [cluster('a')], [TypeUrl.ClusterLoadAssignment]: [loadAssignment('a', ['10.0.0.2'])] };

  it('generates once for proxies with the same sharing key and subscription, and hands each the same resources', () => {
    const cache = new GenerationCache();
    const cds = new SharingGenerator(TypeUrl.Cluster, ['DestinationRule']);
    const snapshot = fakeSnapshot(1, content);
    const first = cache.generate(cds, proxyNamed('a'), snapshot, 'all', subscriptionKey('all'));
    const second = cache.generate(cds, proxyNamed('b'), snapshot, 'all', subscriptionKey('all'));
    assert.equal(second, first);
    assert.equal(cds.calls, 1);
    cache.generate(cds, proxyNamed('c', 'other'), snapshot, 'all', subscriptionKey('all'));
    cache.generate(cds, proxyNamed('a'), snapshot, new Set(['a']), subscriptionKey(new Set(['a'])));
    assert.equal(cds.calls, 3);
  });

  it('runs a generator without a sharing key for every proxy', () => {
    const cache = new GenerationCache();
    const cds = new FakeGenerator(TypeUrl.Cluster, ['DestinationRule']);
    const snapshot = fakeSnapshot(1, content);
    cache.generate(cds, proxyNamed('a'), snapshot, 'all', '*');
    cache.generate(cds, proxyNamed('a'), snapshot, 'all', '*');
    assert.equal(cds.calls, 2);
  });

  it('keeps the output of generators a new snapshot does not affect, and drops the others', () => {
    const cache = new GenerationCache();
    const cds = new SharingGenerator(TypeUrl.Cluster, ['DestinationRule']);
    const eds = new SharingGenerator(TypeUrl.ClusterLoadAssignment, ['Workload']);
    const names = new Set(['a']);
    const run = (snapshot: ReturnType<typeof fakeSnapshot>): void => {
      cache.generate(cds, proxy, snapshot, 'all', '*');
      cache.generate(eds, proxy, snapshot, names, subscriptionKey(names));
    };
    run(fakeSnapshot(1, content));
    const next = fakeSnapshot(2, content);
    cache.advance(next, new Set(['Workload']), [cds, eds]);
    run(next);
    assert.deepEqual([cds.calls, eds.calls], [1, 2]);
    const unannounced = fakeSnapshot(3, content);
    run(unannounced);
    assert.deepEqual([cds.calls, eds.calls], [2, 3]);
  });

  it('encodes a resource object it has seen once', () => {
    const cds = new FakeGenerator(TypeUrl.Cluster, ['DestinationRule']);
    const snapshot = fakeSnapshot(1, content);
    const first = generateResources(cds, proxy, snapshot, 'all');
    const again = generateResources(cds, proxyNamed('b'), snapshot, 'all');
    assert.equal(again.resources[0]?.bytes, first.resources[0]?.bytes);
  });
});

describe('subscriptionKey', () => {
  it('is the same for the same names in any order, and differs from the wildcard', () => {
    assert.equal(subscriptionKey(new Set(['b', 'a'])), subscriptionKey(new Set(['a', 'b'])));
    assert.notEqual(subscriptionKey(new Set(['a'])), subscriptionKey(new Set(['a', 'b'])));
    assert.notEqual(subscriptionKey(new Set()), subscriptionKey('all'));
  });
});
