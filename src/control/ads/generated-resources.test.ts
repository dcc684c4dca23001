import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, ProtoJsonError, TypeUrl } from '../../xds/index.ts';
import { generateResources } from './generated-resources.ts';
import { cluster, fakeSnapshot, FakeGenerator, parseTestNode, testNode } from './test-support.ts';

const proxy = (() => {
  const parsed = parseTestNode(testNode('reviews-v1'));
  assert.ok(parsed.ok);
  return parsed.value;
})();

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
