import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Cluster } from '../../../xds/envoy/index.ts';
import { XdsClusterManager } from '../../upstream/cluster-manager.ts';
import { RecordingStats } from '../../upstream/upstream-test-support.ts';
import { realTimers } from '../../upstream/pools/pool-test-support.ts';
import { bodyText, exchange, forwardTo, realRouter } from './router-test-support.ts';

/** Three upstreams on 127.0.0.1; each answers with its name, or with `status` while it is failing. */
interface Upstream {
  readonly name: string;
  port: number;
  status: number;
  requests: number;
  readonly server: http.Server;
}

async function startUpstream(name: string): Promise<Upstream> {
  const upstream: Upstream = {
    name, port: 0, status: 200, requests: 0,
    server: http.createServer((_req, res) => {
      upstream.requests++;
      res.statusCode = upstream.status;
      res.end(name);
    }),
  };
  upstream.server.listen(0, '127.0.0.1');
  await new Promise((resolve) => upstream.server.once('listening', resolve));
  upstream.port = (upstream.server.address() as AddressInfo).port;
  return upstream;
}

describe('outlier detection over real connections', () => {
  let upstreams: Upstream[];
  let manager: XdsClusterManager;
  let stats: RecordingStats;
  let router: ReturnType<typeof realRouter>;

  const cluster = (outlierDetection: Cluster['outlierDetection']): Cluster => ({
    name: 'reviews',
    type: 'STATIC',
    lbPolicy: 'ROUND_ROBIN',
    connectTimeout: '1s',
    loadAssignment: {
      clusterName: 'reviews',
      endpoints: [{ lbEndpoints: upstreams.map((u) => ({ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: u.port } } } })) }],
    },
    commonLbConfig: { healthyPanicThreshold: { value: 0 } },
    ...(outlierDetection !== undefined && { outlierDetection }),
  });

  before(async () => {
    upstreams = await Promise.all(['v1', 'v2', 'v3'].map(startUpstream));
    stats = new RecordingStats();
    manager = new XdsClusterManager({ stats, timers: realTimers, clock: { now: () => Date.now() }, random: Math.random });
    router = realRouter(manager);
  });

  after(async () => {
    manager.close();
    router.pools.close();
    await Promise.all(upstreams.map((u) => new Promise((resolve) => u.server.close(resolve))));
  });

  const send = async (): Promise<{ status: number; body: string }> => {
    const response = await router.handle(exchange(forwardTo('reviews')));
    return { status: response.status, body: await bodyText(response) };
  };

  it('ejects a host that answered 5 consecutive 5xx: the next requests all go to the others, until the ejection time is over', async () => {
    // Istio's compilation of `consecutive5xxErrors: 5, interval: 100ms, baseEjectionTime: 600ms, maxEjectionPercent: 50`.
    const result = manager.cds.apply({
      resources: new Map([['reviews', cluster({ consecutive5xx: 5, enforcingConsecutive5xx: 100, interval: '0.1s', baseEjectionTime: '0.6s', maxEjectionPercent: 50, enforcingSuccessRate: 0 })]]),
      removed: [],
      version: '1',
    });
    assert.ok(!(result instanceof Promise) && result.ok);
    const failing = upstreams[1]!;
    failing.status = 503;
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) statuses.push((await send()).status);
    assert.equal(failing.requests, 5, 'round robin sent every third request to v2 until its fifth 503');
    assert.equal(statuses.filter((s) => s === 503).length, 5);

    const before = failing.requests;
    const bodies: string[] = [];
    for (let i = 0; i < 20; i++) {
      const reply = await send();
      assert.equal(reply.status, 200);
      bodies.push(reply.body);
    }
    assert.equal(failing.requests, before, 'the ejected host got nothing');
    assert.deepEqual(new Set(bodies), new Set(['v1', 'v3']));
    assert.equal(stats.values.get('cluster.reviews.outlier_detection.ejections_active'), 1);

    failing.status = 200;
    const deadline = Date.now() + 5_000;
    while (failing.requests === before && Date.now() < deadline) {
      await send();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(failing.requests > before, 'back in the rotation after its ejection time');
    assert.equal(stats.values.get('cluster.reviews.outlier_detection.ejections_active'), 0);
  });

  it('counts a refused connection as a 5xx and ejects the host that refuses', async () => {
    const gone = await startUpstream('gone');
    const port = gone.port;
    await new Promise((resolve) => gone.server.close(resolve));
    const config = cluster({ consecutive5xx: 2, interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: 50 });
    const withDead: Cluster = {
      ...config,
      loadAssignment: {
        clusterName: 'reviews',
        endpoints: [{ lbEndpoints: [...config.loadAssignment!.endpoints[0]!.lbEndpoints, { endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: port } } } }] }],
      },
    };
    const result = manager.cds.apply({ resources: new Map([['reviews', withDead]]), removed: [], version: '2' });
    assert.ok(!(result instanceof Promise) && result.ok);
    for (const u of upstreams) u.status = 200;
    const statuses: number[] = [];
    for (let i = 0; i < 24; i++) statuses.push((await send()).status);
    assert.equal(statuses.filter((s) => s === 503).length, 2, 'two connect failures (503 UF), then the dead host is out');
    assert.deepEqual(statuses.slice(-12), Array(12).fill(200));
  });
});
