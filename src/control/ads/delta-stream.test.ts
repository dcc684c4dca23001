import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TypeUrl } from '../../xds/index.ts';
import type { DeltaDiscoveryResponse } from '../../xds/envoy/index.ts';
import { AdsTestBed, cluster, eventually, INITIAL_CONTENT, loadAssignment, testNode, type DeltaTestStream, type FakeMeshContent } from './test-support.ts';

const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';
const RATINGS = 'outbound|9080||ratings.default.svc.cluster.local';
const DETAILS = 'outbound|9080||details.default.svc.cluster.local';

function names(response: DeltaDiscoveryResponse): string[] {
  return (response.resources ?? []).map((r) => r.name ?? '');
}

function ack(stream: DeltaTestStream, response: DeltaDiscoveryResponse): void {
  stream.send({ typeUrl: response.typeUrl ?? '', responseNonce: response.nonce ?? '' });
}

function typeStatus(bed: AdsTestBed, typeUrl: TypeUrl) {
  const status = bed.server.status()[0]?.types.find((t) => t.typeUrl === typeUrl);
  assert.ok(status, `a status for ${typeUrl}`);
  return status;
}

function withClusters(...clusters: ReturnType<typeof cluster>[]): FakeMeshContent {
  return { ...INITIAL_CONTENT, [TypeUrl.Cluster]: clusters };
}

function withEndpoints(...assignments: ReturnType<typeof loadAssignment>[]): FakeMeshContent {
  return { ...INITIAL_CONTENT, [TypeUrl.ClusterLoadAssignment]: assignments };
}

describe('the ADS server, Delta', () => {
  let bed: AdsTestBed;
  beforeEach(async () => {
    bed = await AdsTestBed.start();
  });
  afterEach(async () => {
    await bed.close();
  });

  async function wildcardClusters(): Promise<{ stream: DeltaTestStream; response: DeltaDiscoveryResponse }> {
    const stream = bed.delta();
    stream.send({ node: testNode('reviews-v1'), typeUrl: TypeUrl.Cluster });
    const response = await stream.next();
    ack(stream, response);
    await eventually(() => typeStatus(bed, TypeUrl.Cluster).state === 'SYNCED');
    return { stream, response };
  }

  it('answers an empty first CDS request (the wildcard) with every cluster, each with its own version', async () => {
    const { response } = await wildcardClusters();
    assert.equal(response.typeUrl, TypeUrl.Cluster);
    assert.equal(response.systemVersionInfo, '1');
    assert.deepEqual(names(response), [REVIEWS, RATINGS]);
    assert.equal(response.resources?.[0]?.resource?.['@type'], TypeUrl.Cluster);
    assert.match(response.resources?.[0]?.version ?? '', /^[0-9a-f]{16}$/);
    assert.notEqual(response.resources?.[0]?.version, response.resources?.[1]?.version);
    assert.deepEqual(response.removedResources ?? [], []);
    const status = bed.server.status()[0];
    assert.equal(status?.mode, 'delta');
    assert.equal(typeStatus(bed, TypeUrl.Cluster).wildcard, true);
  });

  it('pushes only the resources that changed, and names those that disappeared', async () => {
    const { stream, response } = await wildcardClusters();
    const ratingsVersion = response.resources?.[1]?.version;
    bed.publish(2, withClusters(cluster(REVIEWS, '5s'), cluster(RATINGS)), new Set(['DestinationRule']));
    bed.time.advance(100);
    const changed = await stream.next();
    assert.equal(changed.systemVersionInfo, '2');
    assert.deepEqual(names(changed), [REVIEWS]);
    assert.equal(changed.resources?.[0]?.resource?.['connectTimeout'], '5s');
    assert.deepEqual(changed.removedResources ?? [], []);
    ack(stream, changed);

    bed.publish(3, withClusters(cluster(REVIEWS, '5s')), new Set(['DestinationRule']));
    bed.time.advance(100);
    const removed = await stream.next();
    assert.deepEqual(names(removed), []);
    assert.deepEqual(removed.removedResources, [RATINGS]);
    ack(stream, removed);

    bed.publish(4, withClusters(cluster(REVIEWS, '5s'), cluster(RATINGS)), new Set(['DestinationRule']));
    bed.time.advance(100);
    const back = await stream.next();
    assert.deepEqual(names(back), [RATINGS]);
    assert.equal(back.resources?.[0]?.version, ratingsVersion, 'a resource version is the hash of its bytes');
    ack(stream, back);

    bed.publish(5, withClusters(cluster(REVIEWS, '5s'), cluster(RATINGS)), new Set(['DestinationRule']));
    bed.time.advance(100);
    await stream.nothingWithin();
  });

  it('sends subscribed names, and names that do not exist in removedResources, once', async () => {
    const stream = bed.delta();
    stream.send({ node: testNode('reviews-v1'), typeUrl: TypeUrl.ClusterLoadAssignment, resourceNamesSubscribe: [REVIEWS, DETAILS] });
    const first = await stream.next();
    assert.deepEqual(names(first), [REVIEWS]);
    assert.deepEqual(first.removedResources, [DETAILS]);
    ack(stream, first);
    await eventually(() => typeStatus(bed, TypeUrl.ClusterLoadAssignment).state === 'SYNCED');
    const status = typeStatus(bed, TypeUrl.ClusterLoadAssignment);
    assert.deepEqual(status.subscribed, [DETAILS, REVIEWS]);
    assert.deepEqual(status.notFound, [DETAILS]);
    assert.equal(status.wildcard, false);

    // Adding a name sends that resource alone; the missing one is not reported again.
    stream.send({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNamesSubscribe: [RATINGS] });
    const added = await stream.next();
    assert.deepEqual(names(added), [RATINGS]);
    assert.deepEqual(added.removedResources ?? [], []);
    ack(stream, added);

    // The missing resource appears.
    bed.publish(2, withEndpoints(loadAssignment(REVIEWS, ['10.0.0.2']), loadAssignment(RATINGS, ['10.0.0.3']), loadAssignment(DETAILS, ['10.0.0.4'])), new Set(['Workload']));
    bed.time.advance(100);
    const appeared = await stream.next();
    assert.deepEqual(names(appeared), [DETAILS]);
    ack(stream, appeared);
    await eventually(() => typeStatus(bed, TypeUrl.ClusterLoadAssignment).notFound.length === 0);
  });

  it('stops sending a resource once unsubscribed, and sends it again on a new subscription', async () => {
    const stream = bed.delta();
    stream.send({ node: testNode('reviews-v1'), typeUrl: TypeUrl.ClusterLoadAssignment, resourceNamesSubscribe: [REVIEWS, RATINGS] });
    ack(stream, await stream.next());
    stream.send({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNamesUnsubscribe: [RATINGS] });
    await stream.nothingWithin();
    assert.deepEqual(typeStatus(bed, TypeUrl.ClusterLoadAssignment).subscribed, [REVIEWS]);

    bed.publish(2, withEndpoints(loadAssignment(REVIEWS, ['10.0.0.2']), loadAssignment(RATINGS, ['10.0.0.99'])), new Set(['Workload']));
    bed.time.advance(100);
    await stream.nothingWithin();

    stream.send({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNamesSubscribe: [RATINGS] });
    const again = await stream.next();
    assert.deepEqual(names(again), [RATINGS]);
    assert.equal(again.systemVersionInfo, '2');
  });

  it('does not resend what a reconnecting proxy already has, and removes what it has that is gone', async () => {
    const { response } = await wildcardClusters();
    const reviewsVersion = response.resources?.[0]?.version ?? '';
    const reconnected = bed.delta();
    reconnected.send({
      node: testNode('reviews-v1'),
      typeUrl: TypeUrl.Cluster,
      initialResourceVersions: { [REVIEWS]: reviewsVersion, [RATINGS]: 'outdated', [DETAILS]: 'gone' },
    });
    const first = await reconnected.next();
    assert.deepEqual(names(first), [RATINGS]);
    assert.deepEqual(first.removedResources, [DETAILS]);
  });

  it('answers a first request even when it has nothing to send', async () => {
    const empty = await AdsTestBed.start({ content: {} });
    try {
      const stream = empty.delta();
      stream.send({ node: testNode('reviews-v1'), typeUrl: TypeUrl.Listener });
      const response = await stream.next();
      assert.deepEqual(response.resources ?? [], []);
      assert.deepEqual(response.removedResources ?? [], []);
      assert.ok(response.nonce);
    } finally {
      await empty.close();
    }
  });

  it('records a NACK with its message, does not send the same refused content again, and resends what the proxy refused once something changes', async () => {
    const stream = bed.delta();
    stream.send({ node: testNode('reviews-v1'), typeUrl: TypeUrl.Cluster });
    const response = await stream.next();
    stream.send({ typeUrl: TypeUrl.Cluster, responseNonce: response.nonce ?? '', errorDetail: { code: 3, message: 'unknown cluster type' } });
    await eventually(() => typeStatus(bed, TypeUrl.Cluster).state === 'ERROR');
    assert.equal(typeStatus(bed, TypeUrl.Cluster).lastNack?.message, 'unknown cluster type');

    bed.publish(2, INITIAL_CONTENT, 'all');
    bed.time.advance(100);
    await stream.nothingWithin();

    bed.publish(3, withClusters(cluster(REVIEWS, '3s'), cluster(RATINGS)), new Set(['ServiceEntry']));
    bed.time.advance(100);
    // The proxy applies a response all or nothing: after the NACK it still lacks RATINGS too.
    const fixed = await stream.next();
    assert.deepEqual(names(fixed).sort(), [RATINGS, REVIEWS].sort());
    ack(stream, fixed);
    await eventually(() => typeStatus(bed, TypeUrl.Cluster).state === 'SYNCED');
  });

  it('applies the subscription changes of a request with a stale nonce, without taking it as an ACK', async () => {
    const stream = bed.delta();
    stream.send({ node: testNode('reviews-v1'), typeUrl: TypeUrl.ClusterLoadAssignment, resourceNamesSubscribe: [REVIEWS] });
    const first = await stream.next();
    stream.send({ typeUrl: TypeUrl.ClusterLoadAssignment, responseNonce: first.nonce ?? '', resourceNamesSubscribe: [RATINGS] });
    const second = await stream.next();
    assert.deepEqual(names(second), [RATINGS]);
    stream.send({ typeUrl: TypeUrl.ClusterLoadAssignment, responseNonce: first.nonce ?? '', resourceNamesUnsubscribe: [REVIEWS] });
    await eventually(() => typeStatus(bed, TypeUrl.ClusterLoadAssignment).subscribed.length === 1);
    assert.deepEqual(typeStatus(bed, TypeUrl.ClusterLoadAssignment).subscribed, [RATINGS]);
    assert.equal(typeStatus(bed, TypeUrl.ClusterLoadAssignment).state, 'STALE');
  });

  it('turns the wildcard on with "*" and off by unsubscribing "*"', async () => {
    const stream = bed.delta();
    stream.send({ node: testNode('reviews-v1'), typeUrl: TypeUrl.Cluster, resourceNamesSubscribe: [REVIEWS] });
    const explicit = await stream.next();
    assert.deepEqual(names(explicit), [REVIEWS]);
    ack(stream, explicit);
    stream.send({ typeUrl: TypeUrl.Cluster, resourceNamesSubscribe: ['*'] });
    const all = await stream.next();
    assert.deepEqual(names(all), [RATINGS]);
    ack(stream, all);
    stream.send({ typeUrl: TypeUrl.Cluster, resourceNamesUnsubscribe: ['*'] });
    await stream.nothingWithin();
    assert.equal(typeStatus(bed, TypeUrl.Cluster).wildcard, false);
    bed.publish(2, withClusters(cluster(REVIEWS), cluster(RATINGS, '9s')), new Set(['DestinationRule']));
    bed.time.advance(100);
    await stream.nothingWithin();
  });
});
