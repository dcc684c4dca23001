import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { TypeUrl, type ProtoJson } from '../../xds/index.ts';
import type { DiscoveryResponse } from '../../xds/envoy/index.ts';
import {
  AdsTestBed,
  cluster,
  eventually,
  INITIAL_CONTENT,
  listener,
  loadAssignment,
  routeConfiguration,
  testNode,
  type FakeMeshContent,
  type SotwTestStream,
} from './test-support.ts';

const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';
const RATINGS = 'outbound|9080||ratings.default.svc.cluster.local';

function names(response: DiscoveryResponse): string[] {
  return (response.resources ?? []).map((r) => String(r['name'] ?? r['clusterName']));
}

function typeStatus(bed: AdsTestBed, typeUrl: TypeUrl, index = 0) {
  const proxy = bed.server.status()[index];
  assert.ok(proxy, 'a connected proxy');
  const status = proxy.types.find((t) => t.typeUrl === typeUrl);
  assert.ok(status, `a status for ${typeUrl}`);
  return status;
}

/** Opens a stream and asks for `typeUrl`, returning the first response. */
async function subscribe(bed: AdsTestBed, typeUrl: TypeUrl, resourceNames: string[] = [], node: ProtoJson = testNode('reviews-v1')): Promise<{ stream: SotwTestStream; response: DiscoveryResponse }> {
  const stream = bed.sotw();
  stream.send({ node, typeUrl, resourceNames });
  return { stream, response: await stream.next() };
}

function ack(stream: SotwTestStream, response: DiscoveryResponse, resourceNames: string[] = []): void {
  stream.send({ typeUrl: response.typeUrl ?? '', versionInfo: response.versionInfo ?? '', responseNonce: response.nonce ?? '', resourceNames });
}

function withClusters(...clusters: ReturnType<typeof cluster>[]): FakeMeshContent {
  return { ...INITIAL_CONTENT, [TypeUrl.Cluster]: clusters };
}

describe('the ADS server, State of the World', () => {
  let bed: AdsTestBed;
  beforeEach(async () => {
    bed = await AdsTestBed.start();
  });
  afterEach(async () => {
    await bed.close();
  });

  it('answers a first wildcard CDS request with every cluster, versioned by the snapshot', async () => {
    const { response } = await subscribe(bed, TypeUrl.Cluster);
    assert.equal(response.typeUrl, TypeUrl.Cluster);
    assert.equal(response.versionInfo, '1');
    assert.ok(response.nonce);
    assert.deepEqual(names(response), [REVIEWS, RATINGS]);
    assert.equal(response.resources?.[0]?.['@type'], TypeUrl.Cluster);
    assert.equal(response.resources?.[0]?.['connectTimeout'], '1s');
  });

  it('answers a first LDS request with no names, or with "*", with every listener', async () => {
    const { stream, response } = await subscribe(bed, TypeUrl.Listener);
    assert.deepEqual(names(response), ['0.0.0.0_9080', 'virtualOutbound']);
    const other = bed.sotw();
    other.send({ node: testNode('ratings-v1'), typeUrl: TypeUrl.Listener, resourceNames: ['*'] });
    assert.deepEqual(names(await other.next()), ['0.0.0.0_9080', 'virtualOutbound']);
    await stream.nothingWithin(50);
  });

  it('sends route configurations by name, leaving out names that do not exist and reporting them as not found', async () => {
    const { response } = await subscribe(bed, TypeUrl.RouteConfiguration, ['9080', '9999']);
    assert.deepEqual(names(response), ['9080']);
    const status = typeStatus(bed, TypeUrl.RouteConfiguration);
    assert.deepEqual(status.subscribed, ['9080', '9999']);
    assert.equal(status.wildcard, false);
    assert.deepEqual(status.notFound, ['9999']);
  });

  it('answers a request that adds a name with the whole new set', async () => {
    const { stream, response } = await subscribe(bed, TypeUrl.RouteConfiguration, ['9080']);
    ack(stream, response, ['9080', 'http.8080']);
    const next = await stream.next();
    assert.deepEqual(names(next), ['9080', 'http.8080']);
    assert.notEqual(next.nonce, response.nonce);
  });

  it('does not answer a request that only drops a name', async () => {
    const { stream, response } = await subscribe(bed, TypeUrl.RouteConfiguration, ['9080', 'http.8080']);
    ack(stream, response, ['9080']);
    await stream.nothingWithin();
    assert.deepEqual(typeStatus(bed, TypeUrl.RouteConfiguration).subscribed, ['9080']);
  });

  it('reports a type as STALE until the proxy ACKs it, then SYNCED, and types never asked for as NOT SENT', async () => {
    const { stream, response } = await subscribe(bed, TypeUrl.Cluster);
    const before = typeStatus(bed, TypeUrl.Cluster);
    assert.equal(before.state, 'STALE');
    assert.equal(before.lastSent?.version, '1');
    assert.equal(before.lastSent?.nonce, response.nonce);
    assert.equal(before.lastSent?.resourceCount, 2);
    assert.equal(before.ackedVersion, undefined);
    ack(stream, response);
    await eventually(() => typeStatus(bed, TypeUrl.Cluster).state === 'SYNCED');
    assert.equal(typeStatus(bed, TypeUrl.Cluster).ackedVersion, '1');
    assert.equal(typeStatus(bed, TypeUrl.Listener).state, 'NOT SENT');
    assert.deepEqual(bed.server.status()[0]?.types.map((t) => t.type), ['CDS', 'EDS', 'LDS', 'RDS']);
    await stream.nothingWithin(50);
  });

  it('records a NACK with its message, reports ERROR, and does not send the refused set again', async () => {
    const { stream, response } = await subscribe(bed, TypeUrl.Cluster);
    stream.send({ typeUrl: TypeUrl.Cluster, versionInfo: '', responseNonce: response.nonce ?? '', errorDetail: { code: 3, message: 'cluster reviews: bad connect timeout' } });
    await eventually(() => typeStatus(bed, TypeUrl.Cluster).state === 'ERROR');
    const status = typeStatus(bed, TypeUrl.Cluster);
    assert.equal(status.lastNack?.message, 'cluster reviews: bad connect timeout');
    assert.equal(status.lastNack?.nonce, response.nonce);
    assert.equal(status.lastNack?.version, '1');
    assert.equal(status.lastNack?.time, bed.time.now());
    assert.ok(bed.logger.entries.some((e) => e.level === 'warn' && e.fields['message'] === 'cluster reviews: bad connect timeout'));

    // A change that leaves the clusters as they were does not repeat the refused set.
    bed.publish(2, INITIAL_CONTENT, new Set(['DestinationRule']));
    bed.time.advance(100);
    await stream.nothingWithin();

    // A change that alters them is sent.
    bed.publish(3, withClusters(cluster(REVIEWS, '2s')), new Set(['DestinationRule']));
    bed.time.advance(100);
    const fixed = await stream.next();
    assert.equal(fixed.versionInfo, '3');
    assert.deepEqual(names(fixed), [REVIEWS]);
    assert.equal(typeStatus(bed, TypeUrl.Cluster).state, 'STALE');
    ack(stream, fixed);
    await eventually(() => typeStatus(bed, TypeUrl.Cluster).state === 'SYNCED');
    assert.equal(typeStatus(bed, TypeUrl.Cluster).lastNack?.message, 'cluster reviews: bad connect timeout');
  });

  it('ignores a request whose nonce is not the last one sent', async () => {
    const { stream, response } = await subscribe(bed, TypeUrl.RouteConfiguration, ['9080']);
    ack(stream, response, ['9080', 'http.8080']);
    const second = await stream.next();
    // An answer to the first response, arriving late: neither an ACK nor a subscription.
    stream.send({ typeUrl: TypeUrl.RouteConfiguration, versionInfo: response.versionInfo ?? '', responseNonce: response.nonce ?? '', resourceNames: ['9080'] });
    await stream.nothingWithin();
    const status = typeStatus(bed, TypeUrl.RouteConfiguration);
    assert.deepEqual(status.subscribed, ['9080', 'http.8080']);
    assert.equal(status.state, 'STALE');
    assert.equal(status.lastSent?.nonce, second.nonce);
  });

  it('pushes only the types a change affects, and only to the proxies whose resources it changes', async () => {
    const content: FakeMeshContent = { ...INITIAL_CONTENT, [TypeUrl.ClusterLoadAssignment]: [loadAssignment(REVIEWS, ['10.0.0.2'], 'default'), loadAssignment(REVIEWS, ['10.1.0.2'], 'shop')] };
    bed.publish(2, content, 'all');
    bed.time.advance(100);
    const streams: SotwTestStream[] = [];
    for (const namespace of ['default', 'shop']) {
      const stream = bed.sotw();
      stream.send({ node: testNode('client', namespace), typeUrl: TypeUrl.Cluster });
      ack(stream, await stream.next());
      stream.send({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNames: [REVIEWS] });
      const endpoints = await stream.next();
      assert.equal(endpoints.resources?.length, 1);
      ack(stream, endpoints, [REVIEWS]);
      streams.push(stream);
    }
    const [inDefault, inShop] = streams as [SotwTestStream, SotwTestStream];
    const cdsCalls = bed.generators.cds.calls;

    const moved: FakeMeshContent = { ...content, [TypeUrl.ClusterLoadAssignment]: [loadAssignment(REVIEWS, ['10.0.0.9'], 'default'), loadAssignment(REVIEWS, ['10.1.0.2'], 'shop')] };
    bed.publish(3, moved, new Set(['Workload']));
    bed.time.advance(100);
    const pushed = await inDefault.next();
    assert.equal(pushed.typeUrl, TypeUrl.ClusterLoadAssignment);
    assert.equal(pushed.versionInfo, '3');
    assert.deepEqual(pushed.resources?.[0]?.['endpoints'], [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.0.0.9', portValue: 8080 } } } }] }]);
    await inShop.nothingWithin();
    await inDefault.nothingWithin(0);
    assert.equal(bed.generators.cds.calls, cdsCalls, 'CDS is not generated for a change of workloads');
  });

  it('collapses a burst of changes into one push, after the quiet period', async () => {
    const { stream, response } = await subscribe(bed, TypeUrl.Cluster);
    ack(stream, response);
    bed.publish(2, withClusters(cluster(REVIEWS, '2s')), new Set(['DestinationRule']));
    bed.time.advance(60);
    bed.publish(3, withClusters(cluster(REVIEWS, '3s')), new Set(['DestinationRule']));
    bed.time.advance(60);
    bed.publish(4, withClusters(cluster(REVIEWS, '4s')), new Set(['ServiceEntry']));
    bed.time.advance(99);
    await stream.nothingWithin(100);
    bed.time.advance(1);
    const pushed = await stream.next();
    assert.equal(pushed.versionInfo, '4');
    assert.equal(pushed.resources?.[0]?.['connectTimeout'], '4s');
    await stream.nothingWithin();
  });

  it('pushes a steady stream of changes no later than the maximum delay after the first', async () => {
    const { stream, response } = await subscribe(bed, TypeUrl.Cluster);
    ack(stream, response);
    for (let i = 0; i < 20; i += 1) {
      bed.publish(2 + i, withClusters(cluster(REVIEWS, `${2 + i}s`)), new Set(['DestinationRule']));
      bed.time.advance(50);
    }
    // The first change came 1000 ms ago (the 20th advance reached it).
    const pushed = await stream.next();
    assert.equal(pushed.versionInfo, '21');
  });

  it('pushes the types of a change in the order CDS, EDS, LDS, RDS', async () => {
    const stream = bed.sotw();
    stream.send({ node: testNode('reviews-v1'), typeUrl: TypeUrl.RouteConfiguration, resourceNames: ['9080'] });
    ack(stream, await stream.next(), ['9080']);
    stream.send({ typeUrl: TypeUrl.Listener });
    ack(stream, await stream.next());
    stream.send({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNames: [REVIEWS] });
    ack(stream, await stream.next(), [REVIEWS]);
    stream.send({ typeUrl: TypeUrl.Cluster });
    ack(stream, await stream.next());
    bed.publish(2, {
      [TypeUrl.Cluster]: [cluster(REVIEWS, '5s')],
      [TypeUrl.ClusterLoadAssignment]: [loadAssignment(REVIEWS, ['10.0.0.7'])],
      [TypeUrl.Listener]: [listener('0.0.0.0_9080', 9080)],
      [TypeUrl.RouteConfiguration]: [routeConfiguration('9080', 'reviews')],
    }, 'all');
    bed.time.advance(100);
    const order: string[] = [];
    for (let i = 0; i < 4; i += 1) order.push((await stream.next()).typeUrl ?? '');
    assert.deepEqual(order, [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration]);
  });

  it('answers new streams from the newest snapshot before the debounced push', async () => {
    bed.publish(2, withClusters(cluster(REVIEWS)), new Set(['DestinationRule']));
    const { response } = await subscribe(bed, TypeUrl.Cluster);
    assert.equal(response.versionInfo, '2');
    assert.deepEqual(names(response), [REVIEWS]);
  });

  it('keeps the last resources sent to each proxy for config dumps', async () => {
    const { response } = await subscribe(bed, TypeUrl.RouteConfiguration, ['9080']);
    const proxyId = String(testNode('reviews-v1')['id']);
    await eventually(() => bed.server.resources(proxyId, TypeUrl.RouteConfiguration) !== undefined);
    const sent = bed.server.resources(proxyId, TypeUrl.RouteConfiguration);
    assert.deepEqual(sent?.map((r) => r.name), ['9080']);
    assert.deepEqual(sent?.[0]?.resource, routeConfiguration('9080', 'reviews.default.svc.cluster.local').resource);
    assert.match(sent?.[0]?.version ?? '', /^[0-9a-f]{16}$/);
    assert.equal(response.resources?.length, 1);
    assert.equal(bed.server.resources(proxyId, TypeUrl.Cluster), undefined);
    assert.equal(bed.server.resources('someone-else', TypeUrl.RouteConfiguration), undefined);
  });

  it('logs a generator that fails and keeps the stream serving other types', async () => {
    bed.publish(2, { ...INITIAL_CONTENT, [TypeUrl.Listener]: [listener('twice', 1), listener('twice', 2)] }, 'all');
    const stream = bed.sotw();
    stream.send({ node: testNode('reviews-v1'), typeUrl: TypeUrl.Listener });
    await stream.nothingWithin();
    const failure = bed.logger.entries.find((e) => e.level === 'error');
    assert.equal(failure?.message, 'generating resources failed');
    assert.equal(failure?.fields['type'], 'LDS');
    assert.match(String(failure?.fields['error']), /two resources named "twice"/);
    stream.send({ typeUrl: TypeUrl.Cluster });
    assert.equal((await stream.next()).typeUrl, TypeUrl.Cluster);
    assert.equal(typeStatus(bed, TypeUrl.Listener).state, 'NOT SENT');
  });

  it('ignores a type it does not serve, once warning about it', async () => {
    const stream = bed.sotw();
    stream.send({ node: testNode('reviews-v1'), typeUrl: TypeUrl.Secret, resourceNames: ['default'] });
    stream.send({ typeUrl: TypeUrl.Secret, resourceNames: ['ROOTCA'] });
    stream.send({ typeUrl: TypeUrl.Cluster });
    assert.equal((await stream.next()).typeUrl, TypeUrl.Cluster);
    assert.equal(bed.logger.entries.filter((e) => e.message.includes('does not serve')).length, 1);
  });
});

describe('the ADS server, connections', () => {
  let bed: AdsTestBed;
  beforeEach(async () => {
    bed = await AdsTestBed.start();
  });
  afterEach(async () => {
    await bed.close();
  });

  it('announces a proxy on its first request and its departure when the stream ends', async () => {
    const { stream } = await subscribe(bed, TypeUrl.Cluster, [], testNode('reviews-v1', 'shop'));
    assert.equal(bed.connected.length, 1);
    const [{ proxy, connectionId }] = bed.connected as [(typeof bed.connected)[number]];
    assert.equal(proxy.namespace, 'shop');
    assert.equal(bed.server.status()[0]?.connectionId, connectionId);
    assert.equal(bed.server.status()[0]?.proxyId, proxy.id);
    assert.equal(bed.server.status()[0]?.mode, 'sotw');
    stream.end();
    assert.equal((await stream.status).code, grpc.status.OK);
    await eventually(() => bed.disconnected.length === 1);
    assert.deepEqual(bed.disconnected, [connectionId]);
    assert.deepEqual(bed.server.status(), []);
  });

  it('announces the departure of a proxy that cancels its stream', async () => {
    const { stream } = await subscribe(bed, TypeUrl.Cluster);
    stream.cancel();
    await eventually(() => bed.disconnected.length === 1);
    assert.equal(bed.disconnected[0], bed.connected[0]?.connectionId);
  });

  it('gives each stream its own connection id, even for one proxy', async () => {
    await subscribe(bed, TypeUrl.Cluster);
    await subscribe(bed, TypeUrl.Cluster);
    const ids = bed.connected.map((c) => c.connectionId);
    assert.equal(new Set(ids).size, 2);
    assert.equal(bed.server.status().length, 2);
  });

  it('refuses a stream whose first request has no node, or a node the parser refuses', async () => {
    const without = bed.sotw();
    without.send({ typeUrl: TypeUrl.Cluster });
    const status = await without.status;
    assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(status.details, 'the first request of a stream must carry the node');
    const bad = bed.sotw();
    bad.send({ node: { cluster: 'x' }, typeUrl: TypeUrl.Cluster });
    assert.equal((await bad.status).details, 'the node has no id');
    assert.deepEqual(bed.connected, []);
  });

  it('ends every stream and stops its timers on close', async () => {
    const { stream } = await subscribe(bed, TypeUrl.Cluster);
    bed.publish(2, INITIAL_CONTENT, 'all');
    assert.equal(bed.time.pendingTimers, 1);
    await bed.server.close();
    assert.equal((await stream.status).code, grpc.status.OK);
    assert.equal(bed.time.pendingTimers, 0);
    assert.equal(bed.snapshots.subscribers, 0);
    assert.equal(bed.disconnected.length, 1);
  });
});
